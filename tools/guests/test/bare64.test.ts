/**
 * The 64-bit (long-mode) guests on a bare x86emu `Cpu` (issue 10's end-to-end check): each must
 * end as its manifest entry says, failing exactly the known deviations below, and print what the
 * host engine prints where it can run the guest. The 32-bit guests are bare.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  type BareReport,
  engineAvailability,
  GUESTS,
  type GuestReport,
  hostKvmFlavor,
  hostQuirks,
  runGuestReport,
  runOnBareCpu,
} from '../src/index.js';
import { BARE_DEVIATIONS, type BareDeviation } from './bare-deviations.js';

// Not the 'pc-platform' ones: the bare machine has no ACPI, no pc-testdev, no port 0x61 PIT gate.
const LONG_GUESTS = GUESTS.filter(
  (g) => g.kind === 'test' && g.bits === 64 && !g.needs.includes('pc-platform'),
);
const kvm = await engineAvailability('kvm');

/** Known differences of the bare machine, asserted exactly (shrink the list when x86emu is fixed). */
const BARE64_DEVIATIONS: Readonly<Record<string, BareDeviation>> = {
  apic64: BARE_DEVIATIONS.apic,
  ioapic64: BARE_DEVIATIONS.ioapic,
  nmi64: BARE_DEVIATIONS.nmi,
  hpet64: BARE_DEVIATIONS.hpet,
  cr3oob64: {
    checks: ['cr3oob.pml4e-beyond-memory.error-code'],
    reason:
      'machine, not x86emu: unbacked memory reads as all ones, so a PML4E pointing beyond RAM leads to a ' +
      'present entry with reserved bits (#PF error 0x9, P|RSVD), as hardware without a hypervisor gives; KVM ' +
      'reports not-present (0)',
  },
};

describe('the 64-bit guests on a bare x86emu Cpu', () => {
  it('covers the long-mode guests', () => {
    expect(LONG_GUESTS.map((g) => g.name)).toEqual(
      expect.arrayContaining(['long', 'mmu64', 'paging64', 'exceptions64', 'interrupts64', 'cpu64']),
    );
  });

  for (const g of LONG_GUESTS) {
    const dev = BARE64_DEVIATIONS[g.name];
    const unmet = g.needs.find((n) => hostQuirks().unsupported[n] !== undefined);
    const referee = kvm.available && unmet === undefined;
    it(`${g.name} ends with ${g.expect}${dev ? ` (except ${dev.checks.length} known deviations)` : ''}${
      referee ? ', printing what the host engine prints' : ''
    }`, async () => {
      const bare: BareReport = await runOnBareCpu(g, { timeoutMs: 60_000 });
      const expected = [...(dev?.checks ?? [])].sort();
      expect(bare.failed.map((f) => f.name).sort(), `${g.name} on the bare Cpu\n${bare.serial}`).toEqual(
        expected,
      );
      expect(bare.ending, `${bare.detail ?? ''}\n${bare.serial}`).toBe(
        g.expect === 'shutdown' ? 'shutdown' : 'debug-exit',
      );
      if (!referee) {
        console.warn(
          `${g.name}: serial comparison skipped: ${kvm.available ? `${hostKvmFlavor()}: ${unmet}` : kvm.reason}`,
        );
        return;
      }
      const r: GuestReport = await runGuestReport(g, { accel: 'kvm', timeoutMs: 60_000 });
      expect(r.ending, r.serial).toBe(bare.ending);
      // The host's own deviations (engines.ts: it fails them, real hardware and x86emu pass them)
      // and the checks only one side's CPUID runs are left out of the comparison, with the
      // SUMMARY whose counts they change: SMEP/SMAP (the host has them, x86emu does not) and
      // 1 GiB pages (x86emu has them, kvm-pvm's CPUID does not).
      const hostDev = hostQuirks().deviations[g.name] ?? [];
      expect(
        r.failed.map((f) => f.name).filter((n) => !hostDev.includes(n) && !expected.includes(n)),
        `the host engine fails ${g.name} itself\n${r.serial}`,
      ).toEqual([]);
      for (const n of hostDev) expect(bare.failed.map((f) => f.name)).not.toContain(n);
      const ignored = [...expected, ...hostDev];
      const cpuidOnly = /smep-smap|long\.1g-page/;
      const drop = (s: string) =>
        s
          .split('\n')
          .filter((l) => !ignored.some((c) => l.startsWith(`FAIL ${c}`) || l.startsWith(`PASS ${c}`)))
          .filter((l) => !cpuidOnly.test(l))
          .filter((l) => !l.startsWith('SUMMARY '))
          .join('\n');
      if (dev?.serialDiffers) {
        const from = dev.differsFrom ?? `^(PASS|FAIL) ${dev.checks[0]}\\b`;
        const upTo = (s: string) => s.slice(0, s.search(new RegExp(from, 'm')));
        expect(upTo(bare.serial), dev.serialDiffers).toBe(upTo(r.serial));
        return;
      }
      expect(drop(bare.serial)).toBe(drop(r.serial));
    }, 180_000);
  }
});
