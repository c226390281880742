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
}

const cross = (parts: readonly (readonly string[])[]): string[] =>
  parts.reduce<string[]>((acc, p) => acc.flatMap((a) => p.map((b) => (a ? `${a}.${b}` : b))), ['']);

/** The mmu guest's CPL-3 fetches that must fault with PFERR.U set (or fault at all). */
const mmuUserExec = [
  // 32-bit paging: supervisor pages (read-only, writable) and not-present entries, per level.
  ...cross([['mmu.2level'], ['wp0', 'wp1'], ['l2', 'l1'], ['sr', 'sw', 'np'], ['user-exec.pf-error-code']]),
  ...cross([['mmu.2level'], ['wp0', 'wp1'], ['l2large'], ['sr', 'sw'], ['user-exec.pf-error-code']]),
  // PAE: the same, plus XD pages (supervisor and user), whose fault must also carry U.
  ...cross([
    ['mmu.pae'],
    ['wp0', 'wp1'],
    ['l2', 'l1'],
    ['sr', 'sw', 'srx', 'urx', 'swx', 'uwx', 'np'],
    ['user-exec.pf-error-code'],
  ]),
  ...cross([
    ['mmu.pae'],
    ['wp0', 'wp1'],
    ['l2large'],
    ['sr', 'sw', 'srx', 'urx', 'swx', 'uwx'],
    ['user-exec.pf-error-code'],
  ]),
];

export const BARE_DEVIATIONS: Readonly<Record<string, BareDeviation>> = {
  mmu: {
    checks: mmuUserExec,
    reason:
      'x86emu: instruction fetches at CPL 3 are walked as supervisor accesses (no PFERR.U): a user fetch ' +
      'from a supervisor page does not fault, and fetch faults lack the U bit in the error code',
  },
  cpu: {
    checks: ['cpuid.leaf1.edx.fpu', 'unexpected-trap'],
    reason:
      'x86emu: CPUID.1:EDX.FPU is 0 (no x87 arithmetic), and IA32_PAT (MSR 0x277) is not implemented: ' +
      'RDMSR raises #GP(0)',
    serialDiffers: 'the guest stops at the #GP on RDMSR IA32_PAT, before its SYSENTER, PAT and TSC checks',
  },
  cr3oob: {
    checks: ['cr3oob.pae.pde-beyond-memory.error-code'],
    reason:
      'machine, not x86emu: the bare machine reads unbacked memory as all ones (an open PC bus), so a PDE ' +
      'pointing beyond RAM leads to a present PTE with reserved bits: #PF error 0x9 (P|RSVD), as hardware ' +
      'without a hypervisor gives; KVM reports not-present (0) because the gpa is in no memory slot',
  },
};
