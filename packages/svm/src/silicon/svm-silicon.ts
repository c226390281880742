/**
 * An AMD processor with SVM, as the SVM driver programs it: CPUID (AuthenticAMD,
 * CPUID.80000001:ECX.SVM, leaf 8000000Ah), MSRs (EFER with SVME, VM_CR with SVMDIS,
 * VM_HSAVE_PA), and VMRUN with its checks (APM Vol. 2 15.5): #UD without EFER.SVME, #GP for a
 * VMCB address that is not page-aligned or not memory, VMEXIT_INVALID (EXITCODE = -1) for a VMCB
 * that fails the consistency checks (15.5.1). Guest execution is in `guest-mode.ts`.
 */
import {
  cpuidVendorLeaf,
  type HostCpu,
  type HostPhysicalMemory,
  siliconCpuid1Edx,
  siliconHostMemory,
} from '@kvm/core';
import { CPUID_EXT_ECX, CPUID_EXT_EDX, CPUID1_ECX, defaultCpuid, engineJitDefault } from '@kvm/x86emu';
import { SvmGuestMode } from './guest-mode.js';
import {
  CPUID_80000001_ECX_SVM,
  EFER_SVME,
  Intercept2,
  SvmExit,
  SvmFeature,
  SvmMsr,
  VmCr,
} from './svm-arch.js';
import { Vmcb } from './vmcb.js';
import { VMCB } from './vmcb-layout.js';

/** VMRUN's outcome (the faults are the host's, returned not thrown). */
export const SvmStatus = {
  /** The guest ran (or failed the consistency checks) and a #VMEXIT happened: read EXITCODE. */
  Exited: 0,
  /** #UD: EFER.SVME is 0. */
  Ud: 1,
  /** #GP: CPL > 0 or a bad VMCB address. */
  Gp: 2,
} as const;
export type SvmStatus = (typeof SvmStatus)[keyof typeof SvmStatus];

export interface SvmSiliconConfig {
  /** CPUID.80000001:ECX.SVM. Default true. */
  svm?: boolean;
  /** VM_CR as the firmware left it (SVMDIS bit 4 = disabled in the BIOS). Default 0. */
  vmCr?: number;
  vendor?: string;
  memory?: HostPhysicalMemory;
  /**
   * AMD64 long mode (CPUID.80000001H:EDX.LM, EFER.LME/LMA, the 64-bit VMCB state). Default true;
   * false models a 32-bit K8-era part.
   */
  longMode?: boolean;
  /**
   * The block compiler of x86emu in guest mode (`CpuOptions.jit`): compiled guest code, the same
   * #VMEXITs and results. Default off (the interpreter) unless `X86EMU_JIT=1`: see x86emu's
   * `engineJitDefault`.
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
}

const MSR_TSC = 0x10;
const MSR_PAT = 0x277;
const MSR_SYSENTER_CS = 0x174;
const MSR_SYSENTER_ESP = 0x175;
const MSR_SYSENTER_EIP = 0x176;
const MSR_STAR = 0xc0000081;
const MSR_LSTAR = 0xc0000082;
const MSR_CSTAR = 0xc0000083;
const MSR_SYSCALL_MASK = 0xc0000084;
const MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101;
const MSR_KERNEL_GS_BASE = 0xc0000102;
const MSR_TSC_AUX = 0xc0000103;
const MSR_HWCR = 0xc0010015;
const MSR_SYSCFG = 0xc0010010;

const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
/** EFER bits this processor implements: SCE, NXE, SVME, and LME/LMA with long mode. */
const EFER_VALID_32 = (1 << 0) | (1 << 11) | EFER_SVME;
const EFER_VALID_64 = EFER_VALID_32 | EFER_LME | EFER_LMA;
const X86_CR0_PE = 1 << 0;
const X86_CR0_PG = 0x80000000;
const X86_CR4_PAE = 1 << 5;
/** VMCB segment attrib: L (bit 9) and D/B (bit 10). */
const ATTRIB_L = 1 << 9;
const ATTRIB_DB = 1 << 10;

/** Physical-address width (CPUID.80000008:EAX[7:0]). */
export const SVM_MAXPHYADDR = 40;
/** First physical address beyond SVM_MAXPHYADDR (not recomputed per VMRUN/VMLOAD/VMSAVE). */
const SVM_PHYS_LIMIT = 2 ** SVM_MAXPHYADDR;

export class SvmSilicon implements HostCpu {
  readonly memory: HostPhysicalMemory;
  readonly vendor: string;
  readonly hasSvm: boolean;
  /** AMD64 long mode. */
  readonly longMode: boolean;
  /** `SvmSiliconConfig.jit`. */
  readonly jit: boolean;
  /** `SvmSiliconConfig.jitBackend`. */
  readonly jitBackend: 'js' | 'wasm' | undefined;
  /** The config's `randomSeed`. */
  readonly randomSeed: number | undefined;
  vmCr: number;
  /** The host's EFER. */
  efer = 0;
  hsavePa = 0;
  /** Why the last VMRUN failed its consistency checks (diagnostics). */
  lastInvalid = '';
  private readonly vmcb: Vmcb;
  private guestUnit: SvmGuestMode | null = null;

  constructor(config: SvmSiliconConfig = {}) {
    this.jit = config.jit ?? engineJitDefault();
    this.jitBackend = config.jitBackend;
    this.randomSeed = config.randomSeed;
    this.memory =
      config.memory ?? siliconHostMemory(this.jit, this.jitBackend, config.wasmRamBytes, config.sharedArena);
    this.vendor = config.vendor ?? 'AuthenticAMD';
    this.hasSvm = config.svm ?? true;
    this.longMode = config.longMode ?? true;
    this.vmCr = config.vmCr ?? 0;
    this.vmcb = new Vmcb(this.memory);
  }

  get guest(): SvmGuestMode {
    if (this.guestUnit === null) {
      this.guestUnit = new SvmGuestMode(this, {
        rdmsr: (i, out) => this.rdmsr(i, out),
        wrmsr: (i, lo, hi) => this.wrmsr(i, lo, hi),
      });
    }
    return this.guestUnit;
  }

  cpuid(leaf: number, subleaf: number, out: Uint32Array): void {
    out.fill(0);
    switch (leaf >>> 0) {
      case 0:
        cpuidVendorLeaf(this.vendor, 0xd, out);
        return;
      case 1:
        // Family 15 (K8)'s signature and platform bits, with the instruction set x86emu
        // implements (x87, MMX, SSE…SSE4.2, POPCNT, CX16, XSAVE, RDRAND); no VMX bit on AMD.
        out[0] = 0x00040f12;
        // CLFLUSH line size 8 × 8 = 64 bytes (EBX[15:8]), as CPUID.1:EDX.CLFSH says it is given.
        out[1] = 0x00000800;
        out[2] = CPUID1_ECX;
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
        out[0] = 0x8000000a;
        return;
      case 0x80000001:
        out[2] = this.hasSvm ? CPUID_80000001_ECX_SVM : 0;
        // With long mode, what x86emu implements (LM, SYSCALL, NX, Page1GB, RDTSCP; LAHF-LM);
        // the 32-bit part has SYSCALL (11) and NX (20).
        if (this.longMode) {
          out[2] |= CPUID_EXT_ECX;
          out[3] = CPUID_EXT_EDX;
        } else out[3] = (1 << 11) | (1 << 20);
        return;
      case 0x80000008:
        out[0] = SVM_MAXPHYADDR | ((this.longMode ? 48 : 32) << 8);
        return;
      case 0x8000000a:
        if (!this.hasSvm) return;
        out[0] = 1; // SVM revision
        out[1] = 64; // ASIDs
        // NP: nested paging (15.25), NRIPS, VMCB clean bits (15.15.3), decode assists, the PAUSE
        // filter and threshold (15.14.4).
        out[3] =
          SvmFeature.NP |
          SvmFeature.NRIPS |
          SvmFeature.VMCB_CLEAN |
          SvmFeature.DECODE_ASSISTS |
          SvmFeature.PAUSE_FILTER |
          SvmFeature.PAUSE_FILTER_THRESHOLD;
        return;
    }
  }

  rdmsr(index: number, out: Uint32Array): boolean {
    out[1] = 0;
    switch (index >>> 0) {
      case SvmMsr.EFER:
        out[0] = this.efer;
        return true;
      case SvmMsr.VM_CR:
        out[0] = this.vmCr;
        return this.hasSvm;
      case SvmMsr.VM_HSAVE_PA:
        out[0] = this.hsavePa;
        return this.hasSvm;
      case MSR_TSC:
      case MSR_PAT:
      case MSR_SYSENTER_CS:
      case MSR_SYSENTER_ESP:
      case MSR_SYSENTER_EIP:
      case MSR_STAR:
      case MSR_HWCR:
      case MSR_SYSCFG:
        out[0] = 0;
        return true;
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

  wrmsr(index: number, lo: number, hi: number): boolean {
    switch (index >>> 0) {
      case SvmMsr.EFER:
        if (lo & ~this.eferValid || hi) return false;
        // EFER.SVME cannot be set while VM_CR.SVMDIS is 1 (15.30.1): #GP.
        if (lo & EFER_SVME && (!this.hasSvm || this.vmCr & VmCr.SVMDIS)) return false;
        this.efer = lo >>> 0;
        return true;
      case SvmMsr.VM_CR:
        if (!this.hasSvm || this.vmCr & VmCr.LOCK) return false;
        this.vmCr = lo & (VmCr.LOCK | VmCr.SVMDIS);
        return true;
      case SvmMsr.VM_HSAVE_PA:
        if (!this.hasSvm || lo & 0xfff) return false;
        this.hsavePa = lo >>> 0;
        return true;
      default:
        return false;
    }
  }

  /** EFER bits that are not reserved on this part. */
  get eferValid(): number {
    return this.longMode ? EFER_VALID_64 : EFER_VALID_32;
  }

  /** The consistency checks of 15.5.1 that matter here; a reason, or '' when they pass. */
  private consistency(v: Vmcb): string {
    if (!(v.u32(VMCB.EFER) & EFER_SVME)) return 'guest EFER.SVME is 0';
    const cr0 = v.u32(VMCB.CR0);
    if (cr0 & (1 << 29) && !(cr0 & (1 << 30))) return 'CR0.CD = 0 with CR0.NW = 1';
    if (v.hi(VMCB.CR0) !== 0) return 'CR0[63:32] not zero';
    if (v.hi(VMCB.CR3) >>> (SVM_MAXPHYADDR - 32) !== 0) return 'CR3 beyond MAXPHYADDR';
    // VME…OSXMMEXCPT and OSXSAVE (bit 18) are the implemented CR4 bits.
    if (v.u32(VMCB.CR4) & ~(0x7ff | (1 << 18)) || v.hi(VMCB.CR4)) return 'CR4 reserved bits';
    if (v.hi(VMCB.DR6) || v.hi(VMCB.DR7)) return 'DR6/DR7 upper bits';
    if (v.u32(VMCB.EFER) & ~this.eferValid || v.hi(VMCB.EFER)) return 'EFER reserved bits';
    // Long mode (15.5.1): EFER.LME with CR0.PG needs CR4.PAE and CR0.PE, and a CS with L and D
    // both set is illegal then.
    const efer = v.u32(VMCB.EFER);
    if (efer & EFER_LME && cr0 & X86_CR0_PG) {
      if (!(v.u32(VMCB.CR4) & X86_CR4_PAE)) return 'EFER.LME and CR0.PG with CR4.PAE = 0';
      if (!(cr0 & X86_CR0_PE)) return 'EFER.LME and CR0.PG with CR0.PE = 0';
      const cs = v.u16(VMCB.CS + 2);
      if (cs & ATTRIB_L && cs & ATTRIB_DB) return 'EFER.LME, CR0.PG, CR4.PAE with CS.L and CS.D';
    }
    if (!(v.u32(VMCB.INTERCEPT_MISC2) & Intercept2.VMRUN)) return 'VMRUN intercept clear';
    if (v.u32(VMCB.GUEST_ASID) === 0) return 'ASID 0';
    const inj = v.u32(VMCB.EVENTINJ);
    if (inj & 0x80000000) {
      const type = (inj >>> 8) & 7;
      if (type === 1 || type > 4) return 'EVENTINJ reserved type';
      if (type === 3 && (inj & 0xff) === 2) return 'EVENTINJ exception with vector 2';
    }
    return '';
  }

  /**
   * VMRUN with RAX = `vmcbHpa`: #UD without EFER.SVME, #GP for a bad address, else runs the guest
   * (or fails the consistency checks with EXITCODE = VMEXIT_INVALID) until #VMEXIT.
   */
  vmrun(vmcbHpa: number): SvmStatus {
    if (!(this.efer & EFER_SVME)) return SvmStatus.Ud;
    if (vmcbHpa % 4096 !== 0 || vmcbHpa >= SVM_PHYS_LIMIT || !this.vmcb.bind(vmcbHpa)) return SvmStatus.Gp;
    const v = this.vmcb;
    const why = this.consistency(v);
    if (why !== '') {
      this.lastInvalid = why;
      v.set64(VMCB.EXITCODE, 0xffffffff, 0xffffffff);
      return SvmStatus.Exited;
    }
    this.lastInvalid = '';
    this.guest.run(v);
    return SvmStatus.Exited;
  }

  /** VMLOAD's and VMSAVE's checks (15.5.2): #UD without EFER.SVME, #GP for a bad address. */
  private bindForLoadSave(hpa: number): SvmStatus {
    if (!(this.efer & EFER_SVME)) return SvmStatus.Ud;
    if (hpa % 4096 !== 0 || hpa >= SVM_PHYS_LIMIT || !this.vmcb.bind(hpa)) return SvmStatus.Gp;
    return SvmStatus.Exited;
  }

  /**
   * VMLOAD (APM 15.5.2): the processor state VMRUN leaves alone — FS, GS, TR, LDTR with their
   * hidden parts, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS/ESP/EIP — from the VMCB
   * at `hpa`. `Exited` means done.
   */
  vmload(hpa: number): SvmStatus {
    const st = this.bindForLoadSave(hpa);
    if (st === SvmStatus.Exited) this.guest.vmload(this.vmcb);
    return st;
  }

  /** VMSAVE: the same state back into the VMCB at `hpa`. */
  vmsave(hpa: number): SvmStatus {
    const st = this.bindForLoadSave(hpa);
    if (st === SvmStatus.Exited) this.guest.vmsave(this.vmcb);
    return st;
  }
}

export { SvmExit };
