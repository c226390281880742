/**
 * MSRs the generic part knows (`kvm_get_msr_common` / `kvm_set_msr_common`) and the candidates
 * for KVM_GET_MSR_INDEX_LIST. The list offered to userspace is the candidates the silicon really
 * implements (`ArchOps.hasMsr`), checked once when the backend is accepted — the changelog's
 * lesson: "Some msrs, such as MSR_STAR, are not available on all processors. Exporting them
 * causes qemu to try to fetch them, which will fail."
 */

export const MSR = {
  IA32_TSC: 0x10,
  IA32_PLATFORM_ID: 0x17,
  IA32_APICBASE: 0x1b,
  IA32_FEATURE_CONTROL: 0x3a,
  /** Read by benchmark software that believes it runs on an Intel CPU (changelog). */
  IA32_EBL_CR_POWERON: 0x2a,
  IA32_UCODE_REV: 0x8b,
  /** MSR_FSB_FREQ: bus-speed code; Intel-only. */
  FSB_FREQ: 0xcd,
  MTRRCAP: 0xfe,
  IA32_SYSENTER_CS: 0x174,
  IA32_SYSENTER_ESP: 0x175,
  IA32_SYSENTER_EIP: 0x176,
  IA32_MCG_CAP: 0x179,
  IA32_MCG_STATUS: 0x17a,
  /** Read by benchmark software that believes it runs on an Intel CPU (changelog). */
  IA32_PERF_STATUS: 0x198,
  IA32_MISC_ENABLE: 0x1a0,
  IA32_PAT: 0x277,
  IA32_MC0_CTL: 0x400,
  IA32_MC0_STATUS: 0x401,
  IA32_MC0_ADDR: 0x402,
  IA32_MC0_MISC: 0x403,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SYSCALL_MASK: 0xc0000084,
  KERNEL_GS_BASE: 0xc0000102,
  K7_HWCR: 0xc0010015,
  K8_SYSCFG: 0xc0010010,
  VM_CR: 0xc0010114,
  VM_HSAVE_PA: 0xc0010117,
} as const;

/**
 * Candidates for KVM_GET_MSR_INDEX_LIST (`msrs_to_save` + `emulated_msrs`), in KVM's order.
 * Only those `ArchOps.hasMsr` confirms are listed.
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
  MSR.IA32_MISC_ENABLE,
  MSR.IA32_EBL_CR_POWERON,
  MSR.IA32_PERF_STATUS,
  MSR.FSB_FREQ,
];

/** IA32_MISC_ENABLE at reset as KVM gives it: PEBS and BTS unavailable (bits 12, 11). */
export const MISC_ENABLE_DEFAULT = 0x1800;

/**
 * Per-vCPU storage of the MSRs the generic part emulates. `get` fills `out` (low, high) and
 * returns false for an MSR it does not know (the caller then raises #GP / stops KVM_GET_MSRS).
 */
/** IA32_PAT at reset: WB, WT, UC-, UC in both halves (SDM Vol. 3 Table 12-11). */
export const PAT_DEFAULT_LO = 0x00070406;
export const PAT_DEFAULT_HI = 0x00070406;

/** Every byte of IA32_PAT must be a defined memory type: 0, 1, 4, 5, 6 or 7 (`kvm_pat_valid`). */
function patValid(lo: number, hi: number): boolean {
  for (let i = 0; i < 4; i++) {
    for (const w of [lo, hi]) {
      const t = (w >>> (8 * i)) & 0xff;
      if (t > 7 || t === 2 || t === 3) return false;
    }
  }
  return true;
}

export class CommonMsrs {
  miscEnable = MISC_ENABLE_DEFAULT;
  patLo = PAT_DEFAULT_LO;
  patHi = PAT_DEFAULT_HI;
  mcgStatus = 0;

  get(index: number, out: Uint32Array): boolean {
    out[1] = 0;
    switch (index) {
      case MSR.IA32_MISC_ENABLE:
        out[0] = this.miscEnable;
        return true;
      case MSR.IA32_MCG_STATUS:
        out[0] = this.mcgStatus;
        return true;
      case MSR.IA32_PAT:
        out[0] = this.patLo;
        out[1] = this.patHi;
        return true;
      case MSR.FSB_FREQ:
        // 3: a 166 MHz bus in the Core encoding, what KVM answers.
        out[0] = 3;
        return true;
      case MSR.IA32_PLATFORM_ID:
      case MSR.IA32_EBL_CR_POWERON:
      case MSR.IA32_UCODE_REV:
      case MSR.IA32_PERF_STATUS:
      case MSR.MTRRCAP:
      case MSR.IA32_MCG_CAP:
      case MSR.IA32_MC0_CTL:
      case MSR.IA32_MC0_STATUS:
      case MSR.IA32_MC0_ADDR:
      case MSR.IA32_MC0_MISC:
      case MSR.K7_HWCR:
      case MSR.K8_SYSCFG:
        out[0] = 0;
        return true;
      default:
        // Variable and fixed MTRRs read as zero (MTRRs disabled).
        if (index >= 0x200 && index <= 0x2ff) {
          out[0] = 0;
          return true;
        }
        return false;
    }
  }

  set(index: number, lo: number, hi: number): boolean {
    switch (index) {
      case MSR.IA32_MISC_ENABLE:
        this.miscEnable = lo >>> 0;
        return hi === 0;
      case MSR.IA32_MCG_STATUS:
        this.mcgStatus = lo >>> 0;
        return true;
      case MSR.IA32_PAT:
        if (!patValid(lo, hi)) return false;
        this.patLo = lo >>> 0;
        this.patHi = hi >>> 0;
        return true;
      case MSR.IA32_UCODE_REV:
      case MSR.IA32_EBL_CR_POWERON:
      case MSR.IA32_MC0_CTL:
      case MSR.IA32_MC0_STATUS:
      case MSR.K7_HWCR:
      case MSR.K8_SYSCFG:
        // Writes accepted and ignored, as KVM does for these.
        return true;
      default:
        return index >= 0x200 && index <= 0x2ff;
    }
  }
}
