/**
 * SVM architectural numbers (AMD APM Vol. 2): exit codes (Appendix C), intercept bits
 * (Appendix B, Table B-1), EVENTINJ/EXITINTINFO (15.20), IOIO EXITINFO1 (15.10.2), the SVM
 * MSRs and CPUID bits (15.4, 15.30).
 */

/** Exit codes (Appendix C), KVM's SVM_EXIT_* names. */
export const SvmExit = {
  READ_CR0: 0x000,
  READ_CR3: 0x003,
  READ_CR4: 0x004,
  READ_CR8: 0x008,
  WRITE_CR0: 0x010,
  WRITE_CR3: 0x013,
  WRITE_CR4: 0x014,
  WRITE_CR8: 0x018,
  READ_DR0: 0x020,
  WRITE_DR0: 0x030,
  EXCP_BASE: 0x040,
  INTR: 0x060,
  NMI: 0x061,
  SMI: 0x062,
  INIT: 0x063,
  VINTR: 0x064,
  CR0_SEL_WRITE: 0x065,
  IDTR_READ: 0x066,
  GDTR_READ: 0x067,
  LDTR_READ: 0x068,
  TR_READ: 0x069,
  IDTR_WRITE: 0x06a,
  GDTR_WRITE: 0x06b,
  LDTR_WRITE: 0x06c,
  TR_WRITE: 0x06d,
  RDTSC: 0x06e,
  RDPMC: 0x06f,
  PUSHF: 0x070,
  POPF: 0x071,
  CPUID: 0x072,
  RSM: 0x073,
  IRET: 0x074,
  SWINT: 0x075,
  INVD: 0x076,
  PAUSE: 0x077,
  HLT: 0x078,
  INVLPG: 0x079,
  INVLPGA: 0x07a,
  IOIO: 0x07b,
  MSR: 0x07c,
  TASK_SWITCH: 0x07d,
  FERR_FREEZE: 0x07e,
  SHUTDOWN: 0x07f,
  VMRUN: 0x080,
  VMMCALL: 0x081,
  VMLOAD: 0x082,
  VMSAVE: 0x083,
  STGI: 0x084,
  CLGI: 0x085,
  SKINIT: 0x086,
  RDTSCP: 0x087,
  ICEBP: 0x088,
  WBINVD: 0x089,
  MONITOR: 0x08a,
  MWAIT: 0x08b,
  MWAIT_COND: 0x08c,
  XSETBV: 0x08d,
  NPF: 0x400,
  /** VMEXIT_INVALID: the VMCB failed VMRUN's consistency checks (-1 as a 64-bit value). */
  ERR: -1,
} as const;

/** INTERCEPT_MISC1 bits (vector 3 of Table B-1, "word" 0Ch). */
export const Intercept1 = {
  INTR: 1 << 0,
  NMI: 1 << 1,
  SMI: 1 << 2,
  INIT: 1 << 3,
  VINTR: 1 << 4,
  CR0_SEL_WRITE: 1 << 5,
  IDTR_READ: 1 << 6,
  GDTR_READ: 1 << 7,
  LDTR_READ: 1 << 8,
  TR_READ: 1 << 9,
  IDTR_WRITE: 1 << 10,
  GDTR_WRITE: 1 << 11,
  LDTR_WRITE: 1 << 12,
  TR_WRITE: 1 << 13,
  RDTSC: 1 << 14,
  RDPMC: 1 << 15,
  PUSHF: 1 << 16,
  POPF: 1 << 17,
  CPUID: 1 << 18,
  RSM: 1 << 19,
  IRET: 1 << 20,
  INTN: 1 << 21,
  INVD: 1 << 22,
  PAUSE: 1 << 23,
  HLT: 1 << 24,
  INVLPG: 1 << 25,
  INVLPGA: 1 << 26,
  IOIO_PROT: 1 << 27,
  MSR_PROT: 1 << 28,
  TASK_SWITCH: 1 << 29,
  FERR_FREEZE: 1 << 30,
  SHUTDOWN: 1 << 31,
} as const;

/** INTERCEPT_MISC2 bits (word 10h). */
export const Intercept2 = {
  VMRUN: 1 << 0,
  VMMCALL: 1 << 1,
  VMLOAD: 1 << 2,
  VMSAVE: 1 << 3,
  STGI: 1 << 4,
  CLGI: 1 << 5,
  SKINIT: 1 << 6,
  RDTSCP: 1 << 7,
  ICEBP: 1 << 8,
  WBINVD: 1 << 9,
  MONITOR: 1 << 10,
  MWAIT: 1 << 11,
  MWAIT_COND: 1 << 12,
  XSETBV: 1 << 13,
} as const;

/** EVENTINJ / EXITINTINFO (15.20): vector 7:0, type 10:8, EV 11, V 31, error code 63:32. */
export const EventInj = {
  VECTOR_MASK: 0xff,
  TYPE_SHIFT: 8,
  TYPE_MASK: 7 << 8,
  EV: 1 << 11,
  VALID: 0x80000000,
} as const;

/** EVENTINJ types. */
export const EventInjType = { INTR: 0, NMI: 2, EXCEPTION: 3, SOFT: 4 } as const;

/** V_INTR bits (control area 60h). */
export const VIntr = {
  TPR_MASK: 0xff,
  V_IRQ: 1 << 8,
  PRIO_SHIFT: 16,
  IGN_TPR: 1 << 20,
  MASKING: 1 << 24,
} as const;

/** IOIO EXITINFO1 (15.10.2). */
export const IoioInfo = {
  TYPE_IN: 1 << 0,
  STR: 1 << 2,
  REP: 1 << 3,
  SZ8: 1 << 4,
  SZ16: 1 << 5,
  SZ32: 1 << 6,
  A16: 1 << 7,
  A32: 1 << 8,
  A64: 1 << 9,
  SEG_SHIFT: 10,
  PORT_SHIFT: 16,
} as const;

/**
 * Task-switch intercept EXITINFO2, high half (15.14.4: bits 36 IRET, 38 JMP, 44 error code
 * valid; the error code in 31:0); EXITINFO1 has the new TSS selector.
 */
export const TaskSwitchInfoHi = { IRET: 1 << 4, JMP: 1 << 6, HAS_ERROR_CODE: 1 << 12 } as const;

/** SVM MSRs. */
export const SvmMsr = {
  EFER: 0xc0000080,
  VM_CR: 0xc0010114,
  VM_HSAVE_PA: 0xc0010117,
} as const;

/** EFER.SVME (bit 12). */
export const EFER_SVME = 1 << 12;

/** VM_CR bits: SVMDIS (4) disables SVM (EFER.SVME cannot be set), LOCK (3). */
export const VmCr = { LOCK: 1 << 3, SVMDIS: 1 << 4 } as const;

/** CPUID.80000001:ECX.SVM (bit 2). */
export const CPUID_80000001_ECX_SVM = 1 << 2;

/**
 * CPUID.8000000A:EDX features this silicon has: nested paging (0), NRIP save (3), VMCB clean bits
 * (5), decode assists (7), the PAUSE intercept filter (10) and its threshold (12).
 */
export const SvmFeature = {
  NP: 1 << 0,
  NRIPS: 1 << 3,
  VMCB_CLEAN: 1 << 5,
  DECODE_ASSISTS: 1 << 7,
  PAUSE_FILTER: 1 << 10,
  PAUSE_FILTER_THRESHOLD: 1 << 12,
} as const;

/** Segment attrib (VMCB): descriptor bits 40–47 in 7:0 and 52–55 in 11:8. */
export const SVM_SELECTOR_P = 1 << 7;

/**
 * VMCB clean bits (APM Vol. 2 15.15.3, Table 15-9): a 1 tells VMRUN that the hypervisor did not
 * change that area since the last VMRUN of this VMCB, so the processor may use what it holds. The
 * silicon honours these four (the others it always loads); a clear bit, another VMCB than the last
 * VMRUN's, or a VMCB_CLEAN of 0 loads the area.
 */
export const VmcbClean = {
  /** IOPM_BASE_PA, MSRPM_BASE_PA. */
  IOPM: 1 << 1,
  /** CR0, CR3, CR4, EFER. */
  CRX: 1 << 5,
  /** GDTR, IDTR. */
  DT: 1 << 7,
  /** ES, CS, SS, DS and CPL. */
  SEG: 1 << 8,
} as const;

/** Every clean bit the silicon honours: what the driver sets after a VMRUN (KVM's vmcb_mark_all_clean). */
export const VMCB_CLEAN_HONOURED = VmcbClean.IOPM | VmcbClean.CRX | VmcbClean.DT | VmcbClean.SEG;
