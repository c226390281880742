/**
 * `-icount shift=N` determinism on whole guests (issue 13): tools/guests' guests whose course
 * depends on time — the demo's four tasks preempted by the PIT, the PM timer against PIT channel
 * 2 and the TSC, the local APIC timer in its three modes, the HPET against the PM timer — run
 * twice on each software engine with the same shift print byte-identical console output and end
 * the same way with the same number of exits of each kind, every check passing (their clocks all
 * count retired instructions).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type GuestResult, runGuest } from '../../src/index.js';

const image = (name: string): string =>
  fileURLToPath(new URL(`../../../../tools/guests/out/${name}.elf`, import.meta.url));
const built = existsSync(image('pmtimer64'));
const notBuilt = built
  ? ''
  : ' (skipped: tools/guests is not built: pnpm turbo run build --filter=@kvm/guests)';

const GUESTS = ['demo', 'pmtimer64', 'apic64', 'hpet64'] as const;
// 2^10 ns per instruction: the guests poll their timers through exits for ~100 ms of virtual time
// (at shift=3 that is millions of exits, minutes per run).
const SHIFT = 10;

const run = (name: string, accel: string): Promise<GuestResult> =>
  runGuest({
    kernel: image(name),
    accel,
    memory: '64M',
    icount: { shift: SHIFT },
    timeoutMs: 120_000,
    noReboot: true,
  });

const exitCounts = (r: GuestResult): [string, number][] =>
  r.stats.rows.filter((row) => !/kick|signal|intr/i.test(row.reason)).map((row) => [row.reason, row.count]);

describe.each(['vmx', 'svm'])(`-icount shift=${SHIFT} on -accel %s`, (accel) => {
  for (const name of GUESTS) {
    it.skipIf(!built)(
      `${name}: two runs print the same and end the same, no check failing${notBuilt}`,
      async () => {
        const a = await run(name, accel);
        const b = await run(name, accel);
        expect(a.exitReason, a.serial).toEqual({ kind: 'debug-exit', status: 1 });
        expect(a.serial).not.toMatch(/^FAIL /m);
        expect(b.exitReason).toEqual(a.exitReason);
        expect(b.serial).toBe(a.serial);
        // The same course, not only the same text: every exit reason as often (the timer service's
        // kicks aside: they come from the host's clock and only make a run return to the loop).
        expect(exitCounts(b)).toEqual(exitCounts(a));
      },
      300_000,
    );
  }
});
