/**
 * An Intel processor with VT-x, as the VMX driver programs it: CPUID, MSRs (IA32_FEATURE_CONTROL
 * and the VMX capability MSRs among them), CR4.VMXE, and the VMX instructions VMXON, VMXOFF,
 * VMCLEAR, VMPTRLD, VMPTRST, VMREAD, VMWRITE, VMLAUNCH and VMRESUME with the pseudo-code of SDM
 * Vol. 3 Chapter 31: VMsucceed, VMfailInvalid, or VMfailValid with the VM-instruction error
 * number stored in the current VMCS. Faults a real CPU would raise in the host (#UD, #GP) are
 * returned as such, never thrown.
 *
 * VM entry and guest execution (VMX non-root operation) are in `vm-entry.ts` and `nonroot.ts`.
 */
import {
  cpuidVendorLeaf,
  type HostCpu,
  type HostPhysicalMemory,
  siliconCpuid1Edx,
  siliconHostMemory,
} from '@kvm/core';
import {
  CPUID_EXT_ECX,
  CPUID_EXT_EDX,
  CPUID1_ECX,
  defaultCpuid,
  engineJitDefault,
  holdAsDoubles,
} from '@kvm/x86emu';
import { EPT_VPID_CAP_HI, EPT_VPID_CAP_LO, eptpInvalid, InveptType, InvvpidType } from './ept.js';
import { GUEST_COLD, GUEST_GROUP_BY_SLOT, saveColdGroups } from './guest-cache.js';
import { VmxNonRoot } from './nonroot.js';
import {
  checkControls,
  checkGuestState,
  checkHostState,
  checkHotGuestState,
  checkTprThreshold,
} from './vm-entry-checks.js';
import {
  encodingType,
  encodingWidth,
  VMCS,
  VMCS_FIELD_COUNT,
  VMCS_SLOT_BY_ENCODING,
  VmcsFieldType,
  VmcsWidth,
} from './vmcs-fields.js';
import { LaunchState, VmcsRegion } from './vmcs-region.js';
import {
  ExitReason,
  FeatureControl,
  VMX_EXIT_REASONS_FAILED_VMENTRY,
  VmxInstructionError,
  VmxMsr,
} from './vmx-arch.js';
import {
  CR0_FIXED0,
  CR0_FIXED1,
  CR4_FIXED0,
  CR4_FIXED1,
  LINEAR_ADDRESS_BITS,
  MAXPHYADDR,
  VMCS_ENUM_MAX_INDEX,
  VMCS_REVISION_ID,
  VMX_CAPS_32,
  VMX_CAPS_64,
  VMX_MISC,
  type VmxCapabilities,
} from './vmx-capabilities.js';

/** The outcome of a VMX instruction (its RFLAGS.CF/ZF, or the fault it raised). */
export const VmxStatus = {
  /** VMsucceed (for VMLAUNCH/VMRESUME: the guest ran and a VM exit happened). */
  Succeed: 0,
  /** VMfailInvalid: CF = 1, no current VMCS to hold an error number. */
  FailInvalid: 1,
  /** VMfailValid: ZF = 1, the error number is in the current VMCS's VM_INSTRUCTION_ERROR. */
  FailValid: 2,
  /** #UD: not in VMX operation, or CR4.VMXE clear for VMXON. */
  Ud: 3,
  /** #GP(0): e.g. VMXON with IA32_FEATURE_CONTROL not locked with VMX enabled. */
  Gp: 4,
} as const;
export type VmxStatus = (typeof VmxStatus)[keyof typeof VmxStatus];

/** How a silicon instance is built. */
export interface VmxSiliconConfig {
  /** CPUID.1:ECX.VMX (bit 5). Default true. */
  vmx?: boolean;
  /** IA32_FEATURE_CONTROL as the firmware left it. Default: locked, VMX outside SMX enabled. */
  featureControl?: number;
  /** CPUID vendor string; only to model a misidentified part. Default GenuineIntel. */
  vendor?: string;
  /** The machine's host-physical memory. Default: a fresh one. */
  memory?: HostPhysicalMemory;
  /**
   * Intel 64 (CPUID.80000001H:EDX.LM, SYSCALL, the syscall MSRs, "IA-32e mode guest" and "host
   * address-space size"). Default true; false models a 32-bit part such as a Core Duo.
   */
  longMode?: boolean;
  /**
   * The block compiler of x86emu in non-root operation (`CpuOptions.jit`): compiled guest code,
   * the same exits and results. Default off (the interpreter) unless `X86EMU_JIT=1`: see
   * x86emu's `engineJitDefault`.
   */
  jit?: boolean;
  /**
   * The compiler's code generator (x86emu's `JitTuning.backend`): 'wasm' also gives the default
   * `memory` a wasm arena for guest RAM (`siliconHostMemory`), so compiled code reaches RAM the VMM
   * allocates inline. Default: `X86EMU_JIT_BACKEND`, else 'js'.
   */
  jitBackend?: 'js' | 'wasm';
  /**
   * RDRAND's and RDSEED's bits from a seeded, reproducible sequence (x86emu's `seededRandom`), as
   * QEMU's `-seed`; default: the host's generator (or `X86EMU_RANDOM_SEED`'s sequence).
   */
  randomSeed?: number;
  /** Guest RAM the wasm arena holds, in bytes (default 512 MiB); RAM beyond it takes the imports. */
  wasmRamBytes?: number;
  /**
   * The wasm arena a shared `WebAssembly.Memory`, so guest RAM the VMM takes from it may go to
   * other threads (the engine's `sharedMemory`: a page reading RAM its worker runs). Default false.
   */
  sharedArena?: boolean;
  /**
   * Keep the cold guest-state groups in the processor across VM exits (`guest-cache.ts`).
   * Default true; false saves and loads the whole guest-state area on every exit and entry and
   * checks all of it on every entry (the reference the equivalence test compares against).
   */
  holdGuestState?: boolean;
}

const INVALID_POINTER = -1;
const X86_CR4_VMXE = 1 << 13;

/** MSRs this processor implements besides the VMX ones (the syscall ones only with Intel 64). */
const MSR_TSC = 0x10;
const MSR_PAT = 0x277;
const MSR_PLATFORM_ID = 0x17;
const MSR_EBL_CR_POWERON = 0x2a;
const MSR_UCODE_REV = 0x8b;
const MSR_FSB_FREQ = 0xcd;
const MSR_SYSENTER_CS = 0x174;
const MSR_SYSENTER_ESP = 0x175;
const MSR_SYSENTER_EIP = 0x176;
const MSR_PERF_STATUS = 0x198;
const MSR_MISC_ENABLE = 0x1a0;
const MSR_EFER = 0xc0000080;
const MSR_STAR = 0xc0000081;
const MSR_LSTAR = 0xc0000082;
const MSR_CSTAR = 0xc0000083;
const MSR_SYSCALL_MASK = 0xc0000084;
const MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101;
const MSR_KERNEL_GS_BASE = 0xc0000102;
const MSR_TSC_AUX = 0xc0000103;
/** The host's EFER on the Intel 64 part: a 64-bit hypervisor runs in IA-32e mode (SCE, LME, LMA, NXE). */
/** First physical address beyond MAXPHYADDR (a constant, not recomputed per VM entry). */
const PHYS_LIMIT = 2 ** MAXPHYADDR;
const HOST_EFER_64 = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);
const X86_CR4_PAE = 1 << 5;
const X86_EFLAGS_VM = 1 << 17;

/** The guest fields `checkHotGuestState` reads (and RSP, which no check reads), by slot. */
const HOT_CHECKED: Uint8Array = (() => {
  const t = new Uint8Array(VMCS_FIELD_COUNT);
  for (const e of [
    VMCS.GUEST_RIP,
    VMCS.GUEST_RSP,
    VMCS.GUEST_RFLAGS,
    VMCS.GUEST_INTERRUPTIBILITY_INFO,
    VMCS.GUEST_ACTIVITY_STATE,
    VMCS.VMCS_LINK_POINTER,
  ])
    t[VMCS_SLOT_BY_ENCODING[e >>> 1]] = 1;
  return t;
})();

export class VmxSilicon implements HostCpu {
  readonly memory: HostPhysicalMemory;
  readonly vendor: string;
  readonly hasVmx: boolean;
  /** Intel 64: long mode for guests and a 64-bit host. */
  readonly longMode: boolean;
  /** `VmxSiliconConfig.jit`. */
  readonly jit: boolean;
  /** `VmxSiliconConfig.jitBackend`. */
  readonly jitBackend: 'js' | 'wasm' | undefined;
  /** The config's `randomSeed`. */
  readonly randomSeed: number | undefined;
  /** `VmxSiliconConfig.holdGuestState`. */
  readonly holdGuestState: boolean;
  /** The allowed settings of the controls (the capability MSRs report them; VM entry checks them). */
  readonly caps: VmxCapabilities;
  /** The host's IA32_EFER: LMA set on the Intel 64 part (the hypervisor is a 64-bit kernel). */
  hostEfer: number;
  featureControl: number;
  /** The host's CR0 and CR4 (what the hypervisor runs with). */
  hostCr0 = 0x80050033;
  hostCr4 = 0x000006d0;
  /** VMX operation: false outside, true in VMX root operation (non-root is inside `vmlaunch`). */
  inVmxOperation = false;
  vmxonPointer = INVALID_POINTER;
  /** The current-VMCS pointer (hpa), or -1 when invalid (FFFFFFFF_FFFFFFFFH). */
  currentVmcs = INVALID_POINTER;
  /** Incremented by every VMXON: a VMCS launched in an earlier epoch cannot be resumed. */
  epoch = 0;
  /** VMREAD's destination: the field value's low 32 bits. */
  vmreadValue = 0;
  /**
   * Its high 32 bits: in 64-bit operation (the Intel 64 part) VMREAD of a natural-width or the
   * full access of a 64-bit field returns 64 bits (SDM Vol. 3 31.3 VMREAD); 0 otherwise.
   */
  vmreadValueHigh = 0;
  /** The region of the current VMCS. */
  readonly vmcs: VmcsRegion;
  private readonly scratch: VmcsRegion;

  constructor(config: VmxSiliconConfig = {}) {
    this.jit = config.jit ?? engineJitDefault();
    this.jitBackend = config.jitBackend;
    this.randomSeed = config.randomSeed;
    this.memory =
      config.memory ?? siliconHostMemory(this.jit, this.jitBackend, config.wasmRamBytes, config.sharedArena);
    this.vendor = config.vendor ?? 'GenuineIntel';
    this.hasVmx = config.vmx ?? true;
    this.longMode = config.longMode ?? true;
    this.holdGuestState = config.holdGuestState ?? true;
    this.caps = this.longMode ? VMX_CAPS_64 : VMX_CAPS_32;
    this.hostEfer = this.longMode ? HOST_EFER_64 : 0;
    // A 64-bit host pages with PAE (IA-32e mode requires CR4.PAE).
    if (this.longMode) this.hostCr4 |= X86_CR4_PAE;
    this.featureControl =
      config.featureControl ?? FeatureControl.LOCKED | FeatureControl.VMXON_ENABLED_OUTSIDE_SMX;
    this.vmcs = new VmcsRegion(this.memory);
    this.scratch = new VmcsRegion(this.memory);
    // A field's value and its high half (x86emu's double-fields.ts).
    holdAsDoubles(this, ['vmreadValue', 'vmreadValueHigh']);
  }

  // ---- CPUID and MSRs ------------------------------------------------------------------

  cpuid(leaf: number, subleaf: number, out: Uint32Array): void {
    out.fill(0);
    switch (leaf >>> 0) {
      case 0:
        cpuidVendorLeaf(this.vendor, 0xd, out);
        return;
      case 1:
        // Family 6, model 14 (Core Duo)'s signature and platform bits (VME, MCE, MTRR, MCA, PAT:
        // the driver's MSRs), with the instruction set x86emu implements (x87, MMX, SSE…SSE4.2,
        // POPCNT, CX16, XSAVE, RDRAND); no APIC of its own (the in-kernel irqchip adds it).
        out[0] = 0x000006e8;
        // One logical processor (EBX[23:16]), CLFLUSH line size 8 × 8 = 64 bytes (EBX[15:8]).
        out[1] = 0x00010800;
        out[2] = (this.hasVmx ? 1 << 5 : 0) | CPUID1_ECX;
        out[3] = siliconCpuid1Edx();
        return;
      case 7:
        // RDSEED (EBX bit 18) and SERIALIZE (EDX bit 14), which x86emu implements; sub-leaf 0 only.
        defaultCpuid.cpuid(7, subleaf, out);
        return;
      case 0xd:
        defaultCpuid.cpuid(0xd, subleaf, out);
        return;
      case 0x80000000:
        out[0] = 0x80000008;
        return;
      case 0x80000001:
        // Intel 64: what x86emu implements (LM, SYSCALL, NX, Page1GB, RDTSCP; LAHF-LM). The
        // 32-bit part has NX (XD) only.
        if (this.longMode) {
          out[2] = CPUID_EXT_ECX;
          out[3] = CPUID_EXT_EDX;
        } else out[3] = 1 << 20;
        return;
      case 0x80000008:
        out[0] = MAXPHYADDR | ((this.longMode ? LINEAR_ADDRESS_BITS : 32) << 8);
        return;
    }
  }

  rdmsr(index: number, out: Uint32Array): boolean {
    out[1] = 0;
    const two = (s: { allowed0: number; allowed1: number }): boolean => {
      out[0] = s.allowed0 >>> 0;
      out[1] = s.allowed1 >>> 0;
      return true;
    };
    switch (index >>> 0) {
      case VmxMsr.IA32_FEATURE_CONTROL:
        out[0] = this.featureControl;
        return true;
      case VmxMsr.IA32_VMX_BASIC:
        if (!this.hasVmx) return false;
        // Revision id; region size 4096 (bits 44:32); write-back memory type 6 (bits 53:50);
        // INS/OUTS exit information (bit 54); the "true" control MSRs (bit 55, Appendix A.2).
        out[0] = VMCS_REVISION_ID;
        out[1] = 0x1000 | (6 << 18) | (1 << 22) | (1 << 23);
        return true;
      case VmxMsr.IA32_VMX_PINBASED_CTLS:
        return this.hasVmx && two(this.caps.pin);
      case VmxMsr.IA32_VMX_PROCBASED_CTLS:
        return this.hasVmx && two(this.caps.proc);
      case VmxMsr.IA32_VMX_PROCBASED_CTLS2:
        return this.hasVmx && two(this.caps.proc2);
      case VmxMsr.IA32_VMX_EXIT_CTLS:
        return this.hasVmx && two(this.caps.exit);
      case VmxMsr.IA32_VMX_ENTRY_CTLS:
        return this.hasVmx && two(this.caps.entry);
      case VmxMsr.IA32_VMX_MISC:
        out[0] = VMX_MISC;
        return this.hasVmx;
      case VmxMsr.IA32_VMX_CR0_FIXED0:
        out[0] = CR0_FIXED0;
        return this.hasVmx;
      case VmxMsr.IA32_VMX_CR0_FIXED1:
        out[0] = CR0_FIXED1;
        return this.hasVmx;
      case VmxMsr.IA32_VMX_CR4_FIXED0:
        out[0] = CR4_FIXED0;
        return this.hasVmx;
      case VmxMsr.IA32_VMX_CR4_FIXED1:
        out[0] = CR4_FIXED1;
        return this.hasVmx;
      case VmxMsr.IA32_VMX_VMCS_ENUM:
        out[0] = VMCS_ENUM_MAX_INDEX << 1;
        return this.hasVmx;
      case VmxMsr.IA32_VMX_TRUE_PINBASED_CTLS:
        return this.hasVmx && two(this.caps.pin);
      case VmxMsr.IA32_VMX_TRUE_PROCBASED_CTLS:
        return this.hasVmx && two(this.caps.procTrue);
      case VmxMsr.IA32_VMX_TRUE_EXIT_CTLS:
        return this.hasVmx && two(this.caps.exit);
      case VmxMsr.IA32_VMX_TRUE_ENTRY_CTLS:
        return this.hasVmx && two(this.caps.entry);
      case VmxMsr.IA32_VMX_EPT_VPID_CAP:
        // Exists when the secondary controls allow "enable EPT" or "enable VPID" (Appendix A.10).
        out[0] = EPT_VPID_CAP_LO;
        out[1] = EPT_VPID_CAP_HI;
        return this.hasVmx;
      case MSR_TSC:
      case MSR_PAT:
      case MSR_PLATFORM_ID:
      case MSR_EBL_CR_POWERON:
      case MSR_UCODE_REV:
      case MSR_FSB_FREQ:
      case MSR_SYSENTER_CS:
      case MSR_SYSENTER_ESP:
      case MSR_SYSENTER_EIP:
      case MSR_PERF_STATUS:
      case MSR_MISC_ENABLE:
        out[0] = 0;
        return true;
      case MSR_EFER:
        out[0] = this.hostEfer;
        return true;
      case MSR_STAR:
      case MSR_LSTAR:
      case MSR_CSTAR:
      case MSR_SYSCALL_MASK:
      case MSR_FS_BASE:
      case MSR_GS_BASE:
      case MSR_KERNEL_GS_BASE:
      case MSR_TSC_AUX:
        out[0] = 0;
        return this.longMode;
      default:
        return false;
    }
  }

  wrmsr(index: number, lo: number, _hi: number): boolean {
    if (index === VmxMsr.IA32_FEATURE_CONTROL) {
      // Once locked, the MSR cannot be written until reset (SDM Vol. 3 24.7): #GP.
      if (this.featureControl & FeatureControl.LOCKED) return false;
      this.featureControl = lo & 7;
      return true;
    }
    return false;
  }

  /** MOV to CR4 in the host (the driver sets VMXE before VMXON). */
  writeCr4(value: number): boolean {
    // CR4.VMXE cannot be cleared in VMX operation (#GP).
    if (this.inVmxOperation && !(value & X86_CR4_VMXE)) return false;
    if (value & X86_CR4_VMXE && !this.hasVmx) return false;
    this.hostCr4 = value >>> 0;
    return true;
  }

  // ---- VMX instructions ------------------------------------------------------------------

  /** VMfail(error): VMfailValid with the error number if a current VMCS exists, else VMfailInvalid. */
  vmfail(error: number): VmxStatus {
    if (this.currentVmcs === INVALID_POINTER) return VmxStatus.FailInvalid;
    const slot = VMCS_SLOT_BY_ENCODING[VMCS.VM_INSTRUCTION_ERROR >>> 1];
    this.vmcs.setLo(slot, error);
    return VmxStatus.FailValid;
  }

  private badAddress(hpa: number): boolean {
    return hpa % 4096 !== 0 || hpa < 0 || hpa >= PHYS_LIMIT;
  }

  /** VMXON with the region at `hpa` (SDM 31.3 "VMXON"). */
  vmxon(hpa: number): VmxStatus {
    if (!this.inVmxOperation) {
      if (!(this.hostCr4 & X86_CR4_VMXE)) return VmxStatus.Ud;
      // CR0/CR4 must satisfy the fixed bits, and IA32_FEATURE_CONTROL must be locked with VMX
      // enabled outside SMX — the MacBook firmware left bit 2 set but bit 0 clear: #GP.
      if (
        (this.hostCr0 & CR0_FIXED0) >>> 0 !== CR0_FIXED0 ||
        (this.hostCr4 & CR4_FIXED0) >>> 0 !== CR4_FIXED0
      ) {
        return VmxStatus.Gp;
      }
      const fc = this.featureControl;
      if (!(fc & FeatureControl.LOCKED) || !(fc & FeatureControl.VMXON_ENABLED_OUTSIDE_SMX))
        return VmxStatus.Gp;
      if (this.badAddress(hpa) || !this.scratch.bind(hpa)) return VmxStatus.FailInvalid;
      if (this.scratch.revision !== VMCS_REVISION_ID) return VmxStatus.FailInvalid;
      this.inVmxOperation = true;
      this.vmxonPointer = hpa;
      this.currentVmcs = INVALID_POINTER;
      this.heldVmcs = INVALID_POINTER;
      this.epoch++;
      this.writes++;
      return VmxStatus.Succeed;
    }
    return this.vmfail(VmxInstructionError.VMXON_IN_ROOT);
  }

  /** VMXOFF: leaves VMX operation; the current-VMCS pointer becomes invalid. */
  vmxoff(): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    this.releaseGuestState();
    this.inVmxOperation = false;
    this.vmxonPointer = INVALID_POINTER;
    this.currentVmcs = INVALID_POINTER;
    this.writes++;
    return VmxStatus.Succeed;
  }

  /** VMCLEAR: marks the VMCS at `hpa` clear; if it was current, no VMCS is current any more. */
  vmclear(hpa: number): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (this.badAddress(hpa) || !this.scratch.bind(hpa))
      return this.vmfail(VmxInstructionError.VMCLEAR_INVALID_ADDRESS);
    if (hpa === this.vmxonPointer) return this.vmfail(VmxInstructionError.VMCLEAR_VMXON_POINTER);
    // "Ensures that data for the VMCS are written to the VMCS region" (SDM 31.3 VMCLEAR).
    if (hpa === this.heldVmcs) this.releaseGuestState();
    this.scratch.launchState = LaunchState.Clear;
    this.writes++;
    if (hpa === this.currentVmcs) {
      this.currentVmcs = INVALID_POINTER;
      this.vmcs.bind(-1);
    }
    return VmxStatus.Succeed;
  }

  /** VMPTRLD: makes the VMCS at `hpa` current. */
  vmptrld(hpa: number): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (this.badAddress(hpa) || !this.scratch.bind(hpa))
      return this.vmfail(VmxInstructionError.VMPTRLD_INVALID_ADDRESS);
    if (hpa === this.vmxonPointer) return this.vmfail(VmxInstructionError.VMPTRLD_VMXON_POINTER);
    if (this.scratch.revision !== VMCS_REVISION_ID)
      return this.vmfail(VmxInstructionError.VMPTRLD_INCORRECT_REVISION_ID);
    // The processor holds one VMCS's guest state: another VMCS's entry will load its own.
    if (hpa !== this.heldVmcs) this.releaseGuestState();
    this.currentVmcs = hpa;
    this.vmcs.bind(hpa);
    this.writes++;
    return VmxStatus.Succeed;
  }

  /** VMPTRST: the current-VMCS pointer (-1 when invalid). */
  vmptrst(): number {
    return this.currentVmcs;
  }

  /**
   * INVEPT (SDM Vol. 3C 31.3): invalidates the guest-physical mappings and the combined mappings
   * derived from EPT — of the EPTP `eptpLo`/`eptpHi` (single-context, type 1) or of every EPTP
   * (all-context, type 2); other types VMfailValid(28). The model caches one EPT's mappings, so
   * both types drop them all (an invalidation of more than asked is allowed, 28.3.3.4).
   */
  invept(type: number, eptpLo = 0, eptpHi = 0): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (type !== InveptType.SINGLE_CONTEXT && type !== InveptType.ALL_CONTEXT)
      return this.vmfail(VmxInstructionError.INVALID_INVEPT_INVVPID_OPERAND);
    if (type === InveptType.SINGLE_CONTEXT && eptpInvalid(eptpLo, eptpHi, MAXPHYADDR) !== 0)
      return this.vmfail(VmxInstructionError.INVALID_INVEPT_INVVPID_OPERAND);
    this.nonRoot.flushEpt();
    return VmxStatus.Succeed;
  }

  /**
   * INVVPID (31.3): invalidates the linear and combined mappings of `vpid` — one linear address
   * (type 0), the whole VPID (1), or every VPID but 0 (2); VPID 0 for types 0 and 1, or another
   * type, is VMfailValid(28). The model's TLB serves one VPID at a time and is flushed whole
   * except for type 0.
   */
  invvpid(type: number, vpid: number, gva = 0): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (type > InvvpidType.ALL_CONTEXT || (type !== InvvpidType.ALL_CONTEXT && (vpid & 0xffff) === 0))
      return this.vmfail(VmxInstructionError.INVALID_INVEPT_INVVPID_OPERAND);
    if (type === InvvpidType.INDIVIDUAL_ADDRESS) this.nonRoot.cpu.invlpg(gva);
    else this.nonRoot.cpu.flushTlb();
    return VmxStatus.Succeed;
  }

  /**
   * VMREAD of field `encoding` into `vmreadValue` (and `vmreadValueHigh`): the full access of a
   * 64-bit or natural-width field reads both halves in 64-bit operation, its low half in 32-bit
   * operation; the high access of a 64-bit field reads its high half.
   */
  vmread(encoding: number): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (this.currentVmcs === INVALID_POINTER) return VmxStatus.FailInvalid;
    const slot = encoding >>> 0 < 0x8000 ? VMCS_SLOT_BY_ENCODING[encoding >>> 1] : -1;
    if (slot < 0 || (encoding & 1 && encodingWidth(encoding) !== VmcsWidth.W64)) {
      return this.vmfail(VmxInstructionError.UNSUPPORTED_VMCS_COMPONENT);
    }
    if (GUEST_GROUP_BY_SLOT[slot] & this.coldUnsaved) this.saveCold(GUEST_GROUP_BY_SLOT[slot]);
    this.vmreadValue = encoding & 1 ? this.vmcs.hi(slot) : this.vmcs.lo(slot);
    this.vmreadValueHigh = encoding & 1 || !this.longMode ? 0 : this.vmcs.hi(slot);
    return VmxStatus.Succeed;
  }

  /**
   * VMWRITE of `value` (low 32 bits) and `valueHigh` (high 32 bits, 64-bit operation) to field
   * `encoding`. A 16-bit or 32-bit field keeps its width; the full access of a 64-bit or
   * natural-width field writes both halves (the high one 0 in 32-bit operation, where a 32-bit
   * operand is all there is). Exit-information fields are read-only (error 13).
   */
  vmwrite(encoding: number, value: number, valueHigh = 0): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (this.currentVmcs === INVALID_POINTER) return VmxStatus.FailInvalid;
    const slot = encoding >>> 0 < 0x8000 ? VMCS_SLOT_BY_ENCODING[encoding >>> 1] : -1;
    const width = encodingWidth(encoding);
    if (slot < 0 || (encoding & 1 && width !== VmcsWidth.W64)) {
      return this.vmfail(VmxInstructionError.UNSUPPORTED_VMCS_COMPONENT);
    }
    if (encodingType(encoding) === VmcsFieldType.ExitInfo) {
      return this.vmfail(VmxInstructionError.VMWRITE_READ_ONLY_COMPONENT);
    }
    const group = GUEST_GROUP_BY_SLOT[slot];
    if (group & this.coldUnsaved) this.saveCold(group);
    const lo = this.vmcs.lo(slot);
    const hi = this.vmcs.hi(slot);
    if (encoding & 1) {
      this.vmcs.setHi(slot, value >>> 0);
    } else {
      this.vmcs.setLo(slot, width === VmcsWidth.W16 ? value & 0xffff : value >>> 0);
      const wide = this.longMode && (width === VmcsWidth.W64 || width === VmcsWidth.Natural);
      this.vmcs.setHi(slot, wide ? valueHigh >>> 0 : 0);
    }
    // What the cached control and host-state checks read (see `vmentry`): every control and
    // host-state field, and of the guest state only CR0 (event injection's deliver-error-code
    // rule, 27.2.1.3). A driver's RIP, RFLAGS or interruptibility write after each exit leaves
    // the cache valid.
    const changed = this.vmcs.lo(slot) !== lo || this.vmcs.hi(slot) !== hi;
    if (changed && (encodingType(encoding) !== VmcsFieldType.Guest || (encoding & ~1) === VMCS.GUEST_CR0))
      this.writes++;
    if (changed && encodingType(encoding) === VmcsFieldType.Guest) {
      // The processor holds the cold groups: this one is loaded again at the next entry; and a
      // field outside what `checkHotGuestState` reads sends the next entry through every check.
      this.coldWritten |= group;
      if (!HOT_CHECKED[slot]) this.guestWrites++;
    }
    return VmxStatus.Succeed;
  }

  /**
   * VMLAUNCH (SDM 31.3): with a clear current VMCS, checks the controls (VMfailValid 7) and host
   * state (VMfailValid 8), then the guest state — whose failure is a VM exit with reason 33 and
   * bit 31 set, not a VMfail — and runs the guest until a VM exit. Succeed means "entered and
   * exited": the exit fields say why.
   */
  vmlaunch(): VmxStatus {
    return this.vmentry(true);
  }

  /** VMRESUME: as VMLAUNCH, for a launched VMCS (errors 5 and 6 otherwise). */
  vmresume(): VmxStatus {
    return this.vmentry(false);
  }

  /** The SDM rule the last failed VM entry broke (diagnostics only; empty after a good entry). */
  lastEntryFailure = '';

  /**
   * The processor in VMX non-root operation (created on first entry). Read several times an exit
   * (entry, the driver's register copies, the TSC): the closures that create it live in
   * `createNonRoot`, since a function that creates closures over `this` allocates their context on
   * every call, taken or not (V8), 80 bytes a read here.
   */
  get nonRoot(): VmxNonRoot {
    return this.nonRootUnit ?? this.createNonRoot();
  }
  private nonRootUnit: VmxNonRoot | null = null;

  private createNonRoot(): VmxNonRoot {
    this.nonRootUnit = new VmxNonRoot(this, {
      rdmsr: (i, out) => this.rdmsr(i, out),
      wrmsr: (i, lo, hi) => this.wrmsr(i, lo, hi),
    });
    return this.nonRootUnit;
  }
  /** Bumped by whatever may change what `checkControls`/`checkHostState` read (see `vmentry`). */
  private writes = 0;
  private checkedWrites = -1;
  private checkedVmcs = INVALID_POINTER;
  private checkedHostEfer = -1;
  private checkedEntryCtl = -1;
  /** The controls changed since non-root operation last loaded them (see `VmxNonRoot.loadControls`). */
  private controlsStale = true;

  private vmentry(launch: boolean): VmxStatus {
    if (!this.inVmxOperation) return VmxStatus.Ud;
    if (this.currentVmcs === INVALID_POINTER) return VmxStatus.FailInvalid;
    const v = this.vmcs;
    if (launch && v.launchState !== LaunchState.Clear)
      return this.vmfail(VmxInstructionError.VMLAUNCH_NONCLEAR_VMCS);
    if (!launch) {
      if (v.launchState !== LaunchState.Launched)
        return this.vmfail(VmxInstructionError.VMRESUME_NONLAUNCHED_VMCS);
      if (v.epoch !== this.epoch) return this.vmfail(VmxInstructionError.VMRESUME_AFTER_VMXOFF);
    }
    // The controls and host state passed on the last entry and nothing the checks read changed
    // since: VMWRITE (of another value), VMPTRLD, VMCLEAR, VMXON/VMXOFF bump `writes`; the exit
    // itself writes only VM_ENTRY_CONTROLS' IA-32e bit (27.2), part of the key.
    const entryCtl = this.field(VMCS.VM_ENTRY_CONTROLS);
    let rechecked = false;
    if (
      this.checkedWrites !== this.writes ||
      this.checkedVmcs !== this.currentVmcs ||
      this.checkedHostEfer !== this.hostEfer ||
      this.checkedEntryCtl !== entryCtl
    ) {
      rechecked = true;
      this.controlsStale = true;
      this.checkedVmcs = INVALID_POINTER;
      const ctl = checkControls(this, this.caps);
      if (ctl !== 0) {
        this.lastEntryFailure = ctl;
        return this.vmfail(VmxInstructionError.ENTRY_INVALID_CONTROL_FIELD);
      }
      const host = checkHostState(this);
      if (host !== 0) {
        this.lastEntryFailure = host;
        return this.vmfail(VmxInstructionError.ENTRY_INVALID_HOST_STATE_FIELD);
      }
      this.checkedWrites = this.writes;
      this.checkedVmcs = this.currentVmcs;
      this.checkedHostEfer = this.hostEfer;
      this.checkedEntryCtl = entryCtl;
    }
    const tpr = checkTprThreshold(this);
    if (tpr !== 0) {
      this.lastEntryFailure = tpr;
      return this.vmfail(VmxInstructionError.ENTRY_INVALID_CONTROL_FIELD);
    }
    // The guest state the last exit left in the processor, with no field written since that the
    // hot check does not read, under the same controls: only the hot rules (see guest-cache.ts).
    const held = this.heldVmcs === this.currentVmcs;
    const s = this.nonRoot.cpu.state;
    let guest: string | 0;
    if (
      held &&
      !rechecked &&
      this.checkedGuestWrites === this.guestWrites &&
      !(this.field(VMCS.GUEST_RFLAGS) & X86_EFLAGS_VM)
    )
      guest = checkHotGuestState(this, s.cr[0], s.segAttr[1]);
    else {
      this.writeBackGuestState();
      guest = checkGuestState(this);
      if (guest === 0) this.checkedGuestWrites = this.guestWrites;
    }
    if (guest !== 0) {
      // 27.8: VM-entry failure during or after loading guest state; launch state unchanged.
      this.lastEntryFailure = guest;
      this.setField(VMCS.VM_EXIT_REASON, (ExitReason.INVALID_STATE | VMX_EXIT_REASONS_FAILED_VMENTRY) >>> 0);
      this.setField(VMCS.EXIT_QUALIFICATION, 0);
      return VmxStatus.Succeed;
    }
    this.lastEntryFailure = '';
    if (launch) {
      v.launchState = LaunchState.Launched;
      v.epoch = this.epoch;
    }
    const cold = held ? this.coldWritten : GUEST_COLD;
    this.coldWritten = 0;
    this.nonRoot.enterGuest(cold, this.controlsStale);
    this.controlsStale = false;
    return VmxStatus.Succeed;
  }

  // ---- the guest state held in the processor across an exit (guest-cache.ts) ----------------

  /** The VMCS whose cold guest state the processor holds (its last exit's), or -1. */
  private heldVmcs = INVALID_POINTER;
  /** Cold groups the processor holds and the region lacks (written back on demand). */
  private coldUnsaved = 0;
  /** Cold groups VMWRITE changed since the exit: the next entry loads them. */
  private coldWritten = 0;
  /** Bumped by a VMWRITE that changes a guest field `checkHotGuestState` does not read. */
  private guestWrites = 0;
  private checkedGuestWrites = -1;

  /** At a VM exit (nonroot.ts's save): the cold groups stay in the processor. */
  holdColdGuestState(): void {
    this.coldWritten = 0;
    if (!this.holdGuestState) {
      saveColdGroups(this.nonRoot.cpu.state, this.vmcs, GUEST_COLD, this.longMode);
      return;
    }
    this.heldVmcs = this.currentVmcs;
    this.coldUnsaved = GUEST_COLD;
  }

  private saveCold(groups: number): void {
    saveColdGroups(this.nonRoot.cpu.state, this.vmcs, groups, this.longMode);
    this.coldUnsaved &= ~groups;
  }

  /**
   * Everything the processor holds into the region of the held VMCS (still the current one:
   * VMPTRLD and VMCLEAR call this before they change it).
   */
  private writeBackGuestState(): void {
    if (this.coldUnsaved !== 0) this.saveCold(this.coldUnsaved);
  }

  /** Writes back and lets go: the next entry loads the whole guest state from its VMCS. */
  private releaseGuestState(): void {
    this.writeBackGuestState();
    this.heldVmcs = INVALID_POINTER;
  }

  // ---- helpers for the processor's own accesses (VM entry/exit), no checks -------------

  /** Reads a field of the current VMCS (low half) as the processor does internally. */
  field(encoding: number): number {
    const slot = VMCS_SLOT_BY_ENCODING[encoding >>> 1];
    if (GUEST_GROUP_BY_SLOT[slot] & this.coldUnsaved) this.saveCold(GUEST_GROUP_BY_SLOT[slot]);
    return this.vmcs.lo(slot);
  }
  fieldHigh(encoding: number): number {
    const slot = VMCS_SLOT_BY_ENCODING[encoding >>> 1];
    if (GUEST_GROUP_BY_SLOT[slot] & this.coldUnsaved) this.saveCold(GUEST_GROUP_BY_SLOT[slot]);
    return this.vmcs.hi(slot);
  }
  /** Writes a field of the current VMCS (the processor may write exit-information fields). */
  setField(encoding: number, value: number): void {
    const slot = VMCS_SLOT_BY_ENCODING[encoding >>> 1];
    this.vmcs.setLo(slot, value >>> 0);
    this.vmcs.setHi(slot, 0);
  }
  setFieldHigh(encoding: number, value: number): void {
    this.vmcs.setHi(VMCS_SLOT_BY_ENCODING[encoding >>> 1], value >>> 0);
  }

  /** True when `hpa` is a valid VMX physical address for bitmaps etc. (aligned, in range). */
  validPageAddress(hpa: number): boolean {
    return !this.badAddress(hpa);
  }
}

export { CR0_FIXED1, CR4_FIXED1 };
