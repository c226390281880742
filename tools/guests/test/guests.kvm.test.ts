/**
 * Every guest on every engine. The host engine (kvm) is the referee: each guest must end as its
 * manifest entry says, with every check passing, except for the deviations HOST_QUIRKS records
 * for this host's KVM (asserted exactly, so a change in either direction is noticed). The
 * software engines (vmx, svm) must pass too, and print exactly the serial output the host
 * engine printed (the differential test). Engines that are not available here are skipped
 * with the reason.
 */
import { describe, expect, it } from 'vitest';
import {
  ACCELS,
  engineAvailability,
  engineQuirks,
  GUESTS,
  type GuestInfo,
  type GuestReport,
  hostKvmFlavor,
  hostQuirks,
  runGuestReport,
  svmNptDefault,
} from '../src/index.js';

// GUESTS_ACCELS=kvm,vmx limits the engines (default: every engine qemu-lite has).
const wanted = process.env.GUESTS_ACCELS?.split(',') ?? [...ACCELS];
const availability = Object.fromEntries(
  await Promise.all(
    ACCELS.map(async (a) => {
      const avail = wanted.includes(a)
        ? await engineAvailability(a)
        : { available: false, reason: 'not in GUESTS_ACCELS' };
      return [a, avail] as const;
    }),
  ),
);
// Each guest finishes in a few seconds on the host engine; the software engine interprets every
// instruction, so it gets more room, but a hung guest must not hold CI for long.
const TIMEOUT_MS: Record<string, number> = { kvm: 30_000, vmx: 20_000, svm: 20_000 };
const quirks = hostQuirks();
const hostSerial = new Map<string, string>();
// The paging svm runs with when the run does not choose (qemu-lite's default), for its deviations.
const svmNpt = availability.svm.available ? await svmNptDefault() : false;
const quirksOf = (accel: string) => engineQuirks(accel, accel === 'svm' && svmNpt);

/** Why an engine cannot run a guest at all (a need it lacks), or undefined. */
function unsupportedOn(accel: string, g: GuestInfo): string | undefined {
  for (const need of g.needs) {
    const why = quirksOf(accel).unsupported[need];
    if (why) return accel === 'kvm' ? `${hostKvmFlavor()}: ${why}` : why;
  }
  return undefined;
}

function expectOutcome(r: GuestReport, deviations: readonly string[]): void {
  const failedNames = r.failed.map((f) => f.name).sort();
  expect(failedNames, `${r.guest} on ${r.accel}: failed checks\n${r.serial}`).toEqual([...deviations].sort());
  if (r.expected === 'shutdown') {
    expect(r.ending, r.serial).toBe('shutdown');
  } else if (r.expected === 'poweroff') {
    // ACPI S5: the VMM exits with status 0; the guest printed its summary first.
    expect(r.ending, `${r.detail ?? ''}\n${r.serial}`).toBe('poweroff');
    expect(r.status).toBe(0);
    expect(r.summary?.failed).toBe(deviations.length);
  } else {
    expect(r.ending, `${r.detail ?? ''}\n${r.serial}`).toBe('debug-exit');
    // The guest writes its failure count: status (failures << 1) | 1.
    expect(r.status).toBe((deviations.length << 1) | 1);
    if (r.summary) expect(r.summary.failed).toBe(deviations.length);
  }
  if (r.passed.length + r.failed.length > 0) expect(r.passed.length).toBeGreaterThan(0);
}

// (CPUID leaf 0x15's TSC frequency: the software engine advertises it, kvm-pvm's CPUID does not.)
const CPUID_ONLY = /smep-smap|long\.1g-page|cpuid\.leaf7|cpuid\.leaf15/;
function cpuidNeutral(serial: string): string {
  return serial
    .split('\n')
    .filter((l) => !CPUID_ONLY.test(l) && !l.startsWith('SUMMARY '))
    .join('\n');
}

function checkGuestSpecific(g: GuestInfo, r: GuestReport): void {
  if (g.name === 'demo') {
    const lines = r.serial.split('\n');
    expect(lines.some((l) => l.includes('a tiny multitasking kernel'))).toBe(true);
    expect(lines.filter((l) => /^ {2}\[(alpha|bravo|charlie|delta)\] turn [123]:/.test(l))).toHaveLength(12);
    expect(lines.some((l) => l.startsWith('all 4 tasks finished'))).toBe(true);
  }
  if (g.name === 'io' || g.name === 'io64') expect(r.serial).toContain('io: rep outsb reached the console\n');
  if (g.kind === 'bench')
    expect(r.serial).toMatch(new RegExp(`^${g.name}: iterations=\\d+ .*checksum=0x[0-9a-f]+$`, 'm'));
  if (g.kind === 'test' && g.expect === 'pass') expect(r.summary, r.serial).toBeDefined();
}

for (const accel of ACCELS) {
  const avail = availability[accel];
  describe.skipIf(!avail.available)(
    `on ${accel}${avail.available ? '' : ` (skipped: ${avail.reason})`}`,
    () => {
      for (const g of GUESTS) {
        const why = unsupportedOn(accel, g);
        it.skipIf(why !== undefined)(
          `${g.name} ends with ${g.expect}${why ? ` (skipped: ${why})` : ''}`,
          async () => {
            const r = await runGuestReport(g, { accel, timeoutMs: TIMEOUT_MS[accel] });
            const deviations = quirksOf(accel).deviations[g.name] ?? [];
            expectOutcome(r, deviations);
            checkGuestSpecific(g, r);
            if (accel === 'kvm') hostSerial.set(g.name, r.serial);
            else {
              const ref = hostSerial.get(g.name);
              // The differential test: byte-identical console output, where the host ran the guest
              // without deviations (a deviation changes a FAIL line the software engine must not copy).
              // Lines only one side's CPUID produces are left out, with the SUMMARY whose counts
              // they change: SMEP/SMAP (the host has them, the silicon models do not) and 1 GiB
              // pages (x86emu has them, kvm-pvm's CPUID does not), as bare64.test.ts does.
              if (ref !== undefined && (quirks.deviations[g.name] ?? []).length === 0)
                expect(cpuidNeutral(r.serial)).toBe(cpuidNeutral(ref));
            }
          },
          120_000,
        );
      }
    },
  );
}

// cr3oob's MOV CR3 with a reserved bit in a PAE PDPTE on each paging of the software engine,
// whatever qemu-lite's default: #GP(0) where the CPU loads PDPTE registers (vmx; svm's shadow
// MMU), and under AMD nested paging, which has none, a #PF with P | RSVD at the first access
// through the entry (SVM_NPT_ENGINE_QUIRKS).
describe.skipIf(!availability.svm.available || !availability.vmx.available)(
  `cr3oob's reserved PDPTE by paging${availability.svm.available && availability.vmx.available ? '' : ' (skipped: vmx or svm is not available here)'}`,
  () => {
    const cr3oob = GUESTS.find((g) => g.name === 'cr3oob')!;
    for (const [accel, npt, outcome] of [
      ['vmx', undefined, '#GP at MOV CR3'],
      ['svm', false, '#GP at MOV CR3'],
      ['svm', true, '#PF (P | RSVD) at the first walk through the PDPTE'],
    ] as const) {
      it(`on ${accel}${npt === undefined ? '' : `,npt=${npt ? 'on' : 'off'}`} is ${outcome}`, async () => {
        const r = await runGuestReport(cr3oob, { accel, npt, timeoutMs: TIMEOUT_MS[accel] });
        expectOutcome(r, engineQuirks(accel, npt ?? false).deviations.cr3oob ?? []);
        const walk = ['walk-pf', 'walk-error-code', 'walk-cr2'].map((c) => `cr3oob.pae.reserved-pdpte-${c}`);
        const gp = ['cr3oob.pae.cr3-unchanged', 'cr3oob.pae.beyond-memory-gp'];
        if (npt) {
          expect(r.passed).toEqual(expect.arrayContaining(walk));
          expect(r.skipped.map((s) => s.name)).toEqual(['cr3oob.pae.beyond-memory-gp']);
        } else {
          expect(r.passed).toEqual(expect.arrayContaining(gp));
          expect(r.passed.filter((p) => walk.includes(p))).toEqual([]);
        }
      }, 60_000);
    }
  },
);
