/**
 * Where the 32-bit guests on the bare x86emu machine (`runOnBareCpu`) are known to differ from
 * the referee engine, each with the reason. bare.test.ts asserts these lists EXACTLY: a check
 * that starts passing fails the test as surely as a new failure does, so shrink the list when
 * x86emu is fixed.
 */

export interface BareDeviation {
  /** The checks that fail on the bare machine and pass on the referee. */
  readonly checks: readonly string[];
  readonly reason: string;
  /**
   * Set when the deviation also changes the rest of the console output (the guest stops
   * early), so the serial comparison with the referee cannot be made: why.
   */
  readonly serialDiffers?: string;
  /** The first line that differs, as a regular expression; default the first deviating check's. */
  readonly differsFrom?: string;
}

export const BARE_DEVIATIONS: Readonly<Record<string, BareDeviation>> = {
  apic: {
    checks: [],
    reason:
      'machine, not x86emu: the bare machine has no local APIC (CPUID.1:EDX.APIC is 0), so the guest skips',
    serialDiffers: 'the guest prints one SKIP line instead of its APIC checks',
    differsFrom: '^(PASS|SKIP) apic\\b',
  },
  ioapic: {
    checks: [],
    reason:
      'machine, not x86emu: the bare machine has no I/O APIC (CPUID.1:EDX.APIC is 0), so the guest skips',
    serialDiffers: 'the guest prints one SKIP line instead of its I/O APIC checks',
    differsFrom: '^(PASS|SKIP) ioapic\\b',
  },
  nmi: {
    checks: [],
    reason:
      'machine, not x86emu: the bare machine has no local APIC (CPUID.1:EDX.APIC is 0), so the guest skips',
    serialDiffers: 'the guest prints one SKIP line instead of its NMI checks',
    differsFrom: '^(PASS|FAIL|SKIP) nmi\\b',
  },
  hpet: {
    checks: [],
    reason:
      'machine, not x86emu: the bare machine has no HPET (unbacked memory reads all ones), so the guest skips',
    serialDiffers: 'the guest prints one SKIP line instead of its HPET checks',
    differsFrom: '^(PASS|FAIL|SKIP) hpet\\b',
  },
  cr3oob: {
    checks: ['cr3oob.pae.pde-beyond-memory.error-code'],
    reason:
      'machine, not x86emu: the bare machine reads unbacked memory as all ones (an open PC bus), so a PDE ' +
      'pointing beyond RAM leads to a present PTE with reserved bits: #PF error 0x9 (P|RSVD), as hardware ' +
      'without a hypervisor gives; KVM reports not-present (0) because the gpa is in no memory slot',
  },
};
