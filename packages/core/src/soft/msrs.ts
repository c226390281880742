/**
 * MSRs the generic part knows (`kvm_get_msr_common` / `kvm_set_msr_common`) and the candidates
 * for KVM_GET_MSR_INDEX_LIST. The list offered to userspace is the candidates the silicon really
 * implements (`ArchOps.hasMsr`), checked once when the backend is accepted — the changelog's
 * lesson: "Some msrs, such as MSR_STAR, are not available on all processors. Exporting them
 * causes qemu to try to fetch them, which will fail."
 */

import { MSR_IA32_SPEC_CTRL } from './spec-ctrl.js';

export const MSR = {
  IA32_TSC: 0x10,
  /** Pentium machine-check address/type: read as 0 (changelog: "allows plan9 to get a little further booting"). */
  IA32_P5_MC_ADDR: 0x0,
  IA32_P5_MC_TYPE: 0x1,
  IA32_PLATFORM_ID: 0x17,
  IA32_APICBASE: 0x1b,
  IA32_FEATURE_CONTROL: 0x3a,
  /** Read by benchmark software that believes it runs on an Intel CPU (changelog). */
  IA32_EBL_CR_POWERON: 0x2a,
  /** MSR_EBC_FREQUENCY_ID (P4 bus frequency). */
  EBC_FREQUENCY_ID: 0x2c,
  IA32_UCODE_WRITE: 0x79,
  IA32_UCODE_REV: 0x8b,
  P6_PERFCTR0: 0xc1,
  P6_PERFCTR1: 0xc2,
  /** MSR_FSB_FREQ: bus-speed code; Intel-only. */
  FSB_FREQ: 0xcd,
  MTRRCAP: 0xfe,
  IA32_SYSENTER_CS: 0x174,
  IA32_SYSENTER_ESP: 0x175,
  IA32_SYSENTER_EIP: 0x176,
  IA32_MCG_CAP: 0x179,
  IA32_MCG_STATUS: 0x17a,
  IA32_MCG_CTL: 0x17b,
  P6_EVNTSEL0: 0x186,
  P6_EVNTSEL1: 0x187,
  /** Read by benchmark software that believes it runs on an Intel CPU (changelog). */
  IA32_PERF_STATUS: 0x198,
  IA32_PERF_CTL: 0x199,
  IA32_MISC_ENABLE: 0x1a0,
  MTRR_PHYS_BASE0: 0x200,
  MTRR_FIX64K_00000: 0x250,
  MTRR_FIX16K_80000: 0x258,
  MTRR_FIX16K_A0000: 0x259,
  MTRR_FIX4K_C0000: 0x268,
  IA32_PAT: 0x277,
  MTRR_DEF_TYPE: 0x2ff,
  IA32_MC0_CTL: 0x400,
  IA32_MC0_STATUS: 0x401,
  IA32_MC0_ADDR: 0x402,
  IA32_MC0_MISC: 0x403,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SYSCALL_MASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
  K7_EVNTSEL0: 0xc0010000,
  K7_PERFCTR0: 0xc0010004,
  K8_SYSCFG: 0xc0010010,
  K7_HWCR: 0xc0010015,
  VM_CR: 0xc0010114,
  VM_HSAVE_PA: 0xc0010117,
} as const;

/**
 * Candidates for KVM_GET_MSR_INDEX_LIST from the processor (`msrs_to_save`), in KVM's order.
 * Only those `ArchOps.hasMsr` confirms are listed. Every one takes back, through KVM_SET_MSRS,
 * the value KVM_GET_MSRS gave (what a VMM saving and restoring a vCPU relies on), so read-only
 * MSRs such as PERF_STATUS or FSB_FREQ are not listed, as in KVM.
 */
export const MSRS_TO_SAVE: readonly number[] = [
  MSR.IA32_SYSENTER_CS,
  MSR.IA32_SYSENTER_ESP,
  MSR.IA32_SYSENTER_EIP,
  MSR.STAR,
  MSR.CSTAR,
  MSR.KERNEL_GS_BASE,
  MSR.SYSCALL_MASK,
  MSR.LSTAR,
  MSR.IA32_TSC,
  MSR.IA32_PAT,
  MSR.TSC_AUX,
];

/**
 * KVM_GET_MSR_INDEX_LIST's tail (`emulated_msrs`): MSRs the generic part emulates in software
 * (common-msrs.ts) whatever the silicon implements, so listed on every vendor. IA32_MISC_ENABLE
 * is Intel's, yet KVM lists and keeps it on AMD too, and a VMM restores it there (QEMU's reset
 * value, fast strings on). IA32_SPEC_CTRL is `msrs_to_save` in KVM, listed where the host has it;
 * here the generic part keeps it for every silicon (spec-ctrl.ts).
 */
export const EMULATED_MSRS: readonly number[] = [MSR.IA32_MISC_ENABLE, MSR_IA32_SPEC_CTRL];
