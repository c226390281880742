/**
 * The SVM driver: `ArchOps` implemented on the SVM silicon the way kvm-amd (svm.c) programs
 * real hardware — EFER.SVME and the host save area, a VMCB per vCPU with its intercept vectors
 * and permission maps, guest state in the VMCB's save area, CR0/CR3/CR4 intercepted for shadow
 * paging (SVM has no read shadows), exit handlers by EXITCODE.
 */
import {
  type ArchDtable,
  type ArchOps,
  type ArchSegment,
  EntryResult,
  type ExitResult,
  type HardwareCheck,
  KVM_DEFAULT_PLE_GAP,
  KVM_EXIT,
  type KvmRunView,
  kvmFerr,
  kvmGetCr,
  kvmGuestDebugExceptions,
  kvmResetControlRegs,
  kvmUsesHwBp,
  loadGuestGprs,
  type SoftVcpu,
  saveGuestGprs,
  siliconCpuStats,
} from '@kvm/core';
import type { CpuState } from '@kvm/x86emu';
import { NP_ENABLE } from '../silicon/npt.js';
import {
  CPUID_80000001_ECX_SVM,
  EFER_SVME,
  EventInj,
  EventInjType,
  Intercept1,
  Intercept2,
  SvmExit,
  SvmFeature,
  SvmMsr,
  VIntr,
  VMCB_CLEAN_HONOURED,
  VmCr,
} from '../silicon/svm-arch.js';
import { type SvmSilicon, SvmStatus } from '../silicon/svm-silicon.js';
import { Vmcb } from '../silicon/vmcb.js';
import {
  SEG_ATTRIB,
  SEG_BASE,
  SEG_LIMIT,
  SEG_SELECTOR,
  VMCB,
  VMCB_SEG_BY_SREG,
} from '../silicon/vmcb-layout.js';
import { svmHandleExit } from './exit-handlers.js';
import { svmGetMsr, svmSetMsr } from './svm-msrs.js';
import { toSvm, VcpuSvm } from './vcpu-svm.js';

const X86_CR0_PE = 1 << 0;
const X86_CR0_WP = 1 << 16;
const X86_CR0_NW = 1 << 29;
const X86_CR0_CD = 1 << 30;
const X86_CR0_PG = 0x80000000;
const X86_CR4_PAE = 1 << 5;
const X86_EFLAGS_IF = 1 << 9;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
/** Pages of the I/O permission map (APM Vol. 2, 15.10.1: 12 KiB, one bit per port). */
const IOPM_PAGES = 3;
/** Pages of the MSR permission map (APM Vol. 2, 15.11: 8 KiB, two bits per MSR). */
const MSRPM_PAGES = 2;

/** `VcpuSvm.exitCounts` index of NPF (exit code 400h). */
const NPF_COUNT = 0x8f;

/** DR6's bits that read as 1: what svm_vcpu_run puts in the VMCB while the debugger owns the registers. */
const DR6_ACTIVE_LOW = 0xffff0ff0;

/** What `new SvmDriver` takes besides the silicon. */
export interface SvmDriverOptions {
  /**
   * Nested paging (kvm-amd's `npt` parameter, `npt_enabled`): the guest runs on its own page
   * tables with the MMU's TDP map as N_CR3 (APM 15.25); CR3 accesses, INVLPG and #PF no longer
   * exit, a nested page fault does. The VM's MMU must be made with `tdp: true`. Default false.
   */
  npt?: boolean;
}

/** KVM's `KVM_SVM_DEFAULT_PLE_WINDOW`: PAUSEs of one spin before the filter lets one exit. */
export const KVM_SVM_DEFAULT_PLE_WINDOW = 3000;

export class SvmDriver implements ArchOps {
  readonly name = 'svm';
  readonly cpu: SvmSilicon;
  /** `npt_enabled` (`SvmDriverOptions.npt`). */
  readonly npt: boolean;
  readonly memory;
  /** The VMCB of the vCPU last loaded. */
  readonly vmcb: Vmcb;
  private hsavePage = -1;
  /**
   * `pause_filter_count` and `pause_filter_thresh` when the silicon has the filter (CPUID
   * 8000000A:EDX bits 10 and 12), else 0: every PAUSE exits.
   */
  pauseFilterCount = 0;
  private pauseFilterThreshold = 0;
  private loaded: SoftVcpu | null = null;
  /**
   * The vCPU whose VMLOAD state (FS, GS, TR, LDTR, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK,
   * SYSENTER_CS/ESP/EIP) the processor holds, newer than that vCPU's VMCB: `run` VMLOADs a vCPU's
   * VMCB only when the processor does not hold its state already, and leaves the VMSAVE after
   * VMRUN to `syncSaveArea`, which every driver access to those fields calls first. KVM's
   * vmenter.S does VMLOAD, VMRUN, VMSAVE on every entry, cheap on the silicon; the model's copies
   * of those 13 fields each way were 7 % of bench-ctxsw32's vCPU on `svm,npt=off`.
   */
  private saveAreaHeld: SoftVcpu | null = null;
  /** The silicon honours VMCB clean bits (CPUID 8000000A:EDX bit 5). */
  private cleanBits = false;
  private readonly msrOut = new Uint32Array(2);

  constructor(silicon: SvmSilicon, options: SvmDriverOptions = {}) {
    this.cpu = silicon;
    this.npt = options.npt === true;
    this.memory = silicon.memory;
    this.vmcb = new Vmcb(silicon.memory);
  }

  /**
   * `has_svm` + `svm_hardware_setup` + `svm_hardware_enable`: AuthenticAMD silicon with
   * CPUID.80000001:ECX.SVM, VM_CR.SVMDIS clear (else "disabled by bios"), then EFER.SVME and
   * the host save area.
   */
  hardwareSetup(): HardwareCheck {
    const si = this.cpu;
    const r = new Uint32Array(4);
    si.cpuid(0, 0, r);
    const vendor = String.fromCharCode(
      ...[r[1], r[3], r[2]].flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]),
    );
    if (vendor !== 'AuthenticAMD') {
      return {
        ok: false,
        reason: `kvm-amd: the SVM backend cannot drive ${vendor} silicon (they're not on speaking terms); use the VMX backend`,
      };
    }
    si.cpuid(0x80000001, 0, r);
    if (!(r[2] & CPUID_80000001_ECX_SVM))
      return { ok: false, reason: 'kvm-amd: no hardware support (CPUID.80000001:ECX.SVM is clear)' };
    const out = new Uint32Array(2);
    si.rdmsr(SvmMsr.VM_CR, out);
    if (out[0] & VmCr.SVMDIS) {
      return {
        ok: false,
        reason: 'kvm-amd: disabled by bios (VM_CR.SVMDIS is set); enable SVM in the firmware setup',
      };
    }
    // svm_hardware_setup: the PAUSE filter, with its threshold, when the processor has them.
    si.cpuid(0x8000000a, 0, r);
    this.pauseFilterCount = r[3] & SvmFeature.PAUSE_FILTER ? KVM_SVM_DEFAULT_PLE_WINDOW : 0;
    this.pauseFilterThreshold = r[3] & SvmFeature.PAUSE_FILTER_THRESHOLD ? KVM_DEFAULT_PLE_GAP : 0;
    // VMCB clean bits: every write of the driver's marks its area dirty (vmcb_mark_dirty), and
    // each VMRUN's exit marks them all clean again (`run`).
    this.cleanBits = (r[3] & SvmFeature.VMCB_CLEAN) !== 0;
    this.vmcb.tracksClean = this.cleanBits;
    si.rdmsr(SvmMsr.EFER, out);
    if (!(out[0] & EFER_SVME)) {
      if (!si.wrmsr(SvmMsr.EFER, out[0] | EFER_SVME, 0))
        return { ok: false, reason: 'kvm-amd: cannot set EFER.SVME' };
      this.hsavePage = si.memory.allocPage();
      si.wrmsr(SvmMsr.VM_HSAVE_PA, this.hsavePage * 4096, 0);
    }
    return { ok: true };
  }

  hardwareUnsetup(): void {
    const out = new Uint32Array(2);
    this.cpu.rdmsr(SvmMsr.EFER, out);
    this.cpu.wrmsr(SvmMsr.EFER, out[0] & ~EFER_SVME, 0);
    if (this.hsavePage >= 0) this.cpu.memory.freePage(this.hsavePage);
    this.hsavePage = -1;
  }

  hasMsr(index: number): boolean {
    return this.cpu.rdmsr(index, this.msrOut);
  }

  // ---- vCPU life --------------------------------------------------------------------------

  /**
   * `svm_create_vcpu`: the VMCB page and the permission maps. Each map is one run of
   * physically contiguous pages, because the VMCB names only its base (APM Vol. 2, 15.10.1:
   * IOPM_BASE_PA, 12 KiB; 15.11: MSRPM_BASE_PA, 8 KiB); svm.c takes them from
   * `alloc_pages(order)` for the same reason. All ones: every port and MSR access exits.
   */
  vcpuCreate(vcpu: SoftVcpu): void {
    const mem = this.cpu.memory;
    const vmcbPage = mem.allocPage();
    let iopmPage = -1;
    try {
      iopmPage = mem.allocPages(IOPM_PAGES);
      const msrpmPage = mem.allocPages(MSRPM_PAGES);
      for (let i = 0; i < IOPM_PAGES; i++) mem.pageView(iopmPage + i)!.fill(0xff);
      for (let i = 0; i < MSRPM_PAGES; i++) mem.pageView(msrpmPage + i)!.fill(0xff);
      const svm = new VcpuSvm();
      svm.vmcbPage = vmcbPage;
      svm.iopmPage = iopmPage;
      svm.msrpmPage = msrpmPage;
      vcpu.arch = svm;
    } catch (e) {
      // ENOMEM part-way: give back what was taken, as svm_create_vcpu's error labels do.
      if (iopmPage >= 0) mem.freePages(iopmPage, IOPM_PAGES);
      mem.freePage(vmcbPage);
      throw e;
    }
  }

  vcpuLoad(vcpu: SoftVcpu): void {
    if (this.loaded === vcpu && this.vmcb.hpa === toSvm(vcpu).vmcbPage * 4096) return;
    this.vmcb.bind(toSvm(vcpu).vmcbPage * 4096);
    this.loaded = vcpu;
  }

  vcpuPut(_vcpu: SoftVcpu): void {}

  /**
   * Before the driver reads or writes a VMLOAD field of `vcpu`'s VMCB (`saveAreaHeld`): the
   * processor's newer copy goes into the VMCB (VMSAVE), and the next entry VMLOADs it again, so a
   * write the driver makes there is what the guest runs with.
   */
  syncSaveArea(vcpu: SoftVcpu): void {
    if (this.saveAreaHeld !== vcpu) return;
    this.saveAreaHeld = null;
    this.cpu.vmsave(toSvm(vcpu).vmcbPage * 4096);
  }

  vcpuSetup(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    if (this.saveAreaHeld === vcpu) this.saveAreaHeld = null;
    this.memory.pageView(toSvm(vcpu).vmcbPage)!.fill(0);
    this.initVmcb(vcpu);
  }

  /** `init_vmcb`: intercepts, maps, ASID, and the reset state (APM 14.1.3, as KVM sets it). */
  initVmcb(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    this.syncSaveArea(vcpu);
    const v = this.vmcb;
    const svm = toSvm(vcpu);
    // CR0, CR3, CR4 reads and writes, CR8 writes: shadow paging without read shadows. With NPT
    // the guest owns CR3 (init_vmcb: CR3 read/write intercepts cleared).
    const cr3 = this.npt ? 0 : (1 << 3) | ((1 << 3) << 16);
    v.setU32(
      VMCB.INTERCEPT_CR,
      (1 << 0) | (1 << 4) | ((1 << 0) << 16) | ((1 << 4) << 16) | ((1 << 8) << 16) | cr3,
    );
    v.setU32(VMCB.INTERCEPT_DR, 0);
    v.setU32(VMCB.INTERCEPT_EXCEPTIONS, this.npt ? 0 : 1 << 14);
    v.setU32(
      VMCB.INTERCEPT_MISC1,
      Intercept1.INTR |
        Intercept1.NMI |
        Intercept1.SMI |
        Intercept1.CPUID |
        Intercept1.INVD |
        Intercept1.HLT |
        // The shadow MMU's unsync pages are resynced on INVLPG (init_vmcb without NPT).
        (this.npt ? 0 : Intercept1.INVLPG) |
        Intercept1.IOIO_PROT |
        Intercept1.MSR_PROT |
        // A task switch loads CR3 behind the shadow MMU's back: KVM intercepts it (init_vmcb).
        Intercept1.TASK_SWITCH |
        // Pause-loop exiting (init_vmcb's INTERCEPT_PAUSE, behind the pause filter): a vCPU
        // spinning for another yields (kvm_vcpu_on_spin), which matters when the vCPUs take
        // turns on one thread.
        Intercept1.PAUSE |
        Intercept1.SHUTDOWN,
    );
    v.setU32(
      VMCB.INTERCEPT_MISC2,
      Intercept2.VMRUN | Intercept2.VMMCALL | Intercept2.WBINVD | Intercept2.XSETBV,
    );
    v.setU16(VMCB.PAUSE_FILTER_COUNT, this.pauseFilterCount);
    v.setU16(VMCB.PAUSE_FILTER_THRESHOLD, this.pauseFilterThreshold);
    v.set64(VMCB.IOPM_BASE_PA, svm.iopmPage * 4096, 0);
    v.set64(VMCB.MSRPM_BASE_PA, svm.msrpmPage * 4096, 0);
    v.setU32(VMCB.GUEST_ASID, 1);
    // Nested paging (15.25.3): NP_ENABLE; N_CR3 is the MMU's TDP root (setCr3).
    v.set64(VMCB.NP_ENABLE, this.npt ? NP_ENABLE : 0, 0);
    v.setU32(VMCB.V_INTR, VIntr.MASKING);
    v.set64(VMCB.EVENTINJ, 0, 0);
    for (let i = 0; i < 8; i++) {
      const o = VMCB_SEG_BY_SREG[i];
      v.setU16(o + SEG_SELECTOR, 0);
      v.setU16(o + SEG_ATTRIB, i === 6 ? 0x82 : i === 7 ? 0x8b : 0x93);
      v.setU32(o + SEG_LIMIT, 0xffff);
      v.set64(o + SEG_BASE, 0, 0);
    }
    v.setU16(VMCB.CS + SEG_SELECTOR, 0xf000);
    v.setU16(VMCB.CS + SEG_ATTRIB, 0x9b);
    v.set64(VMCB.CS + SEG_BASE, 0xffff0000, 0);
    v.setU32(VMCB.GDTR + SEG_LIMIT, 0xffff);
    v.setU32(VMCB.IDTR + SEG_LIMIT, 0xffff);
    v.set64(VMCB.RFLAGS, 2, 0);
    v.set64(VMCB.RIP, 0xfff0, 0);
    v.set64(VMCB.RSP, 0, 0);
    v.set64(VMCB.RAX, 0, 0);
    v.set64(VMCB.DR6, 0xffff0ff0, 0);
    v.set64(VMCB.DR7, 0x400, 0);
    v.set64(VMCB.CR2, 0, 0);
    v.setU8(VMCB.CPL, 0);
    v.set64(VMCB.G_PAT, 0x00070406, 0x00070406);
    kvmResetControlRegs(vcpu, 0x600);
  }

  vcpuFree(vcpu: SoftVcpu): void {
    const svm = vcpu.arch as VcpuSvm | null;
    if (svm === null) return;
    const mem = this.cpu.memory;
    if (this.saveAreaHeld === vcpu) this.saveAreaHeld = null;
    if (this.loaded === vcpu) {
      this.vmcb.bind(-1);
      this.loaded = null;
    }
    if (svm.vmcbPage >= 0) mem.freePage(svm.vmcbPage);
    if (svm.iopmPage >= 0) mem.freePages(svm.iopmPage, IOPM_PAGES);
    if (svm.msrpmPage >= 0) mem.freePages(svm.msrpmPage, MSRPM_PAGES);
    svm.vmcbPage = svm.iopmPage = svm.msrpmPage = -1;
    vcpu.arch = null;
  }

  // ---- registers -----------------------------------------------------------------------------

  cacheRegs(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    vcpu.regs[0] = this.vmcb.u32(VMCB.RAX);
    vcpu.regsHigh[0] = this.vmcb.hi(VMCB.RAX);
    vcpu.regs[4] = this.vmcb.u32(VMCB.RSP);
    vcpu.regsHigh[4] = this.vmcb.hi(VMCB.RSP);
    vcpu.rip = this.vmcb.u32(VMCB.RIP);
    vcpu.ripHigh = this.vmcb.hi(VMCB.RIP);
  }

  decacheRegs(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.RAX, vcpu.regs[0], vcpu.regsHigh[0]);
    this.vmcb.set64(VMCB.RSP, vcpu.regs[4], vcpu.regsHigh[4]);
    this.vmcb.set64(VMCB.RIP, vcpu.rip, vcpu.ripHigh);
  }

  getRflags(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcb.u32(VMCB.RFLAGS);
  }
  setRflags(vcpu: SoftVcpu, rflags: number): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.RFLAGS, rflags, 0);
  }

  /** `svm_get_segment`: SVM has no "unusable" bit; a segment that is not present is unusable. */
  getSegment(vcpu: SoftVcpu, seg: number, out: ArchSegment): void {
    this.vcpuLoad(vcpu);
    if (seg >= 4) this.syncSaveArea(vcpu);
    const o = VMCB_SEG_BY_SREG[seg];
    const v = this.vmcb;
    const a = v.u16(o + SEG_ATTRIB);
    out.selector = v.u16(o + SEG_SELECTOR);
    out.base = v.u32(o + SEG_BASE);
    out.baseHigh = v.hi(o + SEG_BASE);
    out.limit = v.u32(o + SEG_LIMIT);
    out.type = a & 15;
    out.s = (a >>> 4) & 1;
    out.dpl = (a >>> 5) & 3;
    out.present = (a >>> 7) & 1;
    out.avl = (a >>> 8) & 1;
    out.l = (a >>> 9) & 1;
    out.db = (a >>> 10) & 1;
    out.g = (a >>> 11) & 1;
    out.unusable = out.present ? 0 : 1;
  }

  /** `svm_get_segment_base`: the VMCB segment's base (FS and GS as `getSegment` reads them). */
  getSegmentBase(vcpu: SoftVcpu, seg: number): number {
    this.vcpuLoad(vcpu);
    if (seg >= 4) this.syncSaveArea(vcpu);
    return this.vmcb.u32(VMCB_SEG_BY_SREG[seg] + SEG_BASE);
  }

  /** `svm_set_segment`: P is cleared for an unusable segment, so get reads it back unusable. */
  setSegment(vcpu: SoftVcpu, seg: number, s: ArchSegment): void {
    this.vcpuLoad(vcpu);
    if (seg >= 4) this.syncSaveArea(vcpu);
    const o = VMCB_SEG_BY_SREG[seg];
    const v = this.vmcb;
    const a =
      (s.type & 15) |
      ((s.s & 1) << 4) |
      ((s.dpl & 3) << 5) |
      ((s.present & 1 && !s.unusable ? 1 : 0) << 7) |
      ((s.avl & 1) << 8) |
      ((s.l & 1) << 9) |
      ((s.db & 1) << 10) |
      ((s.g & 1) << 11);
    v.setU16(o + SEG_SELECTOR, s.selector);
    v.setU16(o + SEG_ATTRIB, a);
    v.setU32(o + SEG_LIMIT, s.limit);
    v.set64(o + SEG_BASE, s.base, s.baseHigh);
    // CPL is kept in the VMCB; it follows SS.DPL (and is 0 in real mode).
    if (seg === 2) v.setU8(VMCB.CPL, vcpu.cr0 & X86_CR0_PE ? s.dpl & 3 : 0);
  }

  getGdt(vcpu: SoftVcpu, out: ArchDtable): void {
    this.vcpuLoad(vcpu);
    out.base = this.vmcb.u32(VMCB.GDTR + SEG_BASE);
    out.baseHigh = this.vmcb.hi(VMCB.GDTR + SEG_BASE);
    out.limit = this.vmcb.u32(VMCB.GDTR + SEG_LIMIT) & 0xffff;
  }
  setGdt(vcpu: SoftVcpu, d: ArchDtable): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.GDTR + SEG_BASE, d.base, d.baseHigh);
    this.vmcb.setU32(VMCB.GDTR + SEG_LIMIT, d.limit);
  }
  getIdt(vcpu: SoftVcpu, out: ArchDtable): void {
    this.vcpuLoad(vcpu);
    out.base = this.vmcb.u32(VMCB.IDTR + SEG_BASE);
    out.baseHigh = this.vmcb.hi(VMCB.IDTR + SEG_BASE);
    out.limit = this.vmcb.u32(VMCB.IDTR + SEG_LIMIT) & 0xffff;
  }
  setIdt(vcpu: SoftVcpu, d: ArchDtable): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.IDTR + SEG_BASE, d.base, d.baseHigh);
    this.vmcb.setU32(VMCB.IDTR + SEG_LIMIT, d.limit);
  }

  /** The CS base, for decoding the instruction at CS:RIP. */
  csBase(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcb.u32(VMCB.CS + SEG_BASE);
  }

  // ---- control registers ----------------------------------------------------------------------

  /** Every CR0/CR4 access exits on this driver, so KVM's copies are always fresh. */
  decacheCrGuestBits(_vcpu: SoftVcpu): void {}

  /**
   * `svm_set_cr0`: the real CR0 pages (PG, WP forced for shadow paging) and never disables the
   * cache. With EFER.LME, the guest's paging on/off enters/leaves long mode: EFER.LMA, and the
   * VMCB's EFER gets LME|LMA together (LME alone under the forced real PG would be half-entered).
   */
  setCr0(vcpu: SoftVcpu, cr0: number): void {
    this.vcpuLoad(vcpu);
    if (vcpu.efer & EFER_LME && this.cpu.longMode) {
      const paging = (vcpu.cr0 & X86_CR0_PG) !== 0;
      if (!paging && cr0 & X86_CR0_PG) this.setEfer(vcpu, vcpu.efer | EFER_LMA, vcpu.eferHigh);
      if (paging && !(cr0 & X86_CR0_PG)) this.setEfer(vcpu, vcpu.efer & ~EFER_LMA, vcpu.eferHigh);
    }
    // Shadow paging needs the real CR0 paging with WP; under NPT the guest's own CR0 pages.
    const forced = this.npt ? 0 : X86_CR0_PG | X86_CR0_WP;
    const hw = ((cr0 | forced) & ~(X86_CR0_CD | X86_CR0_NW)) >>> 0;
    this.vmcb.set64(VMCB.CR0, hw, 0);
    // CPL follows CR0.PE (real mode is CPL 0).
    if (!(cr0 & X86_CR0_PE)) this.vmcb.setU8(VMCB.CPL, 0);
  }

  /**
   * `svm_load_mmu_pgd`: the shadow root as the real CR3; with NPT the TDP root as N_CR3 and the
   * guest's own CR3 (`vcpu.cr3`, already updated by the caller) in the VMCB. No flush here, as in
   * KVM: the MMU flushed (`ArchOps.flushTlb`) when it switched to this root.
   */
  setCr3(vcpu: SoftVcpu, rootHpa: number): void {
    this.vcpuLoad(vcpu);
    if (this.npt) {
      this.vmcb.set64(VMCB.N_CR3, rootHpa >>> 0, Math.floor(rootHpa / 4294967296));
      this.vmcb.set64(VMCB.CR3, vcpu.cr3, vcpu.cr3High);
    } else this.vmcb.set64(VMCB.CR3, rootHpa >>> 0, Math.floor(rootHpa / 4294967296));
  }

  /** `svm_set_cr4`: shadow paging always pages in PAE format; under NPT the guest's CR4 is the real one. */
  setCr4(vcpu: SoftVcpu, cr4: number): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.CR4, (this.npt ? cr4 : cr4 | X86_CR4_PAE) >>> 0, 0);
  }

  /**
   * The guest's EFER; the VMCB's always has SVME (a VMRUN consistency check), and LME only once
   * LMA is set (`svm_set_efer` without NPT): the real CR0 always pages under shadow paging, so a
   * guest's LME before its CR0.PG would otherwise be a half-entered long mode VMRUN refuses.
   */
  setEfer(vcpu: SoftVcpu, lo: number, hi: number): void {
    this.vcpuLoad(vcpu);
    vcpu.efer = lo >>> 0;
    vcpu.eferHigh = hi >>> 0;
    // With NPT the real CR0.PG is the guest's, so LME goes in as it is (svm_set_efer).
    const hw = lo & EFER_LMA || this.npt ? lo : lo & ~EFER_LME;
    this.vmcb.set64(VMCB.EFER, (hw | EFER_SVME) >>> 0, 0);
  }

  getCr2(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcb.u32(VMCB.CR2);
  }
  getCr2High(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcb.hi(VMCB.CR2);
  }
  setCr2(vcpu: SoftVcpu, cr2: number, cr2High = 0): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.CR2, cr2, cr2High);
  }

  // ---- MSRs ----------------------------------------------------------------------------------

  /** `svm_get_msr` (svm-msrs.ts). */
  getMsr(vcpu: SoftVcpu, index: number, out: Uint32Array): boolean {
    return svmGetMsr(this, vcpu, index, out);
  }

  /** `svm_set_msr` (svm-msrs.ts). */
  setMsr(vcpu: SoftVcpu, index: number, lo: number, hi: number): boolean {
    return svmSetMsr(this, vcpu, index, lo, hi);
  }

  /** IA32_TSC's counter itself: the silicon's one TSC, which every vCPU's guest reads (no offset). */
  tscCounter(): Uint32Array {
    return this.cpu.guest.cpu.state.tsc;
  }

  // ---- events ----------------------------------------------------------------------------------

  eventPending(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    return (this.vmcb.u32(VMCB.EVENTINJ) & EventInj.VALID) !== 0;
  }

  /** A hardware exception waiting in EVENTINJ, or -1. */
  pendingException(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    const inj = this.vmcb.u32(VMCB.EVENTINJ);
    if (!(inj & EventInj.VALID) || ((inj >>> 8) & 7) !== EventInjType.EXCEPTION) return -1;
    return inj & 0xff;
  }

  interruptAllowed(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    return (
      (this.vmcb.u32(VMCB.RFLAGS) & X86_EFLAGS_IF) !== 0 &&
      (this.vmcb.u32(VMCB.INTERRUPT_SHADOW) & 1) === 0 &&
      !this.eventPending(vcpu)
    );
  }

  injectIrq(vcpu: SoftVcpu, vector: number): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.EVENTINJ, (EventInj.VALID | (EventInjType.INTR << 8) | (vector & 0xff)) >>> 0, 0);
    vcpu.vm.count('irq_injections');
  }

  /**
   * `svm_inject_nmi`: NMI through EVENTINJ (type 2, vector 2). The VMCB keeps no NMI masking, so
   * the driver does (`nmi_masked`) and intercepts IRET to see the handler end.
   */
  injectNmi(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.EVENTINJ, (EventInj.VALID | (EventInjType.NMI << 8) | 2) >>> 0, 0);
    this.setNmiMask(vcpu, true);
    vcpu.vm.count('nmi_injections');
  }

  /** `svm_nmi_allowed`: no NMI being handled, no interrupt shadow, nothing already being injected. */
  nmiAllowed(vcpu: SoftVcpu): boolean {
    this.vcpuLoad(vcpu);
    return (
      !toSvm(vcpu).nmiMasked && (this.vmcb.u32(VMCB.INTERRUPT_SHADOW) & 1) === 0 && !this.eventPending(vcpu)
    );
  }

  /**
   * `svm_enable_nmi_window`: while the handler runs, its IRET intercept is the window. Otherwise
   * something lasts one instruction (the IRET being completed, an interrupt shadow, an event
   * being injected): KVM single-steps over it with RFLAGS.TF and a #DB intercept; the model's
   * host timer does the same by ending the next entry after one instruction, without the guest
   * ever seeing TF.
   */
  enableNmiWindow(vcpu: SoftVcpu): void {
    const svm = toSvm(vcpu);
    if (svm.nmiMasked && !svm.awaitingIretCompletion) return;
    svm.nmiSingleStep = true;
  }

  /** `svm_get_nmi_mask`. */
  getNmiMask(vcpu: SoftVcpu): boolean {
    return toSvm(vcpu).nmiMasked;
  }

  /** `svm_set_nmi_mask`: the mask, and the IRET intercept that ends it. */
  setNmiMask(vcpu: SoftVcpu, masked: boolean): void {
    this.vcpuLoad(vcpu);
    const svm = toSvm(vcpu);
    svm.nmiMasked = masked;
    if (!masked) svm.awaitingIretCompletion = false;
    const m1 = this.vmcb.u32(VMCB.INTERCEPT_MISC1);
    const next = masked ? m1 | Intercept1.IRET : m1 & ~Intercept1.IRET;
    if (next !== m1) this.vmcb.setU32(VMCB.INTERCEPT_MISC1, next >>> 0);
  }

  /** `svm_get_interrupt_shadow`: one VMCB bit stands for both STI and MOV SS blocking. */
  getInterruptShadow(vcpu: SoftVcpu): number {
    this.vcpuLoad(vcpu);
    return this.vmcb.u32(VMCB.INTERRUPT_SHADOW) & 1 ? 3 : 0;
  }

  /** `svm_set_interrupt_shadow`. */
  setInterruptShadow(vcpu: SoftVcpu, mask: number): void {
    this.vcpuLoad(vcpu);
    this.vmcb.set64(VMCB.INTERRUPT_SHADOW, mask & 3 ? 1 : 0, 0);
  }

  /** `iret_interception`: the IRET runs on re-entry; NMIs unmask once RIP has left it. */
  iretIntercepted(vcpu: SoftVcpu): void {
    this.vcpuLoad(vcpu);
    const svm = toSvm(vcpu);
    const m1 = this.vmcb.u32(VMCB.INTERCEPT_MISC1);
    this.vmcb.setU32(VMCB.INTERCEPT_MISC1, (m1 & ~Intercept1.IRET) >>> 0);
    svm.awaitingIretCompletion = true;
    svm.nmiIretRip = this.vmcb.u32(VMCB.RIP);
    svm.nmiIretRipHigh = this.vmcb.hi(VMCB.RIP);
    vcpu.vm.count('nmi_window_exits');
  }

  /**
   * `svm_update_cr8_intercept`: with V_INTR_MASKING the guest's CR8 is V_TPR; CR8 writes exit
   * only while the TPR masks the highest requested interrupt (tpr ≥ maxIrr), so that lowering it
   * gets that interrupt injected. Without a pending one, no exits.
   */
  updateCr8Intercept(vcpu: SoftVcpu, tpr: number, maxIrr: number): void {
    this.vcpuLoad(vcpu);
    const cr = this.vmcb.u32(VMCB.INTERCEPT_CR);
    const write8 = 1 << (16 + 8);
    const next = maxIrr !== -1 && tpr >= maxIrr ? cr | write8 : cr & ~write8;
    if (next !== cr) this.vmcb.setU32(VMCB.INTERCEPT_CR, next >>> 0);
  }

  /** V_IRQ with the VINTR intercept: a #VMEXIT as soon as the guest could take an interrupt. */
  setIrqWindow(vcpu: SoftVcpu, enable: boolean): void {
    this.vcpuLoad(vcpu);
    const v = this.vmcb;
    const vi = v.u32(VMCB.V_INTR);
    const m1 = v.u32(VMCB.INTERCEPT_MISC1);
    if (enable) {
      v.setU32(VMCB.V_INTR, vi | VIntr.V_IRQ | (0xf << VIntr.PRIO_SHIFT) | VIntr.IGN_TPR);
      v.setU32(VMCB.INTERCEPT_MISC1, m1 | Intercept1.VINTR);
    } else {
      v.setU32(VMCB.V_INTR, vi & ~(VIntr.V_IRQ | (0xf << VIntr.PRIO_SHIFT) | VIntr.IGN_TPR));
      v.setU32(VMCB.INTERCEPT_MISC1, m1 & ~Intercept1.VINTR);
    }
  }

  /** EVENTINJ with an exception; no error code in real mode (nothing would push it). */
  injectException(vcpu: SoftVcpu, vector: number, errorCode: number, hasErrorCode: boolean): void {
    this.vcpuLoad(vcpu);
    const deliver = hasErrorCode && (vcpu.cr0 & X86_CR0_PE) !== 0;
    toSvm(vcpu).injectedSoftException = vector === 3 || vector === 4;
    this.vmcb.set64(
      VMCB.EVENTINJ,
      (EventInj.VALID | (EventInjType.EXCEPTION << 8) | (deliver ? EventInj.EV : 0) | vector) >>> 0,
      deliver ? errorCode : 0,
    );
  }

  revalidateCode(_vcpu: SoftVcpu): void {
    this.cpu.guest.cpu.revalidateCode();
  }

  invalidateCode(_vcpu: SoftVcpu, hpa: number, length: number): void {
    this.cpu.guest.cpu.invalidateCode(hpa, length);
  }

  /** The MMU changed sptes (or, with NPT, the nested map): the TLB and the nested TLB go. */
  flushTlb(_vcpu: SoftVcpu): void {
    this.cpu.guest.flushTlb();
  }

  /** `flush_tlb_gva`: the INVLPG the MMU handled drops that one translation. */
  flushTlbGva(_vcpu: SoftVcpu, gva: number): void {
    this.cpu.guest.cpu.invlpg(gva);
  }

  // ---- run ---------------------------------------------------------------------------------------

  /** FERR# went up during the entry (CR0.NE = 0 and an unmasked x87 error; core `ferr.ts`). */
  private ferrRaised = false;
  /**
   * The processor's FERR# output: noted, and the entry ended at the next instruction boundary (as
   * a host interrupt would), so that IRQ 13 is raised on the in-kernel irqchip right after it.
   */
  private readonly onFerr = (asserted: boolean): void => {
    if (!asserted) return;
    this.ferrRaised = true;
    this.cpu.guest.cpu.requestStop();
  };

  /**
   * KVM_GUESTDBG_USE_HW_BP around an entry (`kvm_update_dr7` → `svm_set_dr7`, `vcpu_enter_guest`
   * loading `eff_db`, `svm_vcpu_run` setting DR6 to DR6_ACTIVE_LOW): the debugger's DR0–DR3 into
   * the processor, its DR7 into the VMCB. When it takes the registers over, the guest's DR6/DR7
   * (the VMCB's) are set aside in `vcpu.debugRegs` and every MOV DR is intercepted
   * (`set_dr_intercepts`; dr_interception serves the guest its own values); when it gives them
   * back, they return and the intercepts go.
   */
  private loadDebuggerRegs(vcpu: SoftVcpu, s: CpuState): void {
    const d = vcpu.debugRegs;
    const v = this.vmcb;
    const hw = kvmUsesHwBp(vcpu);
    if (hw !== d.debuggerOwns) {
      if (hw) {
        d.dr6 = v.u32(VMCB.DR6);
        d.dr7 = v.u32(VMCB.DR7);
      } else {
        v.set64(VMCB.DR6, d.dr6, 0);
        v.set64(VMCB.DR7, d.dr7, 0);
      }
      v.setU32(VMCB.INTERCEPT_DR, hw ? 0xffffffff : 0);
      d.debuggerOwns = hw;
    }
    if (hw) {
      d.loadDebugger(s, vcpu.guestDebugRegs, vcpu.guestDebugRegsHigh);
      v.set64(VMCB.DR6, DR6_ACTIVE_LOW, 0);
      v.set64(VMCB.DR7, vcpu.guestDebugRegs[7], 0);
    } else d.loadInto(s);
  }

  /**
   * `svm_vcpu_run`: GPRs but RAX/RSP (in the VMCB) into the processor, the guest's TSC_AUX (a
   * user-return MSR), the V_TPR from the TPR, then VMLOAD, VMRUN, VMSAVE of the guest's VMCB (as
   * `__svm_vcpu_run` brackets VMRUN), and back.
   */
  run(vcpu: SoftVcpu, budget: number): EntryResult {
    this.vcpuLoad(vcpu);
    const g = this.cpu.guest;
    const s = g.cpu.state;
    const regs = vcpu.regs;
    const regsHigh = vcpu.regsHigh;
    loadGuestGprs(s, regs, regsHigh);
    const svm = toSvm(vcpu);
    s.tscAux[0] = svm.tscAux;
    // sync_lapic_to_cr8: the guest reads CR8 from V_TPR without an exit.
    const vi = this.vmcb.u32(VMCB.V_INTR);
    this.vmcb.setU32(VMCB.V_INTR, (vi & ~VIntr.TPR_MASK) | (kvmGetCr(vcpu, 8) & 0xf));
    vcpu.fpu.loadInto(s);
    if (vcpu.debugRegs.debuggerOwns || kvmUsesHwBp(vcpu)) this.loadDebuggerRegs(vcpu, s);
    else vcpu.debugRegs.loadInto(s);
    // svm_update_exception_bitmap: #PF for the shadow MMU, #BP while a debugger owns it (USE_SW_BP),
    // #DB while it owns the debug registers (USE_HW_BP).
    this.vmcb.setU32(VMCB.INTERCEPT_EXCEPTIONS, (this.npt ? 0 : 1 << 14) | kvmGuestDebugExceptions(vcpu));
    g.hostTick = svm.nmiSingleStep ? 1 : budget;
    g.cpu.ferr = this.onFerr;
    svm.nmiSingleStep = false;
    const hpa = svm.vmcbPage * 4096;
    let st: SvmStatus = SvmStatus.Exited;
    // VMLOAD only what the processor does not hold; VMSAVE waits for a reader (`saveAreaHeld`).
    if (this.saveAreaHeld !== vcpu) {
      if (this.saveAreaHeld !== null) this.syncSaveArea(this.saveAreaHeld);
      st = this.cpu.vmload(hpa);
      if (st === SvmStatus.Exited) this.saveAreaHeld = vcpu;
    }
    if (st === SvmStatus.Exited) st = this.cpu.vmrun(hpa);
    // vmcb_mark_all_clean: the processor holds what the VMCB says now; the driver's writes until
    // the next VMRUN clear the bits of what they change (`Vmcb.tracksClean`).
    if (this.cleanBits) this.vmcb.setU32(VMCB.VMCB_CLEAN, VMCB_CLEAN_HONOURED);
    if (st !== SvmStatus.Exited) {
      // #UD/#GP on VMRUN is a driver bug; report it as a failed entry.
      vcpu.run.exitReason = KVM_EXIT.FAIL_ENTRY;
      vcpu.run.failEntry.hardwareEntryFailureReason = BigInt(st);
      return EntryResult.FailEntry;
    }
    saveGuestGprs(s, regs, regsHigh);
    svm.tscAux = s.tscAux[0];
    // With NPT the guest loads CR3 without an exit: KVM's copy follows the VMCB's (svm_vcpu_run's
    // `vcpu->arch.cr3 = svm->vmcb->save.cr3` when npt_enabled).
    if (this.npt) {
      vcpu.cr3 = this.vmcb.u32(VMCB.CR3);
      vcpu.cr3High = this.vmcb.hi(VMCB.CR3);
    }
    // The FPU registers stay in the processor (GuestFpu.loadInto: KVM keeps the guest FPU loaded).
    // While the debugger owns DR0–DR3 they are its own; the guest's stay in vcpu.debugRegs.
    if (!vcpu.debugRegs.debuggerOwns) vcpu.debugRegs.saveFrom(s);
    if (this.ferrRaised) {
      this.ferrRaised = false;
      kvmFerr(vcpu);
    }
    vcpu.instructions += g.lastInstructions;
    // sync_cr8_to_lapic: CR8 writes that did not exit changed V_TPR, i.e. the TPR.
    if (vcpu.apic !== null && !(this.vmcb.u32(VMCB.INTERCEPT_CR) & (1 << (16 + 8)))) {
      const tpr = (this.vmcb.u32(VMCB.V_INTR) & 0xf) << 4;
      if (tpr !== vcpu.apic.reg(0x80)) vcpu.apic.writeReg(0x80, tpr);
    }
    this.completeInterrupts(vcpu);
    return EntryResult.Exit;
  }

  /** `svm_complete_interrupts`: an event cut short by the exit (EXITINTINFO) goes in again. */
  private completeInterrupts(vcpu: SoftVcpu): void {
    const v = this.vmcb;
    // The IRET the intercept let through has run once RIP is elsewhere: NMIs unmask.
    const svm = toSvm(vcpu);
    if (
      svm.awaitingIretCompletion &&
      (v.u32(VMCB.RIP) !== svm.nmiIretRip || v.hi(VMCB.RIP) !== svm.nmiIretRipHigh)
    ) {
      svm.awaitingIretCompletion = false;
      svm.nmiMasked = false;
    }
    const info = v.u32(VMCB.EXITINTINFO);
    const injectedSoft = svm.injectedSoftException;
    svm.injectedSoftException = false;
    if (!(info & EventInj.VALID)) return;
    const type = (info >>> 8) & 7;
    if (type === EventInjType.INTR) {
      vcpu.interruptQueued = info & 0xff;
      return;
    }
    // INT n, INT3 and INTO are not injected again: RIP is still at the instruction, which runs
    // again (svm_complete_interrupts: "re-execute the instruction instead"); injecting them
    // without their length would return past nothing and repeat them after the handler.
    const vector = info & 0xff;
    if (
      type === EventInjType.SOFT ||
      (type !== EventInjType.NMI && (vector === 3 || vector === 4) && !injectedSoft)
    )
      return;
    // NMIs and exceptions go in again as they were (error code included).
    v.set64(VMCB.EVENTINJ, info, v.hi(VMCB.EXITINTINFO));
  }

  handleExit(vcpu: SoftVcpu, run: KvmRunView): ExitResult {
    this.vcpuLoad(vcpu);
    return svmHandleExit(this, vcpu, run);
  }

  countExit(vcpu: SoftVcpu, code: number): void {
    const c = toSvm(vcpu).exitCounts;
    c[code === SvmExit.NPF ? NPF_COUNT : Math.min(code, NPF_COUNT - 1)]++;
  }

  stats(vcpu: SoftVcpu, into: Record<string, number>): void {
    const c = toSvm(vcpu).exitCounts;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      const k = `exit_0x${(i === NPF_COUNT ? SvmExit.NPF : i).toString(16)}`;
      into[k] = (into[k] ?? 0) + c[i];
    }
    siliconCpuStats(this.cpu.guest.cpu, into);
  }
}
