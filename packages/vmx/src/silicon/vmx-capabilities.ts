/**
 * What this silicon offers, as the VMX capability MSRs report it (SDM Vol. 3 Appendix A): for
 * each control, the allowed 0-settings (low 32 bits: a 1 there must be 1 in the control) and
 * allowed 1-settings (high 32 bits: a 0 there must be 0). One source for both the MSR values the
 * driver reads and the checks VM entry makes.
 *
 * The model is an Intel 64 processor with VT-x ("host address-space size", "IA-32e mode guest",
 * CR8-load/store exiting allowed-1), or, configured without long mode, a 32-bit part like a Core
 * Duo (those controls allowed-0 only: they "must be 0 on processors that do not support Intel
 * 64", SDM Appendix A.3–A.5). Both have "unrestricted guest", EPT and VPID (`ept.ts`), and
 * allow unrestricted guest without EPT — the one deliberate departure from real silicon, where
 * unrestricted guest requires EPT (SDM 26.2.1.1): under shadow paging guest-physical addresses
 * are translated through the shadow page tables at the real CR3 even while the guest's own
 * CR0.PG is 0 (DESIGN.md: metaphysical shadow pages stand in for the missing guest page tables).
 */
import { CpuBased, PinBased, SecondaryExec, VmEntryCtl, VmExitCtl } from './vmx-arch.js';

/** A control's allowed settings. */
export interface AllowedSettings {
  /** Bits that must be 1 (the MSR's low half). */
  readonly allowed0: number;
  /** Bits that may be 1 (the MSR's high half). */
  readonly allowed1: number;
}

/** The revision identifier of this silicon's VMCS format (IA32_VMX_BASIC bits 30:0). */
export const VMCS_REVISION_ID = 0x12;

/** Default-1 bits of each control (SDM Appendix A.2–A.5) are the allowed-0 settings. */
export const PINBASED_CTLS: AllowedSettings = {
  allowed0: 0x00000016,
  allowed1: 0x00000016 | PinBased.EXT_INTR_EXITING | PinBased.NMI_EXITING | PinBased.VIRTUAL_NMIS,
};

/** The primary processor-based controls of the 32-bit part (no CR8 exiting). */
export const PROCBASED_CTLS_32: AllowedSettings = {
  allowed0: 0x0401e172,
  allowed1:
    (0x0401e172 |
      CpuBased.VIRTUAL_INTR_PENDING |
      CpuBased.NMI_WINDOW_EXITING |
      CpuBased.USE_TSC_OFFSETING |
      CpuBased.HLT_EXITING |
      CpuBased.INVLPG_EXITING |
      CpuBased.MWAIT_EXITING |
      CpuBased.RDPMC_EXITING |
      CpuBased.RDTSC_EXITING |
      CpuBased.CR3_LOAD_EXITING |
      CpuBased.CR3_STORE_EXITING |
      CpuBased.MOV_DR_EXITING |
      CpuBased.UNCOND_IO_EXITING |
      CpuBased.USE_IO_BITMAPS |
      CpuBased.USE_MSR_BITMAPS |
      CpuBased.MONITOR_EXITING |
      CpuBased.PAUSE_EXITING |
      CpuBased.ACTIVATE_SECONDARY_CONTROLS) >>>
    0,
};

export const PROCBASED_CTLS2: AllowedSettings = {
  allowed0: 0,
  allowed1:
    SecondaryExec.ENABLE_EPT |
    SecondaryExec.DESC |
    SecondaryExec.ENABLE_VPID |
    SecondaryExec.WBINVD_EXITING |
    SecondaryExec.UNRESTRICTED_GUEST |
    SecondaryExec.PAUSE_LOOP_EXITING |
    SecondaryExec.RDRAND_EXITING |
    SecondaryExec.RDSEED_EXITING,
};

/**
 * The Intel 64 part's: CR8-load and CR8-store exiting and "use TPR shadow" (MOV CR8 in 64-bit
 * mode, SDM 26.1.3 and 29.3; the controls exist only on processors with Intel 64).
 */
export const PROCBASED_CTLS: AllowedSettings = {
  allowed0: PROCBASED_CTLS_32.allowed0,
  allowed1:
    (PROCBASED_CTLS_32.allowed1 |
      CpuBased.CR8_LOAD_EXITING |
      CpuBased.CR8_STORE_EXITING |
      CpuBased.TPR_SHADOW) >>>
    0,
};

/** VM-exit controls of the 32-bit part. */
export const EXIT_CTLS_32: AllowedSettings = {
  allowed0: 0x00036dff,
  allowed1: 0x00036dff | VmExitCtl.ACK_INTR_ON_EXIT | VmExitCtl.SAVE_IA32_EFER | VmExitCtl.LOAD_IA32_EFER,
};

/** VM-exit controls of the Intel 64 part: "host address-space size" (a 64-bit host, bit 9). */
export const EXIT_CTLS: AllowedSettings = {
  allowed0: EXIT_CTLS_32.allowed0,
  allowed1: EXIT_CTLS_32.allowed1 | VmExitCtl.HOST_ADDR_SPACE_SIZE,
};

/** VM-entry controls of the 32-bit part. */
export const ENTRY_CTLS_32: AllowedSettings = {
  allowed0: 0x000011ff,
  allowed1: 0x000011ff | VmEntryCtl.LOAD_IA32_EFER,
};

/** VM-entry controls of the Intel 64 part: "IA-32e mode guest" (bit 9). */
export const ENTRY_CTLS: AllowedSettings = {
  allowed0: ENTRY_CTLS_32.allowed0,
  allowed1: ENTRY_CTLS_32.allowed1 | VmEntryCtl.IA32E_MODE,
};

/**
 * The "true" processor-based controls (IA32_VMX_TRUE_PROCBASED_CTLS, SDM Appendix A.3.2, with
 * IA32_VMX_BASIC bit 55): CR3-load and CR3-store exiting, default-1 in the legacy MSR, may be 0 —
 * what a hypervisor using EPT clears (KVM's `setup_vmcs_config` with `enable_ept`). VM entry
 * checks these.
 */
const CR3_EXITING = CpuBased.CR3_LOAD_EXITING | CpuBased.CR3_STORE_EXITING;
export const TRUE_PROCBASED_CTLS_32: AllowedSettings = {
  allowed0: (PROCBASED_CTLS_32.allowed0 & ~CR3_EXITING) >>> 0,
  allowed1: PROCBASED_CTLS_32.allowed1,
};
export const TRUE_PROCBASED_CTLS: AllowedSettings = {
  allowed0: (PROCBASED_CTLS.allowed0 & ~CR3_EXITING) >>> 0,
  allowed1: PROCBASED_CTLS.allowed1,
};

/** The allowed settings of one silicon, by whether it has Intel 64 (long mode). */
export interface VmxCapabilities {
  readonly pin: AllowedSettings;
  readonly proc: AllowedSettings;
  /** The true processor-based controls (the pin-based, exit and entry ones equal their legacy MSRs). */
  readonly procTrue: AllowedSettings;
  readonly proc2: AllowedSettings;
  readonly exit: AllowedSettings;
  readonly entry: AllowedSettings;
}

export const VMX_CAPS_64: VmxCapabilities = {
  pin: PINBASED_CTLS,
  proc: PROCBASED_CTLS,
  procTrue: TRUE_PROCBASED_CTLS,
  proc2: PROCBASED_CTLS2,
  exit: EXIT_CTLS,
  entry: ENTRY_CTLS,
};

export const VMX_CAPS_32: VmxCapabilities = {
  pin: PINBASED_CTLS,
  proc: PROCBASED_CTLS_32,
  procTrue: TRUE_PROCBASED_CTLS_32,
  proc2: PROCBASED_CTLS2,
  exit: EXIT_CTLS_32,
  entry: ENTRY_CTLS_32,
};

/** CR0 bits fixed to 1 / allowed to be 1 in VMX operation (A.7): PE, NE, PG fixed 1. */
export const CR0_FIXED0 = 0x80000021;
export const CR0_FIXED1 = 0xffffffff;
/** CR4: VMXE fixed 1; VME…OSXMMEXCPT, VMXE and OSXSAVE may be 1 (A.8). */
export const CR4_FIXED0 = 0x00002000;
export const CR4_FIXED1 = 0x000427ff;

/** IA32_VMX_MISC: HLT activity state (bit 6), 4 CR3-target values (bits 24:16). */
export const VMX_MISC = (1 << 6) | (4 << 16);

/** Highest index in a VMCS field encoding (IA32_VMX_VMCS_ENUM bits 9:1). */
export const VMCS_ENUM_MAX_INDEX = 0x17;

/** Physical-address width of this processor (CPUID.80000008:EAX[7:0]); x86emu's walker's too. */
export const MAXPHYADDR = 36;
/** Linear-address width of the Intel 64 part (CPUID.80000008:EAX[15:8]): 4-level paging. */
export const LINEAR_ADDRESS_BITS = 48;

/**
 * Is the 64-bit value (lo, hi) canonical for 48 linear-address bits (bits 63:47 all equal,
 * SDM Vol. 1 3.3.7.1)?
 */
export function isCanonical(hi: number): boolean {
  const top = hi >> 15;
  return top === 0 || top === -1;
}

/** True when `ctl` respects `s` (SDM 26.2.1.1: reserved bits set to their only allowed value). */
export function controlsAllowed(ctl: number, s: AllowedSettings): boolean {
  return (ctl & s.allowed0) >>> 0 === s.allowed0 >>> 0 && (ctl & ~s.allowed1) === 0;
}
