/**
 * What this silicon offers, as the VMX capability MSRs report it (SDM Vol. 3 Appendix A): for
 * each control, the allowed 0-settings (low 32 bits: a 1 there must be 1 in the control) and
 * allowed 1-settings (high 32 bits: a 0 there must be 0). One source for both the MSR values the
 * driver reads and the checks VM entry makes.
 *
 * The model is a 32-bit Intel processor with VT-x (no Intel 64 yet: "host address-space size"
 * and "IA-32e mode guest" are not allowed-1, as on a Core Duo), and with "unrestricted guest"
 * but no EPT — the one deliberate departure from real silicon, where unrestricted guest
 * requires EPT (SDM 26.2.1.1): here guest-physical addresses are translated through the shadow
 * page tables at the real CR3 even while the guest's own CR0.PG is 0 (DESIGN.md: metaphysical
 * shadow pages stand in for the missing guest page tables).
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

export const PROCBASED_CTLS: AllowedSettings = {
  allowed0: 0x0401e172,
  allowed1:
    (0x0401e172 |
      CpuBased.VIRTUAL_INTR_PENDING |
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
  allowed1: SecondaryExec.DESC | SecondaryExec.WBINVD_EXITING | SecondaryExec.UNRESTRICTED_GUEST,
};

export const EXIT_CTLS: AllowedSettings = {
  allowed0: 0x00036dff,
  allowed1: 0x00036dff | VmExitCtl.ACK_INTR_ON_EXIT | VmExitCtl.SAVE_IA32_EFER | VmExitCtl.LOAD_IA32_EFER,
};

export const ENTRY_CTLS: AllowedSettings = {
  allowed0: 0x000011ff,
  allowed1: 0x000011ff | VmEntryCtl.LOAD_IA32_EFER,
};

/** CR0 bits fixed to 1 / allowed to be 1 in VMX operation (A.7): PE, NE, PG fixed 1. */
export const CR0_FIXED0 = 0x80000021;
export const CR0_FIXED1 = 0xffffffff;
/** CR4: VMXE fixed 1; VME…OSXMMEXCPT and VMXE may be 1 (A.8). */
export const CR4_FIXED0 = 0x00002000;
export const CR4_FIXED1 = 0x000027ff;

/** IA32_VMX_MISC: HLT activity state (bit 6), 4 CR3-target values (bits 24:16). */
export const VMX_MISC = (1 << 6) | (4 << 16);

/** Highest index in a VMCS field encoding (IA32_VMX_VMCS_ENUM bits 9:1). */
export const VMCS_ENUM_MAX_INDEX = 0x17;

/** Physical-address width of this processor (CPUID.80000008:EAX[7:0]). */
export const MAXPHYADDR = 36;

/** True when `ctl` respects `s` (SDM 26.2.1.1: reserved bits set to their only allowed value). */
export function controlsAllowed(ctl: number, s: AllowedSettings): boolean {
  return (ctl & s.allowed0) >>> 0 === s.allowed0 >>> 0 && (ctl & ~s.allowed1) === 0;
}
