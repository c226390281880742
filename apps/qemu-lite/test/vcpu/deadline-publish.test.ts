/**
 * The vCPU loop tells the main thread's timer service when to kick it (src/vcpu/vcpu-loop.ts
 * `publish`): the earlier of the next timer edge and the time held serial output is due. Each
 * publication is an atomic notify that wakes the main thread, so it happens at most once a turn of
 * the loop, and only when the deadline changed. Publishing the timer's deadline and then the
 * output's, two different values, made it two a turn while output was held: twice an exit for a
 * guest printing on the UART, ~1 % of the vCPU thread in Debian's boot.
 */
import { describe, expect, it } from 'vitest';
import { cpuGuestMissing as missing, runCpuGuestWithExits } from '../helpers.js';

describe.each(['vmx', 'svm'])('timer deadlines on -accel %s', (accel) => {
  it.skipIf(missing !== '')(`are published at most once a turn while output is held${missing}`, () => {
    const r = runCpuGuestWithExits(accel);
    expect(r.stdout).toContain('SUMMARY cpu:');
    const io = Number(/ IO +(\d+) /.exec(r.stderr)?.[1]);
    const exits = Number(/ Total +(\d+) /.exec(r.stderr)?.[1]);
    const published = Number(/ timer deadlines published (\d+)/.exec(r.stderr)?.[1]);
    // The UART's bytes are most of the exits, and the output they make is held over the runs.
    expect(io, r.stderr).toBeGreaterThan(100);
    expect(published, r.stderr).toBeGreaterThanOrEqual(1);
    // A turn per KVM_RUN (each ends in an exit, the last in the guest's own), and no halts here.
    expect(published, r.stderr).toBeLessThanOrEqual(exits + 1);
  });
});
