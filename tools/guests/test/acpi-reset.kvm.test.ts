/**
 * The `acpi` guests' second and third runs (issue 13): after the same table checks as their
 * power-off run (guests.kvm.test.ts), `-append reset=1` writes the FADT's RESET_VALUE to its
 * RESET_REG and `reset=2` drives PIIX's reset control at 0xcf9 as Linux's `reboot=pci` does; the
 * machine must reset (qemu-lite with -no-reboot: exitReason 'reset', the tests' 'shutdown'),
 * with no failed check, on every engine, printing what the host engine prints.
 */
import { describe, expect, it } from 'vitest';
import { ACCELS, engineAvailability, type GuestReport, runGuestReport } from '../src/index.js';

const availability = Object.fromEntries(
  await Promise.all(ACCELS.map(async (a) => [a, await engineAvailability(a)] as const)),
);
const RESETS = [
  ['1', 'the FADT reset register', 'acpi: reset through the FADT'],
  ['2', 'port 0xcf9', 'acpi: reset through port 0xcf9'],
] as const;
const host = new Map<string, Promise<GuestReport>>();

function run(guest: string, accel: string, how: string): Promise<GuestReport> {
  const go = () => runGuestReport(guest, { accel, append: `reset=${how}`, timeoutMs: 60_000 });
  if (accel !== 'kvm') return go();
  const key = `${guest}/${how}`;
  let r = host.get(key);
  if (r === undefined) {
    r = go();
    host.set(key, r);
  }
  return r;
}

// (CPUID leaf 0x15's TSC frequency aside, the acpi guests print no CPUID-dependent line.)
const withoutSummary = (s: string) =>
  s
    .split('\n')
    .filter((l) => !l.startsWith('SUMMARY '))
    .join('\n');

for (const accel of ACCELS) {
  const avail = availability[accel];
  describe.skipIf(!avail.available)(
    `acpi resets on ${accel}${avail.available ? '' : ` (skipped: ${avail.reason})`}`,
    () => {
      for (const guest of ['acpi', 'acpi64'])
        for (const [how, what, line] of RESETS)
          it(`${guest} -append reset=${how}: ${what} resets the machine`, { timeout: 120_000 }, async () => {
            const r = await run(guest, accel, how);
            expect(r.ending, `${r.detail ?? ''}\n${r.serial}`).toBe('shutdown');
            expect(r.detail).toBe('port 0xcf9 reset');
            expect(r.serial).toContain(`${line}`);
            expect(r.failed, r.serial).toEqual([]);
            expect(r.passed.length).toBeGreaterThan(40);
            if (accel === 'kvm' || !availability.kvm.available) return;
            const ref = await run(guest, 'kvm', how);
            expect(withoutSummary(r.serial)).toBe(withoutSummary(ref.serial));
          });
    },
  );
}
