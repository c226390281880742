/**
 * The MSRs the generic part emulates for every vendor (`kvm_get_msr_common` /
 * `kvm_set_msr_common` in arch/x86/kvm/x86.c), as ONE table indexed by MSR number: each entry
 * says what RDMSR returns and what WRMSR does, and an MSR missing from it is #GP (after the
 * backend's own `get_msr`/`set_msr` declined it). The values and rules are KVM's for a vCPU
 * without a PMU, without MCG_CTL_P and with the default quirks:
 *
 * - P5_MC_ADDR/TYPE read as 0 (changelog: "allows plan9 to get a little further booting");
 *   writing them is #GP, as in KVM, which has no set case for them.
 * - MISC_ENABLE and MCG_STATUS keep the whole 64-bit value (XD disable is bit 34).
 * - The legacy performance counters (P6 and K7 EVNTSEL/PERFCTR) read 0 and ignore writes
 *   ("disabled perfctr wrmsr"): a K8 guest kernel writes 0 to them while probing.
 * - Machine check: MCG_CAP reports KVM_MAX_MCE_BANKS (32) banks with no MCG_CTL; bank CTL takes
 *   0 or all ones (bit 10 may be clear: the K8 GART erratum workaround), bank STATUS takes only
 *   0 from the guest unless HWCR.McStatusWrEn is set, userspace (KVM_SET_MSRS) may write anything.
 * - MTRRs (`kvm_mtrr_set_msr`): MTRRcap says 8 variable ranges, fixed ranges and WC; variable,
 *   fixed and default-type registers are kept, with memory types and reserved bits checked.
 * - HWCR keeps McStatusWrEn (18) and TscFreqSel (24), ignores 3, 6 and 8, #GP for the rest.
 * - ARCH_CAPABILITIES (arch-capabilities.ts): the guest reads it only where its CPUID says so
 *   (7.0:EDX[29]) and never writes it; userspace may set any KVM_SUPPORTED_ARCH_CAP bits.
 * - SPEC_CTRL and PRED_CMD (spec-ctrl.ts), vendor code in KVM (vmx.c, svm.c) with one behaviour:
 *   the guest reaches SPEC_CTRL where its CPUID enumerates any of IBRS, STIBP, SSBD and writes
 *   IBRS/STIBP/SSBD only; PRED_CMD is write-only, IBPB (bit 0) only, where IBRS/IBPB is
 *   enumerated. Userspace reaches both whatever the CPUID.
 */
import {
  CPUID_7_EDX_ARCH_CAPABILITIES,
  KVM_SUPPORTED_ARCH_CAP_HI,
  KVM_SUPPORTED_ARCH_CAP_LO,
  MSR_IA32_ARCH_CAPABILITIES,
  SOFT_ARCH_CAPABILITIES_HI,
  SOFT_ARCH_CAPABILITIES_LO,
} from './arch-capabilities.js';
import { MSR } from './msrs.js';
import {
  guestHasPredCmd,
  guestHasSpecCtrl,
  MSR_IA32_PRED_CMD,
  MSR_IA32_SPEC_CTRL,
  PRED_CMD_IBPB,
  SPEC_CTRL_SUPPORTED,
  SPEC_CTRL_SUPPORTED_BHI,
  siliconHasBhiCtrl,
} from './spec-ctrl.js';

/** IA32_MISC_ENABLE at reset as KVM gives it: PEBS and BTS unavailable (bits 12, 11). */
export const MISC_ENABLE_DEFAULT = 0x1800;
/** IA32_PAT at reset: WB, WT, UC-, UC in both halves (SDM Vol. 3 Table 12-11). */
export const PAT_DEFAULT_LO = 0x00070406;
export const PAT_DEFAULT_HI = 0x00070406;
/** KVM_MAX_MCE_BANKS: the banks `kvm_arch_vcpu_create` gives every vCPU (mcg_cap). */
export const KVM_MAX_MCE_BANKS = 32;
/** MTRRcap: VCNT 8, FIX (bit 8), WC (bit 10) — `kvm_mtrr_get_msr`. */
export const MTRRCAP_VALUE = 0x500 | 8;
/** `vcpu->arch.microcode_version` at vCPU creation: 0x100000000 (revision in the high half). */
const UCODE_REV_HI = 1;
/** HWCR bits a guest may set (McStatusWrEn, TscFreqSel) and bits KVM drops silently. */
const HWCR_MC_STATUS_WR_EN = 1 << 18;
const HWCR_KEPT = HWCR_MC_STATUS_WR_EN | (1 << 24);
const HWCR_IGNORED = 0x40 | 0x100 | 0x8;
/** The physical-address bits above 4 GiB a variable MTRR may name (MAXPHYADDR 36: bits 35:32). */
const MTRR_PHYS_HI_MASK = 0xf;

/** One MSR's behaviour. `host` is true for KVM_GET_MSRS/KVM_SET_MSRS, false for the guest. */
export interface CommonMsrEntry {
  /** Fills `out` = [low, high]; false is #GP (or the end of KVM_GET_MSRS). */
  get(m: CommonMsrs, index: number, out: Uint32Array, host: boolean): boolean;
  /** False is #GP (or the end of KVM_SET_MSRS). */
  set(m: CommonMsrs, index: number, lo: number, hi: number, host: boolean): boolean;
}

const readZero = (_m: CommonMsrs, _i: number, out: Uint32Array): boolean => {
  out[0] = 0;
  out[1] = 0;
  return true;
};
const refuse = (): boolean => false;
const ignore = (): boolean => true;

/** Reads a constant; writes #GP. */
function readOnly(lo: number, hi = 0): CommonMsrEntry {
  return {
    get: (_m, _i, out) => {
      out[0] = lo;
      out[1] = hi;
      return true;
    },
    set: refuse,
  };
}
const READ_ZERO_ONLY = readOnly(0);
/** Reads 0, accepts and drops writes (the disabled performance counters). */
const ZERO_IGNORED: CommonMsrEntry = { get: readZero, set: ignore };

/** A memory type an MTRR or the PAT may hold: UC 0, WC 1, WT 4, WP 5, WB 6 (`valid_mtrr_type`). */
function validMtrrType(t: number): boolean {
  return t < 8 && ((1 << t) & 0x73) !== 0;
}
/** Every byte of a fixed-range MTRR must be a valid type. */
function validTypeBytes(lo: number, hi: number): boolean {
  for (let i = 0; i < 4; i++) {
    if (!validMtrrType((lo >>> (8 * i)) & 0xff) || !validMtrrType((hi >>> (8 * i)) & 0xff)) return false;
  }
  return true;
}
/** Every byte of IA32_PAT must be 0, 1, 4, 5, 6 or 7 (`kvm_pat_valid`: UC- is 7 there). */
function patValid(lo: number, hi: number): boolean {
  for (let i = 0; i < 4; i++) {
    for (const w of [lo, hi]) {
      const t = (w >>> (8 * i)) & 0xff;
      if (t > 7 || t === 2 || t === 3) return false;
    }
  }
  return true;
}

/** Index of an MTRR in `CommonMsrs.mtrr` (variable pairs 0–15, fixed 16–26, default type 27), or -1. */
function mtrrSlot(index: number): number {
  if (index >= MSR.MTRR_PHYS_BASE0 && index < MSR.MTRR_PHYS_BASE0 + 16) return index - MSR.MTRR_PHYS_BASE0;
  if (index === MSR.MTRR_FIX64K_00000) return 16;
  if (index === MSR.MTRR_FIX16K_80000) return 17;
  if (index === MSR.MTRR_FIX16K_A0000) return 18;
  if (index >= MSR.MTRR_FIX4K_C0000 && index < MSR.MTRR_FIX4K_C0000 + 8)
    return 19 + index - MSR.MTRR_FIX4K_C0000;
  if (index === MSR.MTRR_DEF_TYPE) return 27;
  return -1;
}

/** `kvm_mtrr_valid`: the memory types and reserved bits of one MTRR write. */
function mtrrValid(slot: number, lo: number, hi: number): boolean {
  if (slot === 27) return (lo & ~0xcff) === 0 && hi === 0 && validMtrrType(lo & 0xff);
  if (slot >= 16) return validTypeBytes(lo, hi);
  if (hi & ~MTRR_PHYS_HI_MASK) return false;
  // PHYSBASEn: type in 7:0, 11:8 reserved; PHYSMASKn: 10:0 reserved, V in 11.
  return slot & 1 ? (lo & 0x7ff) === 0 : (lo & 0xf00) === 0 && validMtrrType(lo & 0xff);
}

const MTRR: CommonMsrEntry = {
  get: (m, index, out) => {
    const s = mtrrSlot(index);
    out[0] = m.mtrr[2 * s];
    out[1] = m.mtrr[2 * s + 1];
    return true;
  },
  set: (m, index, lo, hi) => {
    const s = mtrrSlot(index);
    if (!mtrrValid(s, lo >>> 0, hi >>> 0)) return false;
    m.mtrr[2 * s] = lo;
    m.mtrr[2 * s + 1] = hi;
    return true;
  },
};

/** IA32_MCi_CTL/STATUS/ADDR/MISC (`get_msr_mce` / `set_msr_mce`). */
const MC_BANK: CommonMsrEntry = {
  get: (m, index, out) => {
    const o = index - MSR.IA32_MC0_CTL;
    out[0] = m.mceBanks[2 * o];
    out[1] = m.mceBanks[2 * o + 1];
    return true;
  },
  set: (m, index, lo, hi, host) => {
    const o = index - MSR.IA32_MC0_CTL;
    lo >>>= 0;
    hi >>>= 0;
    // CTL: 0 or all ones; some Linux kernels clear bit 10 in bank 4 (K8 GART erratum).
    if ((o & 3) === 0 && (lo | hi) !== 0 && !((lo | (1 << 10)) >>> 0 === 0xffffffff && hi === 0xffffffff))
      return false;
    // STATUS: the guest may only clear it, unless HWCR.McStatusWrEn allows more.
    if (!host && (o & 3) === 1 && (lo | hi) !== 0 && !(m.hwcr & HWCR_MC_STATUS_WR_EN)) return false;
    m.mceBanks[2 * o] = lo;
    m.mceBanks[2 * o + 1] = hi;
    return true;
  },
};

/** A 64-bit register of `CommonMsrs` kept as [low, high] at `field`. */
function stored(field: 'miscEnable' | 'mcgStatus'): CommonMsrEntry {
  return {
    get: (m, _i, out) => {
      out[0] = m[field][0];
      out[1] = m[field][1];
      return true;
    },
    set: (m, _i, lo, hi) => {
      m[field][0] = lo;
      m[field][1] = hi;
      return true;
    },
  };
}

/** The table: MSR number → behaviour. */
export const COMMON_MSRS: ReadonlyMap<number, CommonMsrEntry> = (() => {
  const t = new Map<number, CommonMsrEntry>();
  const range = (first: number, count: number, e: CommonMsrEntry): void => {
    for (let i = 0; i < count; i++) t.set(first + i, e);
  };
  t.set(MSR.IA32_P5_MC_ADDR, READ_ZERO_ONLY);
  t.set(MSR.IA32_P5_MC_TYPE, READ_ZERO_ONLY);
  t.set(MSR.IA32_PLATFORM_ID, READ_ZERO_ONLY);
  t.set(MSR.IA32_EBL_CR_POWERON, READ_ZERO_ONLY);
  // MSR_EBC_FREQUENCY_ID: core/bus ratio 1, so guests never divide by zero.
  t.set(MSR.EBC_FREQUENCY_ID, readOnly(1 << 24));
  t.set(MSR.IA32_UCODE_WRITE, { get: refuse, set: ignore });
  t.set(MSR.IA32_UCODE_REV, {
    get: (m, _i, out) => {
      out[0] = m.microcode[0];
      out[1] = m.microcode[1];
      return true;
    },
    // Userspace sets the revision the guest sees; a guest write (to trigger the update) is dropped.
    set: (m, _i, lo, hi, host) => {
      if (host) {
        m.microcode[0] = lo;
        m.microcode[1] = hi;
      }
      return true;
    },
  });
  // MSR_FSB_FREQ: 3, a 166 MHz bus in the Core encoding.
  t.set(MSR.FSB_FREQ, readOnly(3));
  t.set(MSR.MTRRCAP, readOnly(MTRRCAP_VALUE));
  range(MSR.P6_PERFCTR0, 2, ZERO_IGNORED);
  range(MSR.P6_EVNTSEL0, 2, ZERO_IGNORED);
  range(MSR.K7_EVNTSEL0, 4, ZERO_IGNORED);
  range(MSR.K7_PERFCTR0, 4, ZERO_IGNORED);
  t.set(MSR.IA32_MCG_CAP, readOnly(KVM_MAX_MCE_BANKS));
  t.set(MSR.IA32_MCG_STATUS, stored('mcgStatus'));
  // No MCG_CTL_P in MCG_CAP: the guest may not touch MCG_CTL; userspace reads 0 and writes 0.
  t.set(MSR.IA32_MCG_CTL, {
    get: (m, i, out, host) => host && readZero(m, i, out),
    set: (_m, _i, lo, hi, host) => host && (lo | hi) === 0,
  });
  range(MSR.IA32_MC0_CTL, 4 * KVM_MAX_MCE_BANKS, MC_BANK);
  // IA32_PERF_STATUS: "TSC increment by tick" 1000 and a CPU multiplier of 4 in bits 44:40.
  t.set(MSR.IA32_PERF_STATUS, readOnly(1000, 4 << 8));
  t.set(MSR.IA32_PERF_CTL, READ_ZERO_ONLY);
  t.set(MSR.IA32_MISC_ENABLE, stored('miscEnable'));
  range(MSR.MTRR_PHYS_BASE0, 16, MTRR);
  for (const i of [MSR.MTRR_FIX64K_00000, MSR.MTRR_FIX16K_80000, MSR.MTRR_FIX16K_A0000, MSR.MTRR_DEF_TYPE])
    t.set(i, MTRR);
  range(MSR.MTRR_FIX4K_C0000, 8, MTRR);
  t.set(MSR.IA32_PAT, {
    get: (m, _i, out) => {
      out[0] = m.pat[0];
      out[1] = m.pat[1];
      return true;
    },
    set: (m, _i, lo, hi) => {
      if (!patValid(lo >>> 0, hi >>> 0)) return false;
      m.pat[0] = lo;
      m.pat[1] = hi;
      return true;
    },
  });
  t.set(MSR.K8_SYSCFG, READ_ZERO_ONLY);
  t.set(MSR.K7_HWCR, {
    get: (m, _i, out) => {
      out[0] = m.hwcr;
      out[1] = 0;
      return true;
    },
    set: (m, _i, lo, hi) => {
      const v = (lo & ~HWCR_IGNORED) >>> 0;
      if (hi !== 0 || v & ~HWCR_KEPT) return false;
      m.hwcr = v;
      return true;
    },
  });
  // The host save area belongs to the hypervisor: reads 0, writes dropped (no nested SVM).
  t.set(MSR.VM_HSAVE_PA, ZERO_IGNORED);
  // kvm_get_msr_common / kvm_set_msr_common, MSR_IA32_ARCH_CAPABILITIES.
  t.set(MSR_IA32_ARCH_CAPABILITIES, {
    get: (m, _i, out, host) => {
      if (!host && !m.guestHasArchCapabilities()) return false;
      out[0] = m.archCapabilities[0];
      out[1] = m.archCapabilities[1];
      return true;
    },
    set: (m, _i, lo, hi, host) => {
      if (!host || (lo & ~KVM_SUPPORTED_ARCH_CAP_LO) !== 0 || (hi & ~KVM_SUPPORTED_ARCH_CAP_HI) !== 0)
        return false;
      m.archCapabilities[0] = lo;
      m.archCapabilities[1] = hi;
      return true;
    },
  });
  // vmx_get_msr / vmx_set_msr (svm_* alike), MSR_IA32_SPEC_CTRL: kept for the processor, which
  // has nothing to restrict (spec-ctrl.ts).
  t.set(MSR_IA32_SPEC_CTRL, {
    get: (m, _i, out, host) => {
      if (!host && !guestHasSpecCtrl(m.guestLeaf7Edx())) return false;
      out[0] = m.specCtrl;
      out[1] = 0;
      return true;
    },
    set: (m, _i, lo, hi, host) => {
      if (!host && !guestHasSpecCtrl(m.guestLeaf7Edx())) return false;
      if (hi !== 0 || (lo & ~m.specCtrlSupported()) !== 0) return false;
      m.specCtrl = lo;
      return true;
    },
  });
  // MSR_IA32_PRED_CMD: a command, never read; IBPB is a barrier x86emu needs no work for.
  t.set(MSR_IA32_PRED_CMD, {
    get: refuse,
    set: (m, _i, lo, hi, host) =>
      (host || guestHasPredCmd(m.guestLeaf7Edx())) && hi === 0 && (lo & ~PRED_CMD_IBPB) === 0,
  });
  return t;
})();

/**
 * Per-vCPU storage of the MSRs in `COMMON_MSRS`. `get`/`set` return false for an MSR the table
 * does not have or a value it refuses (the caller raises #GP / stops KVM_GET_MSRS/KVM_SET_MSRS).
 */
export class CommonMsrs {
  readonly miscEnable = new Uint32Array([MISC_ENABLE_DEFAULT, 0]);
  readonly mcgStatus = new Uint32Array(2);
  readonly pat = new Uint32Array([PAT_DEFAULT_LO, PAT_DEFAULT_HI]);
  readonly microcode = new Uint32Array([0, UCODE_REV_HI]);
  /** MTRR slots as [low, high] pairs (see `mtrrSlot`). */
  readonly mtrr = new Uint32Array(2 * 28);
  /** KVM_MAX_MCE_BANKS banks of CTL, STATUS, ADDR, MISC as [low, high] pairs. */
  readonly mceBanks = new Uint32Array(2 * 4 * KVM_MAX_MCE_BANKS);
  hwcr = 0;
  /** The guest's IA32_SPEC_CTRL (`vmx->spec_ctrl`), 0 at creation. */
  specCtrl = 0;
  /** `vcpu->arch.arch_capabilities`, set at creation to what the engine reports. */
  readonly archCapabilities = new Uint32Array([SOFT_ARCH_CAPABILITIES_LO, SOFT_ARCH_CAPABILITIES_HI]);
  private readonly cpuidOut = new Uint32Array(4);

  /** The SPEC_CTRL bits the silicon takes (spec-ctrl.ts), found at the first write; 0 before. */
  private specCtrlBits = 0;

  /**
   * `cpuid`: the vCPU's CPUID as the guest sees it (KVM_SET_CPUID2's table), for the MSRs a
   * guest may read only where its CPUID enumerates them; none given: a CPUID with no leaves.
   * `silicon`: the processor's own CPUID, for the SPEC_CTRL bits it implements (none given: the
   * three every model has).
   */
  constructor(
    private readonly cpuid?: (leaf: number, subleaf: number, out: Uint32Array) => void,
    private readonly silicon?: (leaf: number, subleaf: number, out: Uint32Array) => void,
  ) {}

  /** The SPEC_CTRL bits the processor takes: BHI_DIS_S on an Intel model only (spec-ctrl.ts). */
  specCtrlSupported(): number {
    if (this.specCtrlBits === 0)
      this.specCtrlBits =
        this.silicon !== undefined && siliconHasBhiCtrl(this.silicon)
          ? SPEC_CTRL_SUPPORTED_BHI
          : SPEC_CTRL_SUPPORTED;
    return this.specCtrlBits;
  }

  /** The guest's CPUID.(EAX=7,ECX=0):EDX, where the speculation MSRs are enumerated (0 without a CPUID). */
  guestLeaf7Edx(): number {
    if (this.cpuid === undefined) return 0;
    this.cpuid(7, 0, this.cpuidOut);
    return this.cpuidOut[3];
  }

  /** `guest_cpu_cap_has(vcpu, X86_FEATURE_ARCH_CAPABILITIES)`. */
  guestHasArchCapabilities(): boolean {
    return (this.guestLeaf7Edx() & CPUID_7_EDX_ARCH_CAPABILITIES) !== 0;
  }

  get(index: number, out: Uint32Array, host = false): boolean {
    const e = COMMON_MSRS.get(index >>> 0);
    return e?.get(this, index >>> 0, out, host) === true;
  }

  set(index: number, lo: number, hi: number, host = false): boolean {
    const e = COMMON_MSRS.get(index >>> 0);
    return e?.set(this, index >>> 0, lo >>> 0, hi >>> 0, host) === true;
  }
}
