/**
 * IA32_ARCH_CAPABILITIES (MSR 10AH) as KVM gives it to a guest: an MSR KVM emulates in software
 * whatever the processor has, so it is always offered (CPUID.(EAX=7,ECX=0):EDX[29],
 * `kvm_set_cpu_caps`), and its value is the host's "not affected" bits plus the ones KVM
 * synthesizes for a host without the bug (`kvm_get_arch_capabilities`: RDCL_NO when the host is
 * not affected by Meltdown, SSB_NO, MDS_NO, RFDS_NO, ITS_NO likewise, GDS_NO, PSCHANGE_MC_NO and
 * SKIP_VMENTRY_L1DFLUSH always here).
 *
 * The software engine's processor is x86emu, which executes nothing speculatively, keeps no
 * fill buffers, store buffers or branch history, and has no TSX: it is affected by none of these
 * bugs, so every "_NO" bit KVM_SUPPORTED_ARCH_CAP carries is set. (TAA_NO stays clear: with RTM
 * absent KVM clears it, the guest knowing from CPUID there can be no TAA.) Without this MSR a
 * Linux guest on an Intel CPU model assumes the worst (`cpu_set_bug_bits`): Meltdown, hence page
 * table isolation (a CR3 write on every kernel entry and exit, and the boot's W+X check walking
 * the user page tables too), MDS buffer clearing, ITS return thunks, the BHI clearing loop.
 *
 * One capability is claimed too: IBRS_ALL, enhanced IBRS (with SPEC_CTRL.IBRS set once, no
 * indirect-branch prediction crosses privilege levels, the guarantee KVM passes on from a host
 * that has it). x86emu predicts no branch at all, so it holds; the engine has the SPEC_CTRL MSR
 * it needs (spec-ctrl.ts). Without it Linux on this CPU model compiles indirect branches into
 * retpolines.
 */

/** MSR_IA32_ARCH_CAPABILITIES (SDM Vol. 4, Table 2-2). */
export const MSR_IA32_ARCH_CAPABILITIES = 0x10a;
/** CPUID.(EAX=7,ECX=0):EDX bit 29: IA32_ARCH_CAPABILITIES is supported (X86_FEATURE_ARCH_CAPABILITIES). */
export const CPUID_7_EDX_ARCH_CAPABILITIES = 1 << 29;

/** The bits, named as in Linux's msr-index.h (low half: bit n; ITS_NO is bit 62, high bit 30). */
export const ARCH_CAP = {
  RDCL_NO: 1 << 0,
  IBRS_ALL: 1 << 1,
  RSBA: 1 << 2,
  SKIP_VMENTRY_L1DFLUSH: 1 << 3,
  SSB_NO: 1 << 4,
  MDS_NO: 1 << 5,
  PSCHANGE_MC_NO: 1 << 6,
  TSX_CTRL_MSR: 1 << 7,
  TAA_NO: 1 << 8,
  SBDR_SSDP_NO: 1 << 13,
  FBSDP_NO: 1 << 14,
  PSDP_NO: 1 << 15,
  FB_CLEAR: 1 << 17,
  RRSBA: 1 << 19,
  BHI_NO: 1 << 20,
  PBRSB_NO: 1 << 24,
  GDS_NO: 1 << 26,
  RFDS_NO: 1 << 27,
  RFDS_CLEAR: 1 << 28,
  /** Bit 62: in the high half. */
  ITS_NO_HI: 1 << 30,
} as const;

/** KVM_SUPPORTED_ARCH_CAP: the bits userspace may set (KVM_SET_MSRS), [low, high]. */
export const KVM_SUPPORTED_ARCH_CAP_LO =
  (ARCH_CAP.RDCL_NO |
    ARCH_CAP.IBRS_ALL |
    ARCH_CAP.RSBA |
    ARCH_CAP.SKIP_VMENTRY_L1DFLUSH |
    ARCH_CAP.SSB_NO |
    ARCH_CAP.MDS_NO |
    ARCH_CAP.PSCHANGE_MC_NO |
    ARCH_CAP.TSX_CTRL_MSR |
    ARCH_CAP.TAA_NO |
    ARCH_CAP.SBDR_SSDP_NO |
    ARCH_CAP.FBSDP_NO |
    ARCH_CAP.PSDP_NO |
    ARCH_CAP.FB_CLEAR |
    ARCH_CAP.RRSBA |
    ARCH_CAP.BHI_NO |
    ARCH_CAP.PBRSB_NO |
    ARCH_CAP.GDS_NO |
    ARCH_CAP.RFDS_NO |
    ARCH_CAP.RFDS_CLEAR) >>>
  0;
export const KVM_SUPPORTED_ARCH_CAP_HI = ARCH_CAP.ITS_NO_HI;

/**
 * What the software engine reports (`kvm_get_arch_capabilities` on a processor with none of the
 * bugs and enhanced IBRS), [low, high].
 */
export const SOFT_ARCH_CAPABILITIES_LO =
  (ARCH_CAP.RDCL_NO |
    ARCH_CAP.IBRS_ALL |
    ARCH_CAP.SKIP_VMENTRY_L1DFLUSH |
    ARCH_CAP.SSB_NO |
    ARCH_CAP.MDS_NO |
    ARCH_CAP.PSCHANGE_MC_NO |
    ARCH_CAP.SBDR_SSDP_NO |
    ARCH_CAP.FBSDP_NO |
    ARCH_CAP.PSDP_NO |
    ARCH_CAP.BHI_NO |
    ARCH_CAP.PBRSB_NO |
    ARCH_CAP.GDS_NO |
    ARCH_CAP.RFDS_NO) >>>
  0;
export const SOFT_ARCH_CAPABILITIES_HI = ARCH_CAP.ITS_NO_HI;
