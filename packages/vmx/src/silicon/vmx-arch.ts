/**
 * VMX architectural numbers: VM-instruction error numbers (SDM Vol. 3 31.4, Table 31-1), basic
 * exit reasons (Appendix C), the control bits (25.6, 25.7, 25.8), the capability MSRs
 * (Appendix A) and the exit-qualification / interruption-information formats (28.2).
 */

/** VM-instruction error numbers (Table 31-1). */
export const VmxInstructionError = {
  VMCALL_IN_ROOT: 1,
  VMCLEAR_INVALID_ADDRESS: 2,
  VMCLEAR_VMXON_POINTER: 3,
  VMLAUNCH_NONCLEAR_VMCS: 4,
  VMRESUME_NONLAUNCHED_VMCS: 5,
  VMRESUME_AFTER_VMXOFF: 6,
  ENTRY_INVALID_CONTROL_FIELD: 7,
  ENTRY_INVALID_HOST_STATE_FIELD: 8,
  VMPTRLD_INVALID_ADDRESS: 9,
  VMPTRLD_VMXON_POINTER: 10,
  VMPTRLD_INCORRECT_REVISION_ID: 11,
  UNSUPPORTED_VMCS_COMPONENT: 12,
  VMWRITE_READ_ONLY_COMPONENT: 13,
  VMXON_IN_ROOT: 15,
  ENTRY_INVALID_EXECUTIVE_VMCS_POINTER: 16,
  ENTRY_NONLAUNCHED_EXECUTIVE_VMCS: 17,
  ENTRY_EXECUTIVE_VMCS_NOT_VMXON: 18,
  VMCALL_NONCLEAR_VMCS: 19,
  VMCALL_INVALID_EXIT_CONTROLS: 20,
  VMCALL_INCORRECT_MSEG_REVISION_ID: 22,
  VMXOFF_DUAL_MONITOR: 23,
  VMCALL_INVALID_SMM_MONITOR_FEATURES: 24,
  ENTRY_INVALID_EXECUTIVE_CONTROLS: 25,
  ENTRY_EVENTS_BLOCKED_BY_MOV_SS: 26,
  INVALID_INVEPT_INVVPID_OPERAND: 28,
} as const;

/** Text for each VM-instruction error, for the driver's messages (changelog: show the root cause). */
export const VM_INSTRUCTION_ERROR_TEXT: Readonly<Record<number, string>> = {
  1: 'VMCALL executed in VMX root operation',
  2: 'VMCLEAR with invalid physical address',
  3: 'VMCLEAR with VMXON pointer',
  4: 'VMLAUNCH with non-clear VMCS',
  5: 'VMRESUME with non-launched VMCS',
  6: 'VMRESUME after VMXOFF',
  7: 'VM entry with invalid control field(s)',
  8: 'VM entry with invalid host-state field(s)',
  9: 'VMPTRLD with invalid physical address',
  10: 'VMPTRLD with VMXON pointer',
  11: 'VMPTRLD with incorrect VMCS revision identifier',
  12: 'VMREAD/VMWRITE from/to unsupported VMCS component',
  13: 'VMWRITE to read-only VMCS component',
  15: 'VMXON executed in VMX root operation',
  16: 'VM entry with invalid executive-VMCS pointer',
  17: 'VM entry with non-launched executive VMCS',
  18: 'VM entry with executive-VMCS pointer not VMXON pointer',
  19: 'VMCALL with non-clear VMCS',
  20: 'VMCALL with invalid VM-exit control fields',
  22: 'VMCALL with incorrect MSEG revision identifier',
  23: 'VMXOFF under dual-monitor treatment of SMIs and SMM',
  24: 'VMCALL with invalid SMM-monitor features',
  25: 'VM entry with invalid VM-execution control fields in executive VMCS',
  26: 'VM entry with events blocked by MOV SS',
  28: 'Invalid operand to INVEPT/INVVPID',
};

/** Basic exit reasons (Appendix C), KVM's EXIT_REASON_* names. */
export const ExitReason = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INIT_SIGNAL: 3,
  SIPI_SIGNAL: 4,
  IO_SMI: 5,
  OTHER_SMI: 6,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  GETSEC: 11,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  RSM: 17,
  VMCALL: 18,
  VMCLEAR: 19,
  VMLAUNCH: 20,
  VMPTRLD: 21,
  VMPTRST: 22,
  VMREAD: 23,
  VMRESUME: 24,
  VMWRITE: 25,
  VMOFF: 26,
  VMON: 27,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  INVALID_STATE: 33,
  MSR_LOAD_FAIL: 34,
  MWAIT_INSTRUCTION: 36,
  MONITOR_TRAP_FLAG: 37,
  MONITOR_INSTRUCTION: 39,
  PAUSE_INSTRUCTION: 40,
  MCE_DURING_VMENTRY: 41,
  TPR_BELOW_THRESHOLD: 43,
  APIC_ACCESS: 44,
  EOI_INDUCED: 45,
  GDTR_IDTR: 46,
  LDTR_TR: 47,
  EPT_VIOLATION: 48,
  EPT_MISCONFIG: 49,
  INVEPT: 50,
  RDTSCP: 51,
  PREEMPTION_TIMER: 52,
  INVVPID: 53,
  WBINVD: 54,
  XSETBV: 55,
  APIC_WRITE: 56,
  RDRAND: 57,
  INVPCID: 58,
  VMFUNC: 59,
  ENCLS: 60,
  RDSEED: 61,
  PML_FULL: 62,
  XSAVES: 63,
  XRSTORS: 64,
} as const;

/** Names by number, for counters. */
export const EXIT_REASON_NAMES: readonly string[] = (() => {
  const a: string[] = [];
  for (const [k, v] of Object.entries(ExitReason)) a[v] = k;
  return a;
})();

/** Exit-reason bit 31: VM-entry failure (SDM 25.9.1). */
export const VMX_EXIT_REASONS_FAILED_VMENTRY = 0x80000000;

/** Pin-based VM-execution controls (Table 25-5). */
export const PinBased = {
  EXT_INTR_EXITING: 1 << 0,
  NMI_EXITING: 1 << 3,
  VIRTUAL_NMIS: 1 << 5,
  PREEMPTION_TIMER: 1 << 6,
  POSTED_INTR: 1 << 7,
} as const;

/** Primary processor-based VM-execution controls (Table 25-6). */
export const CpuBased = {
  VIRTUAL_INTR_PENDING: 1 << 2,
  USE_TSC_OFFSETING: 1 << 3,
  HLT_EXITING: 1 << 7,
  INVLPG_EXITING: 1 << 9,
  MWAIT_EXITING: 1 << 10,
  RDPMC_EXITING: 1 << 11,
  RDTSC_EXITING: 1 << 12,
  CR3_LOAD_EXITING: 1 << 15,
  CR3_STORE_EXITING: 1 << 16,
  CR8_LOAD_EXITING: 1 << 19,
  CR8_STORE_EXITING: 1 << 20,
  TPR_SHADOW: 1 << 21,
  /** KVM's CPU_BASED_NMI_WINDOW_EXITING (once CPU_BASED_VIRTUAL_NMI_PENDING). */
  NMI_WINDOW_EXITING: 1 << 22,
  MOV_DR_EXITING: 1 << 23,
  UNCOND_IO_EXITING: 1 << 24,
  USE_IO_BITMAPS: 1 << 25,
  MONITOR_TRAP_FLAG: 1 << 27,
  USE_MSR_BITMAPS: 1 << 28,
  MONITOR_EXITING: 1 << 29,
  PAUSE_EXITING: 1 << 30,
  ACTIVATE_SECONDARY_CONTROLS: 1 << 31,
} as const;

/** Secondary processor-based VM-execution controls (Table 25-7). */
export const SecondaryExec = {
  VIRTUALIZE_APIC_ACCESSES: 1 << 0,
  ENABLE_EPT: 1 << 1,
  DESC: 1 << 2,
  RDTSCP: 1 << 3,
  VIRTUALIZE_X2APIC: 1 << 4,
  ENABLE_VPID: 1 << 5,
  WBINVD_EXITING: 1 << 6,
  UNRESTRICTED_GUEST: 1 << 7,
  PAUSE_LOOP_EXITING: 1 << 10,
  RDRAND_EXITING: 1 << 11,
  RDSEED_EXITING: 1 << 16,
} as const;

/** VM-exit controls (Table 25-13). */
export const VmExitCtl = {
  SAVE_DEBUG_CONTROLS: 1 << 2,
  HOST_ADDR_SPACE_SIZE: 1 << 9,
  LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 12,
  ACK_INTR_ON_EXIT: 1 << 15,
  SAVE_IA32_PAT: 1 << 18,
  LOAD_IA32_PAT: 1 << 19,
  SAVE_IA32_EFER: 1 << 20,
  LOAD_IA32_EFER: 1 << 21,
  SAVE_PREEMPTION_TIMER: 1 << 22,
} as const;

/** VM-entry controls (Table 25-15). */
export const VmEntryCtl = {
  LOAD_DEBUG_CONTROLS: 1 << 2,
  IA32E_MODE: 1 << 9,
  SMM: 1 << 10,
  DEACT_DUAL_MONITOR: 1 << 11,
  LOAD_IA32_PERF_GLOBAL_CTRL: 1 << 13,
  LOAD_IA32_PAT: 1 << 14,
  LOAD_IA32_EFER: 1 << 15,
} as const;

/** VMX capability and control MSRs (Appendix A; IA32_FEATURE_CONTROL, SDM Vol. 4). */
export const VmxMsr = {
  IA32_FEATURE_CONTROL: 0x3a,
  IA32_VMX_BASIC: 0x480,
  IA32_VMX_PINBASED_CTLS: 0x481,
  IA32_VMX_PROCBASED_CTLS: 0x482,
  IA32_VMX_EXIT_CTLS: 0x483,
  IA32_VMX_ENTRY_CTLS: 0x484,
  IA32_VMX_MISC: 0x485,
  IA32_VMX_CR0_FIXED0: 0x486,
  IA32_VMX_CR0_FIXED1: 0x487,
  IA32_VMX_CR4_FIXED0: 0x488,
  IA32_VMX_CR4_FIXED1: 0x489,
  IA32_VMX_VMCS_ENUM: 0x48a,
  IA32_VMX_PROCBASED_CTLS2: 0x48b,
  IA32_VMX_EPT_VPID_CAP: 0x48c,
  IA32_VMX_TRUE_PINBASED_CTLS: 0x48d,
  IA32_VMX_TRUE_PROCBASED_CTLS: 0x48e,
  IA32_VMX_TRUE_EXIT_CTLS: 0x48f,
  IA32_VMX_TRUE_ENTRY_CTLS: 0x490,
} as const;

/** IA32_FEATURE_CONTROL bits. */
export const FeatureControl = {
  LOCKED: 1 << 0,
  VMXON_ENABLED_INSIDE_SMX: 1 << 1,
  VMXON_ENABLED_OUTSIDE_SMX: 1 << 2,
} as const;

/** Interruption-information format (VM-entry and VM-exit, Tables 25-17 and 25-19). */
export const IntrInfo = {
  VECTOR_MASK: 0xff,
  TYPE_SHIFT: 8,
  TYPE_MASK: 0x700,
  DELIVER_CODE: 1 << 11,
  /** Exit interruption info: NMI unblocking due to IRET. */
  NMI_UNBLOCK: 1 << 12,
  VALID: 0x80000000,
} as const;

/** Interruption types (bits 10:8). */
export const IntrType = {
  EXT_INTR: 0,
  NMI: 2,
  HARD_EXCEPTION: 3,
  SOFT_INTR: 4,
  PRIV_SOFT_EXCEPTION: 5,
  SOFT_EXCEPTION: 6,
  OTHER: 7,
} as const;

/** Guest interruptibility state (Table 25-3). */
export const GuestIntrState = {
  STI: 1 << 0,
  MOV_SS: 1 << 1,
  SMI: 1 << 2,
  NMI: 1 << 3,
} as const;

/** Guest activity states (25.4.2). */
export const ActivityState = { ACTIVE: 0, HLT: 1, SHUTDOWN: 2, WAIT_SIPI: 3 } as const;

/**
 * Exit qualification for CR accesses (Table 28-3): bits 3:0 CR number, 5:4 access type
 * (0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW), 6 LMSW operand type, 11:8 GPR, 31:16 LMSW data.
 */
export const CrQual = { ACCESS_TYPE_SHIFT: 4, GPR_SHIFT: 8, LMSW_SOURCE_SHIFT: 16 } as const;

/**
 * Exit qualification for I/O instructions (Table 28-5): bits 2:0 size − 1, 3 direction (1 = IN),
 * 4 string, 5 REP, 6 operand encoding (1 = immediate), 31:16 port.
 */
export const IoQual = {
  SIZE_MASK: 7,
  IN: 1 << 3,
  STRING: 1 << 4,
  REP: 1 << 5,
  IMMEDIATE: 1 << 6,
  PORT_SHIFT: 16,
} as const;

/** Segment access rights in the VMCS (Table 25-2): bit 16 "unusable". */
export const AR_UNUSABLE = 1 << 16;
