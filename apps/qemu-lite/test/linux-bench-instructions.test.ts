/**
 * What the Linux boot bench (bench/linux-boot.mjs) reads besides the clock: `-d exits` on the
 * software engine ends with the guest instructions the engine retired (its Vm.getStats()
 * counter), which the bench prints beside the boot time, after the engine's other counters
 * (exits by VMX/SVM reason, shadow-MMU work). Checked on a small guest of our own.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuGuestMissing as missing, runCpuGuestWithExits as runWithExits } from './helpers.js';

describe.each(['vmx', 'svm'])('-d exits on -accel %s', (accel) => {
  // One run of the guest per engine serves both checks.
  let r: ReturnType<typeof runWithExits>;
  beforeAll(() => {
    if (missing === '') r = runWithExits(accel);
  }, 60_000);

  it.skipIf(missing !== '')(`ends with the guest instructions retired${missing}`, () => {
    expect(r.stdout).toContain('SUMMARY cpu:');
    const m = / guest instructions retired (\d+)\n$/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    // The guest runs tens of thousands of instructions at least (34 checks, a timing loop).
    expect(Number(m![1])).toBeGreaterThan(10_000);
  });

  it.skipIf(missing !== '')(`prints the engine's own counters under the table${missing}`, () => {
    const lines = r.stderr.split('\n');
    const engine = lines.filter((l) => l.startsWith(' engine '));
    // One line per counter, sorted by name, none of them zero.
    const names = engine.map((l) => l.split(' ')[2]);
    expect(names).toEqual([...names].sort());
    expect(
      engine.every((l) => / [1-9]\d*$/.test(l)),
      engine.join('\n'),
    ).toBe(true);
    // The engine's count of I/O exits to userspace is the table's IO row: the two agree.
    const io = / IO +(\d+) /.exec(r.stderr);
    const exitsIo = / engine exits_io (\d+)\n/.exec(r.stderr);
    expect(io, r.stderr).not.toBeNull();
    expect(exitsIo?.[1]).toBe(io?.[1]);
    // The instructions stay on their own line, last, where the Linux bench reads them.
    expect(names).not.toContain('instructions');
    const lastEngine = lines.length - 1 - [...lines].reverse().findIndex((l) => l.startsWith(' engine '));
    expect(lastEngine).toBeLessThan(lines.findIndex((l) => l.startsWith(' guest instructions retired')));
  });
});
