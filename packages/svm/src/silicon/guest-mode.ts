/**
 * SVM guest mode: the guest runs on x86emu's `Cpu` after VMRUN, and the VMCB's intercept
 * vectors decide what causes a #VMEXIT (APM Vol. 2 15.7–15.13). `run` loads the state-save area
 * (15.5), injects EVENTINJ (15.20), runs, and on #VMEXIT writes the guest state back with
 * EXITCODE, EXITINFO1/2, EXITINTINFO and nRIP (15.6, 15.7.1).
 *
 * Shadow paging without nested paging: when the VMCB's CR0.PG is 1, linear addresses translate
 * through the tables at the VMCB's CR3 (the hypervisor's shadow root), in PAE format when its
 * CR4.PAE is 1 — SVM's "paged real mode" (CR0.PE = 0, PG = 1) included, which real AMD silicon
 * allows for exactly this purpose.
 *
 * Host interrupts are the "host timer": after `hostTick` guest instructions (or a kick) the
 * guest exits with SVM_EXIT_INTR when INTR is intercepted.
 */

import {
  loadShadowPagingOverride,
  NestedTlbRegime,
  newShadowPagingOverride,
  ShadowTlbRegime,
} from '@kvm/core';
import {
  Cpu,
  CrAccessType,
  type ExitInfo,
  engineJitTuning,
  holdAsDoubles,
  InterceptKind,
  type Intercepts,
  type MsrOps,
  NestedPaging,
  SegAttr,
  StopReason,
  seededRandom,
} from '@kvm/x86emu';
import { NP_ENABLE, NPF_INFO_HI_FINAL, NPF_INFO_HI_TABLE } from './npt.js';
import {
  EventInj,
  EventInjType,
  Intercept1,
  Intercept2,
  IoioInfo,
  SvmExit,
  TaskSwitchInfoHi,
  VIntr,
  VmcbClean,
} from './svm-arch.js';
import type { SvmSilicon } from './svm-silicon.js';
import type { Vmcb } from './vmcb.js';
import { SEG_ATTRIB, SEG_BASE, SEG_LIMIT, SEG_SELECTOR, VMCB, VMCB_SEG_BY_SREG } from './vmcb-layout.js';

const X86_CR0_PG = 0x80000000;
const EFER_NX = 1 << 11;
const PF_VECTOR = 14;
const TWO32 = 4294967296;
/** Segments in x86emu `Seg` order that VMRUN loads and #VMEXIT saves (ES, CS, SS, DS); the others are VMLOAD's. */
const VMRUN_SEGS = 4;
/** x86emu's FS, GS, LDTR, TR: the segments VMLOAD/VMSAVE move (15.5.2). */
const VMLOAD_SEGS: readonly number[] = [4, 5, 6, 7];
/**
 * Slots of `SvmGuestMode.stored`: ES, CS, SS, DS (selector, attrib, limit, base, base high each),
 * CPL, GDTR, IDTR (base, base high, limit), CR0, CR3, CR4, EFER (each with its high half).
 */
const Stored = {
  SEG_SLOTS: 5,
  CPL: 20,
  GDTR_BASE: 21,
  GDTR_LIMIT: 23,
  IDTR_BASE: 24,
  IDTR_LIMIT: 26,
  CR0: 27,
  CR3: 29,
  CR4: 31,
  EFER: 33,
  COUNT: 35,
} as const;
/** RFLAGS.VM (virtual-8086 mode): part of what the processor derives its mode from. */
const X86_EFLAGS_VM = 1 << 17;

/** A linear address as x86emu reports it (folded to 48 bits, or signed) → its canonical high half. */
function linearHigh(a: number): number {
  if (a < 0) return Math.floor(a / TWO32) >>> 0;
  const hi = Math.floor(a / TWO32);
  return (hi & 0x8000 ? hi | 0xffff0000 : hi) >>> 0;
}

const bit = (k: number): number => 1 << k;

/** VMCB segment attrib (12 bits) → x86emu/VMX access rights; P = 0 is "unusable". */
export function attribToAr(attrib: number): number {
  const ar = (attrib & 0xff) | ((attrib & 0xf00) << 4);
  return attrib & 0x80 ? ar : ar | SegAttr.UNUSABLE;
}

/** The reverse. */
export function arToAttrib(ar: number): number {
  return (ar & 0xff) | ((ar >>> 4) & 0xf00);
}

export class SvmGuestMode implements Intercepts {
  readonly cpu: Cpu;
  mask = 0;
  exceptionMask = 0;
  hostTick = 200_000;
  lastInstructions = 0;
  private crIntercepts = 0;
  /** INTERCEPT_DR: bits 15:0 reads of DR0–DR15, 31:16 writes (APM Vol. 2 15.10). */
  private drIntercepts = 0;
  private misc1 = 0;
  /**
   * The PAUSE intercept filter (APM Vol. 2 15.14.4): the count and threshold VMRUN loaded, the
   * internal counter, and the TSC (low half) of the last PAUSE; `pauseFresh` until the first
   * PAUSE after VMRUN.
   */
  private pauseFilterCount = 0;
  private pauseFilterThreshold = 0;
  private pauseCounter = 0;
  private pauseLast = 0;
  private pauseFresh = true;
  /** The IOPM's three pages and the MSRPM's two, as VMRUN found them (all undefined if one is missing). */
  private readonly iopm: (Uint8Array | undefined)[] = [undefined, undefined, undefined];
  private readonly msrpm: (Uint8Array | undefined)[] = [undefined, undefined];
  private readonly override = newShadowPagingOverride();
  /** Whether VMRUN may keep the TLB (see `ShadowTlbRegime`): tagged by the guest's ASID (APM 15.16). */
  private readonly tlbRegime = new ShadowTlbRegime();
  /** Nested paging (NP_ENABLE): the walker over N_CR3, and its TLB regime (npt.ts). */
  private readonly nested: NestedPaging;
  /** Combined entries are tagged by ASID (15.16, 15.25.9): kept across VMRUNs of one ASID and N_CR3. */
  private readonly nptRegime = new NestedTlbRegime();
  /** The last VMRUN had NP_ENABLE set. */
  private npEnabled = false;
  /**
   * Whether the processor's state may differ from what it derived its mode from (x86emu's mode,
   * segment checks: `Cpu.stateChanged`): true until the first #VMEXIT, and again when VMLOAD
   * loaded another FS, GS, TR or LDTR. A VMRUN that loads the ES, CS, SS, DS, CPL, CR0, CR3,
   * CR4, EFER and RFLAGS.VM the processor holds (those the last #VMEXIT saved, which the
   * hypervisor did not change) then only recomputes what its hot state decides
   * (`Cpu.hotStateChanged`), as a processor with the VMCB's SEG and CRx state cached would (APM
   * Vol. 2 15.15.3, VMCB clean bits). Exact whatever the hypervisor wrote: the values decide.
   */
  private modeStale = true;
  /** The VMCB of the last VMRUN, whose clean areas the processor holds (-1: none). */
  private heldVmcbHpa = -1;
  /**
   * What VMCB `heldVmcbHpa` holds in the fields of the SEG, CRx and DT areas (`Stored` slots, as
   * the bytes are: attrib in VMCB form, CPL's whole byte), as the last VMRUN loaded them or the
   * last #VMEXIT stored them: the #VMEXIT writes only the ones the guest changed (`save`). Exact
   * as long as the hypervisor clears an area's clean bit when it writes there (15.15.3); one that
   * does not finds its write still there after the #VMEXIT if the guest left the field alone,
   * where a processor might have written its own copy over it (the APM leaves that undefined).
   */
  private readonly stored = new Uint32Array(Stored.COUNT);
  /**
   * The intercept words the last VMRUN built `mask` from (INTERCEPT_CR, _DR, MISC1, MISC2, and
   * V_INTR's V_IRQ bit): a VMRUN with the same ones keeps it (`intercepts` clean, 15.15.3).
   */
  private maskKey0 = -1;
  private maskKey1 = -1;
  private maskKey2 = -1;
  private maskKey3 = -1;
  private maskKey4 = -1;

  constructor(
    private readonly silicon: SvmSilicon,
    msr: MsrOps,
  ) {
    // The engine's compile threshold, not a bare Cpu's: a guest kernel's code runs too few times
    // for most of its blocks to pay for compiling (x86emu's jit/engine-policy.ts).
    this.cpu = new Cpu({
      memory: silicon.memory,
      msr,
      intercepts: this,
      jit: silicon.jit ? engineJitTuning(silicon.jitBackend) : false,
      random: silicon.randomSeed === undefined ? undefined : seededRandom(silicon.randomSeed),
    });
    this.nested = new NestedPaging(silicon.memory);
    // Instruction counts and budgets, RIP's high halves, host times (x86emu's double-fields.ts).
    holdAsDoubles(this, ['hostTick', 'lastInstructions', 'ripHigh', 'nextHigh', 'pauseLast']);
  }

  // ---- Intercepts ------------------------------------------------------------------------

  instruction(kind: number, exit: ExitInfo): boolean {
    switch (kind) {
      case InterceptKind.CrRead:
        return ((this.crIntercepts >>> exit.cr) & 1) === 1;
      case InterceptKind.CrWrite:
        // CLTS and LMSW are CR0 writes (15.9).
        return ((this.crIntercepts >>> (16 + exit.cr)) & 1) === 1;
      case InterceptKind.DrAccess:
        return ((this.drIntercepts >>> (exit.drWrite ? 16 + exit.dr : exit.dr)) & 1) === 1;
      case InterceptKind.Io:
        return this.ioExits(exit);
      case InterceptKind.Rdmsr:
      case InterceptKind.Wrmsr:
        return this.msrExits(kind === InterceptKind.Wrmsr);
      case InterceptKind.Pause:
        return this.pauseFilterExits();
      default:
        return true;
    }
  }

  /**
   * 15.14.4: with a filter count, an intercepted PAUSE exits only once the counter VMRUN loaded
   * has counted down to 0; a PAUSE more than the threshold's ticks after the previous one (not a
   * tight loop) reloads the counter. A count of 0 is no filter: every PAUSE exits. Time is the
   * guest's TSC, which x86emu advances an instruction a tick within a run.
   */
  private pauseFilterExits(): boolean {
    if (this.pauseFilterCount === 0) return true;
    const now = (this.cpu.state.tsc[0] + this.cpu.runCount) >>> 0;
    if (
      !this.pauseFresh &&
      this.pauseFilterThreshold !== 0 &&
      (now - this.pauseLast) >>> 0 > this.pauseFilterThreshold
    )
      this.pauseCounter = this.pauseFilterCount;
    this.pauseFresh = false;
    this.pauseLast = now;
    if (this.pauseCounter === 0) return true;
    this.pauseCounter--;
    return false;
  }

  /**
   * Only intercepted vectors reach this hook (`exceptionMask`). x86emu offers a fault during
   * event delivery before combining it into #DF, so an intercepted nested exception exits with
   * the interrupted event in EXITINTINFO (APM 15.7.2).
   */
  exception(): boolean {
    return true;
  }

  private exceptionIntercepts = 0;

  /** EVENTINJ is delivered without checking the exception intercepts and leaves CR2 alone (15.20). */
  readonly injectionBypassesExceptionHook = true;

  /** IOPM (15.10.1): one bit per port, every byte of the access checked. */
  private ioExits(exit: ExitInfo): boolean {
    if (!(this.misc1 & Intercept1.IOIO_PROT)) return false;
    for (let i = 0; i < exit.ioSize; i++) {
      const p = exit.port + i;
      const page = this.iopm[p >>> 15];
      if (page === undefined) return true;
      const b = p & 0x7fff;
      if ((page[b >>> 3] >>> (b & 7)) & 1) return true;
    }
    return false;
  }

  /** MSRPM (15.11): two bits per MSR (read, write) in three 2 KiB ranges; others always exit. */
  private msrExits(write: boolean): boolean {
    if (!(this.misc1 & Intercept1.MSR_PROT)) return false;
    const ecx = this.cpu.state.gpr[1] >>> 0;
    let base: number;
    if (ecx <= 0x1fff) base = 0;
    else if (ecx >= 0xc0000000 && ecx <= 0xc0001fff) base = 0x800 * 8;
    else if (ecx >= 0xc0010000 && ecx <= 0xc0011fff) base = 0x1000 * 8;
    else return true;
    const bitIndex = base + (ecx & 0x1fff) * 2 + (write ? 1 : 0);
    const byte = bitIndex >>> 3;
    const page = this.msrpm[byte >>> 12];
    if (page === undefined) return true;
    return ((page[byte & 0xfff] >>> (bitIndex & 7)) & 1) === 1;
  }

  /**
   * The hypervisor's flush of this ASID's translations (what TLB_CONTROL or INVLPGA do on real
   * parts; the model's driver calls it directly): the TLB and, under nested paging, the nested
   * TLB, since the hypervisor flushes after changing the nested tables.
   */
  flushTlb(): void {
    this.cpu.flushTlb();
    // Without nested paging at the last VMRUN nothing filled the nested TLB since the VMRUN that
    // left it (`translate` runs only under NP), and the next VMRUN that enables NP flushes it
    // anyway (its regime was reset: `keep` is false). So the shadow MMU's flush, one per CR3
    // load, skips the nested TLB's 16,384-entry fill (5 % of bench-ctxsw32's vCPU on npt=off).
    if (this.npEnabled) this.nested.flush();
  }

  // ---- VMRUN / #VMEXIT -------------------------------------------------------------------------

  /**
   * The `out.length` pages from `hpa` into `out` (reused on every VMRUN: no allocation per entry);
   * all undefined when one is not RAM, so that every access through them is intercepted.
   */
  private pages(hpa: number, out: (Uint8Array | undefined)[]): void {
    const pfn = Math.floor(hpa / 4096);
    for (let i = 0; i < out.length; i++) {
      const v = this.silicon.memory.pageView(pfn + i);
      if (v === null) {
        out.fill(undefined);
        return;
      }
      out[i] = v;
    }
  }

  /** One segment register from the VMCB (selector, attrib, limit, 64-bit base). */
  private loadSeg(v: Vmcb, i: number): boolean {
    const s = this.cpu.state;
    const o = VMCB_SEG_BY_SREG[i];
    const sel = v.u16(o + SEG_SELECTOR);
    const attrib = v.u16(o + SEG_ATTRIB);
    const ar = attribToAr(attrib);
    const limit = v.u32(o + SEG_LIMIT);
    const base = v.u32(o + SEG_BASE);
    const baseHigh = v.hi(o + SEG_BASE);
    if (i < VMRUN_SEGS) {
      const st = this.stored;
      const k = i * Stored.SEG_SLOTS;
      st[k] = sel;
      st[k + 1] = attrib;
      st[k + 2] = limit;
      st[k + 3] = base;
      st[k + 4] = baseHigh;
    }
    // Whether the processor held another value (the mode and segment checks depend on them).
    const changed =
      s.segSel[i] !== sel ||
      s.segAttr[i] !== ar ||
      s.segLimit[i] !== limit ||
      s.segBase[i] !== base ||
      s.segBaseHigh[i] !== baseHigh;
    s.segSel[i] = sel;
    s.segAttr[i] = ar;
    s.segLimit[i] = limit;
    s.segBase[i] = base;
    s.segBaseHigh[i] = baseHigh;
    return changed;
  }

  private saveSeg(v: Vmcb, i: number): void {
    const s = this.cpu.state;
    const o = VMCB_SEG_BY_SREG[i];
    v.setU16(o + SEG_SELECTOR, s.segSel[i]);
    v.setU16(o + SEG_ATTRIB, arToAttrib(s.segAttr[i]));
    v.setU32(o + SEG_LIMIT, s.segLimit[i]);
    v.set64(o + SEG_BASE, s.segBase[i], s.segBaseHigh[i]);
  }

  /** VMLOAD (15.5.2): FS, GS, TR, LDTR, KernelGsBase, the syscall and SYSENTER MSRs. */
  vmload(v: Vmcb): void {
    const s = this.cpu.state;
    for (let k = 0; k < VMLOAD_SEGS.length; k++) if (this.loadSeg(v, VMLOAD_SEGS[k])) this.modeStale = true;
    s.kernelGsBase[0] = v.u32(VMCB.KERNEL_GS_BASE);
    s.kernelGsBase[1] = v.hi(VMCB.KERNEL_GS_BASE);
    s.star[0] = v.u32(VMCB.STAR);
    s.star[1] = v.hi(VMCB.STAR);
    s.lstar[0] = v.u32(VMCB.LSTAR);
    s.lstar[1] = v.hi(VMCB.LSTAR);
    s.cstar[0] = v.u32(VMCB.CSTAR);
    s.cstar[1] = v.hi(VMCB.CSTAR);
    s.sfmask[0] = v.u32(VMCB.SFMASK);
    s.sysenter[0] = v.u32(VMCB.SYSENTER_CS);
    s.sysenter[1] = v.u32(VMCB.SYSENTER_ESP);
    s.sysenterHigh[1] = v.hi(VMCB.SYSENTER_ESP);
    s.sysenter[2] = v.u32(VMCB.SYSENTER_EIP);
    s.sysenterHigh[2] = v.hi(VMCB.SYSENTER_EIP);
  }

  /** VMSAVE: the same state into the VMCB. */
  vmsave(v: Vmcb): void {
    const s = this.cpu.state;
    for (let k = 0; k < VMLOAD_SEGS.length; k++) this.saveSeg(v, VMLOAD_SEGS[k]);
    v.set64(VMCB.KERNEL_GS_BASE, s.kernelGsBase[0], s.kernelGsBase[1]);
    v.set64(VMCB.STAR, s.star[0], s.star[1]);
    v.set64(VMCB.LSTAR, s.lstar[0], s.lstar[1]);
    v.set64(VMCB.CSTAR, s.cstar[0], s.cstar[1]);
    v.set64(VMCB.SFMASK, s.sfmask[0], 0);
    // The save area's fields are 64 bits (APM Vol. 2 Table B-2): both halves, as VMLOAD took them.
    v.set64(VMCB.SYSENTER_CS, s.sysenter[0], 0);
    v.set64(VMCB.SYSENTER_ESP, s.sysenter[1], s.sysenterHigh[1]);
    v.set64(VMCB.SYSENTER_EIP, s.sysenter[2], s.sysenterHigh[2]);
  }

  private load(v: Vmcb): void {
    const s = this.cpu.state;
    // VMCB clean bits (15.15.3): an area the hypervisor left clean since the last VMRUN of this
    // VMCB is what the processor holds (the #VMEXIT stored it from there), so it is not loaded.
    const clean = v.hpa === this.heldVmcbHpa ? v.u32(VMCB.VMCB_CLEAN) : 0;
    this.heldVmcbHpa = v.hpa;
    // VMRUN loads ES, CS, SS, DS; FS, GS, TR and LDTR are VMLOAD's (15.5.1, 15.5.2).
    let stale = this.modeStale;
    if (!(clean & VmcbClean.SEG)) {
      for (let i = 0; i < VMRUN_SEGS; i++) if (this.loadSeg(v, i)) stale = true;
      const cplByte = v.u8(VMCB.CPL);
      this.stored[Stored.CPL] = cplByte;
      const cpl = cplByte & 3;
      if (s.cpl !== cpl) stale = true;
      s.cpl = cpl;
    }
    if (!(clean & VmcbClean.CRX)) {
      const cr0 = v.u32(VMCB.CR0);
      const cr3 = v.u32(VMCB.CR3);
      const cr3High = v.hi(VMCB.CR3);
      const cr4 = v.u32(VMCB.CR4);
      const efer = v.u32(VMCB.EFER);
      const eferHigh = v.hi(VMCB.EFER);
      if (
        s.cr[0] !== cr0 ||
        s.cr[3] !== cr3 ||
        s.crHigh[3] !== cr3High ||
        s.cr[4] !== cr4 ||
        s.efer[0] !== efer ||
        s.efer[1] !== eferHigh
      )
        stale = true;
      s.cr[0] = cr0;
      s.cr[3] = cr3;
      s.crHigh[3] = cr3High;
      s.cr[4] = cr4;
      s.efer[0] = efer;
      s.efer[1] = eferHigh;
      // CR0's and CR4's high halves are zero: the consistency checks refused the VMRUN otherwise.
      const st = this.stored;
      st[Stored.CR0] = cr0;
      st[Stored.CR0 + 1] = 0;
      st[Stored.CR3] = cr3;
      st[Stored.CR3 + 1] = cr3High;
      st[Stored.CR4] = cr4;
      st[Stored.CR4 + 1] = 0;
      st[Stored.EFER] = efer;
      st[Stored.EFER + 1] = eferHigh;
    }
    const rflags = v.u32(VMCB.RFLAGS);
    if (((s.rflags[0] ^ rflags) & X86_EFLAGS_VM) !== 0) stale = true;
    if (!(clean & VmcbClean.DT)) {
      // `stored` takes the fields as the VMCB has them (the limits are 32-bit there, 16 here).
      const st = this.stored;
      st[Stored.GDTR_BASE] = v.u32(VMCB.GDTR + SEG_BASE);
      st[Stored.GDTR_BASE + 1] = v.hi(VMCB.GDTR + SEG_BASE);
      st[Stored.GDTR_LIMIT] = v.u32(VMCB.GDTR + SEG_LIMIT);
      st[Stored.IDTR_BASE] = v.u32(VMCB.IDTR + SEG_BASE);
      st[Stored.IDTR_BASE + 1] = v.hi(VMCB.IDTR + SEG_BASE);
      st[Stored.IDTR_LIMIT] = v.u32(VMCB.IDTR + SEG_LIMIT);
      s.dtBase[0] = st[Stored.GDTR_BASE];
      s.dtBaseHigh[0] = st[Stored.GDTR_BASE + 1];
      s.dtLimit[0] = st[Stored.GDTR_LIMIT];
      s.dtBase[1] = st[Stored.IDTR_BASE];
      s.dtBaseHigh[1] = st[Stored.IDTR_BASE + 1];
      s.dtLimit[1] = st[Stored.IDTR_LIMIT];
    }
    s.cr[2] = v.u32(VMCB.CR2);
    s.crHigh[2] = v.hi(VMCB.CR2);
    // VMRUN loads DR6 and DR7 from the save area, #VMEXIT stores them (APM Vol. 2 15.5.1).
    s.dr[6] = v.u32(VMCB.DR6);
    s.dr[7] = v.u32(VMCB.DR7);
    s.rflags[0] = rflags;
    s.rip[0] = v.u32(VMCB.RIP);
    s.rip[1] = v.hi(VMCB.RIP);
    s.gpr[4] = v.u32(VMCB.RSP);
    s.gprHigh[4] = v.hi(VMCB.RSP);
    s.gpr[0] = v.u32(VMCB.RAX);
    s.gprHigh[0] = v.hi(VMCB.RAX);
    // V_INTR_MASKING: the guest's CR8 is the virtual TPR (15.21.1).
    if (v.u32(VMCB.V_INTR) & VIntr.MASKING) s.cr[8] = v.u32(VMCB.V_INTR) & 0xf;
    s.interruptibility = v.u32(VMCB.INTERRUPT_SHADOW) & 1;
    s.halted = false;
    s.pendingType = -1;

    this.crIntercepts = v.u32(VMCB.INTERCEPT_CR);
    this.drIntercepts = v.u32(VMCB.INTERCEPT_DR);
    const m1 = v.u32(VMCB.INTERCEPT_MISC1);
    const m2 = v.u32(VMCB.INTERCEPT_MISC2);
    this.misc1 = m1;
    if (!(clean & VmcbClean.IOPM)) {
      this.pages(v.u32(VMCB.IOPM_BASE_PA), this.iopm);
      this.pages(v.u32(VMCB.MSRPM_BASE_PA), this.msrpm);
    }
    this.pauseFilterCount = v.u16(VMCB.PAUSE_FILTER_COUNT);
    this.pauseFilterThreshold = v.u16(VMCB.PAUSE_FILTER_THRESHOLD);
    this.pauseCounter = this.pauseFilterCount;
    this.pauseFresh = true;
    const vIrq = v.u32(VMCB.V_INTR) & VIntr.V_IRQ;
    if (
      this.crIntercepts !== this.maskKey0 ||
      this.drIntercepts !== this.maskKey1 ||
      m1 !== this.maskKey2 ||
      m2 !== this.maskKey3 ||
      vIrq !== this.maskKey4
    ) {
      this.maskKey0 = this.crIntercepts;
      this.maskKey1 = this.drIntercepts;
      this.maskKey2 = m1;
      this.maskKey3 = m2;
      this.maskKey4 = vIrq;
      this.mask = this.interceptMaskOf(m1, m2, vIrq);
    }
    this.exceptionIntercepts = v.u32(VMCB.INTERCEPT_EXCEPTIONS);
    this.exceptionMask = this.exceptionIntercepts;

    this.cpu.setIntercepts(this);
    // The override is set before `stateChanged`, which derives the paging regime from it once
    // (`setPagingOverride` would derive it, and read a PAE root's PDPTEs, a second time).
    let keep = false;
    this.npEnabled = (v.u32(VMCB.NP_ENABLE) & NP_ENABLE) !== 0;
    if (this.npEnabled) {
      // Nested paging (15.25.3): the guest's own paging state, N_CR3 for the nested tables, which
      // the host walks with its EFER.NXE (15.25.5).
      this.tlbRegime.reset();
      this.nested.root = v.u32(VMCB.N_CR3) + v.hi(VMCB.N_CR3) * 4294967296;
      this.nested.nxe = (this.silicon.efer & EFER_NX) !== 0;
      this.cpu.override = null;
      this.cpu.nested = this.nested;
      keep = this.nptRegime.keep(
        this.cpu,
        v.u32(VMCB.N_CR3) + v.hi(VMCB.N_CR3) * 4294967296,
        v.u32(VMCB.GUEST_ASID),
        0,
      );
    } else if (s.cr[0] & X86_CR0_PG) {
      this.nptRegime.reset();
      this.cpu.nested = null;
      const o = loadShadowPagingOverride(this.override, s);
      keep = this.tlbRegime.keep(o, v.u32(VMCB.GUEST_ASID), this.cpu.stats.tlbMisses);
      this.cpu.override = o;
    } else {
      this.nptRegime.reset();
      this.tlbRegime.reset();
      this.cpu.nested = null;
      this.cpu.override = null;
    }
    // TLB_CONTROL other than DO_NOTHING flushes at VMRUN (APM 15.16.1); the model flushes all.
    if (v.u8(VMCB.TLB_CONTROL) !== 0) keep = false;
    // The nested TLB too (gPA → hPA): a new N_CR3, ASID or an explicit flush.
    if (!keep && this.npEnabled) this.nested.flush();
    // The mode and segment checks stand when the state they come from is what the processor
    // held (see `modeStale`): only the hot state's consequences are recomputed.
    if (stale) this.cpu.stateChanged(!keep);
    else this.cpu.hotStateChanged(!keep);

    const inj = v.u32(VMCB.EVENTINJ);
    if (inj & EventInj.VALID) {
      const type = (inj & EventInj.TYPE_MASK) >>> EventInj.TYPE_SHIFT;
      // EVENTINJ types map to x86emu's (VMX) numbering: INTR 0, NMI 2, exception 3, soft int 4.
      this.cpu.injectEvent(type as 0, inj & 0xff, inj & EventInj.EV ? v.hi(VMCB.EVENTINJ) : undefined, 0);
      v.setU32(VMCB.EVENTINJ, 0);
      v.setU32(VMCB.EVENTINJ + 4, 0);
    }
  }

  /**
   * The instruction intercepts x86emu asks about (`Intercepts.mask`), from INTERCEPT_CR, _DR,
   * MISC1, MISC2 and whether a virtual interrupt is pending (V_INTR.V_IRQ).
   */
  private interceptMaskOf(m1: number, m2: number, vIrq: number): number {
    let mask = 0;
    if (this.crIntercepts & 0xffff) mask |= bit(InterceptKind.CrRead);
    if (this.crIntercepts >>> 16) mask |= bit(InterceptKind.CrWrite);
    if (this.drIntercepts !== 0) mask |= bit(InterceptKind.DrAccess);
    if (m1 & Intercept1.CPUID) mask |= bit(InterceptKind.Cpuid);
    if (m1 & Intercept1.HLT) mask |= bit(InterceptKind.Hlt);
    if (m1 & Intercept1.INVLPG) mask |= bit(InterceptKind.Invlpg);
    if (m1 & Intercept1.RDTSC) mask |= bit(InterceptKind.Rdtsc);
    if (m1 & Intercept1.RDPMC) mask |= bit(InterceptKind.Rdpmc);
    if (m1 & Intercept1.IOIO_PROT) mask |= bit(InterceptKind.Io);
    if (m1 & Intercept1.MSR_PROT) mask |= bit(InterceptKind.Rdmsr) | bit(InterceptKind.Wrmsr);
    if (m1 & Intercept1.INVD) mask |= bit(InterceptKind.Invd);
    if (m1 & Intercept1.PAUSE) mask |= bit(InterceptKind.Pause);
    if (m1 & Intercept1.SHUTDOWN) mask |= bit(InterceptKind.Shutdown);
    if (m1 & Intercept1.TASK_SWITCH) mask |= bit(InterceptKind.TaskSwitch);
    if (m1 & Intercept1.INTN) mask |= bit(InterceptKind.SoftwareInterrupt);
    if (m1 & Intercept1.IRET) mask |= bit(InterceptKind.Iret);
    if (m1 & (Intercept1.PUSHF | Intercept1.POPF)) mask |= bit(InterceptKind.PushfPopf);
    // The interrupt window: a pending virtual interrupt (V_IRQ) with VINTR intercepted.
    if (m1 & Intercept1.VINTR && vIrq !== 0) mask |= bit(InterceptKind.InterruptWindow);
    if (m2 & Intercept2.VMMCALL) mask |= bit(InterceptKind.Vmmcall);
    if (m2 & Intercept2.WBINVD) mask |= bit(InterceptKind.Wbinvd);
    if (m2 & Intercept2.XSETBV) mask |= bit(InterceptKind.Xsetbv);
    if (m2 & (Intercept2.MONITOR | Intercept2.MWAIT)) mask |= bit(InterceptKind.MonitorMwait);
    return mask;
  }

  /**
   * #VMEXIT's store of the guest state (15.6). The SEG, CRx and DT areas' fields are written
   * where they differ from what the VMCB holds (`stored`): the guest changes them seldom, and the
   * 33 writes of them at every #VMEXIT were the larger part of this store (about 4 % of
   * bench-ctxsw32's vCPU on svm,npt=off). The VMCB reads the same afterwards.
   */
  private save(v: Vmcb): void {
    const s = this.cpu.state;
    // The load of this VMRUN made `stored` this VMCB's (`heldVmcbHpa` is `v`'s since then).
    for (let i = 0; i < VMRUN_SEGS; i++) {
      const o = VMCB_SEG_BY_SREG[i];
      const k = i * Stored.SEG_SLOTS;
      this.store16(v, o + SEG_SELECTOR, k, s.segSel[i]);
      this.store16(v, o + SEG_ATTRIB, k + 1, arToAttrib(s.segAttr[i]));
      this.store32(v, o + SEG_LIMIT, k + 2, s.segLimit[i]);
      this.store64(v, o + SEG_BASE, k + 3, s.segBase[i], s.segBaseHigh[i]);
    }
    if (this.stored[Stored.CPL] !== s.cpl) {
      this.stored[Stored.CPL] = s.cpl;
      v.setU8(VMCB.CPL, s.cpl);
    }
    this.store64(v, VMCB.GDTR + SEG_BASE, Stored.GDTR_BASE, s.dtBase[0], s.dtBaseHigh[0]);
    this.store32(v, VMCB.GDTR + SEG_LIMIT, Stored.GDTR_LIMIT, s.dtLimit[0]);
    this.store64(v, VMCB.IDTR + SEG_BASE, Stored.IDTR_BASE, s.dtBase[1], s.dtBaseHigh[1]);
    this.store32(v, VMCB.IDTR + SEG_LIMIT, Stored.IDTR_LIMIT, s.dtLimit[1]);
    // CR0 and CR4 are 32-bit here; their high halves in the VMCB are zero (the VMRUN checked).
    this.store64(v, VMCB.CR0, Stored.CR0, s.cr[0], 0);
    this.store64(v, VMCB.CR3, Stored.CR3, s.cr[3], s.crHigh[3]);
    this.store64(v, VMCB.CR4, Stored.CR4, s.cr[4], 0);
    this.store64(v, VMCB.EFER, Stored.EFER, s.efer[0], s.efer[1]);
    v.set64(VMCB.CR2, s.cr[2], s.crHigh[2]);
    v.set64(VMCB.DR6, s.dr[6], 0);
    v.set64(VMCB.DR7, s.dr[7], 0);
    v.set64(VMCB.RFLAGS, s.rflags[0], 0);
    v.set64(VMCB.RIP, s.rip[0], s.rip[1]);
    v.set64(VMCB.RSP, s.gpr[4], s.gprHigh[4]);
    v.set64(VMCB.RAX, s.gpr[0], s.gprHigh[0]);
    const vi = v.u32(VMCB.V_INTR);
    if (vi & VIntr.MASKING) v.setU32(VMCB.V_INTR, (vi & ~VIntr.TPR_MASK) | (s.cr[8] & 0xf));
    // STI or MOV SS blocking only: NMI blocking is no part of the interrupt shadow (15.21.5).
    v.set64(VMCB.INTERRUPT_SHADOW, s.interruptibility & 3 ? 1 : 0, 0);
  }

  /** A 16-bit field of slot `slot` of `stored`, written when the value differs. */
  private store16(v: Vmcb, off: number, slot: number, value: number): void {
    if (this.stored[slot] === value) return;
    this.stored[slot] = value;
    v.setU16(off, value);
  }

  /** A 32-bit field, the same way. */
  private store32(v: Vmcb, off: number, slot: number, value: number): void {
    if (this.stored[slot] === value) return;
    this.stored[slot] = value;
    v.setU32(off, value);
  }

  /** A 64-bit field from two halves, at slots `slot` and `slot + 1`. */
  private store64(v: Vmcb, off: number, slot: number, lo: number, hi: number): void {
    const st = this.stored;
    if (st[slot] === lo && st[slot + 1] === hi) return;
    st[slot] = lo;
    st[slot + 1] = hi;
    v.set64(off, lo, hi);
  }

  /** RIP's high half at the exit, and the next RIP's (a carry only in 64-bit mode). */
  private ripHigh = 0;
  private nextHigh = 0;

  private exit(v: Vmcb, code: number, info1: number, info2: number, nextRip: number): void {
    v.set64(VMCB.EXITCODE, code >>> 0, code < 0 ? 0xffffffff : 0);
    v.set64(VMCB.EXITINFO1, info1, 0);
    v.set64(VMCB.EXITINFO2, info2, 0);
    v.set64(VMCB.NEXT_RIP, nextRip, this.nextHigh);
    const e = this.cpu.exit;
    if (e.vectoringValid) {
      // x86emu numbers events as VMX does; EXITINTINFO has no software-exception type: INT3,
      // INTO and INT1 are exceptions (type 3) there (15.7.2).
      const type = e.vectoringType === 5 || e.vectoringType === 6 ? EventInjType.EXCEPTION : e.vectoringType;
      v.setU32(
        VMCB.EXITINTINFO,
        EventInj.VALID | (type << 8) | (e.vectoringHasErrorCode ? EventInj.EV : 0) | e.vectoringVector,
      );
      v.setU32(VMCB.EXITINTINFO + 4, e.vectoringErrorCode);
    } else {
      v.set64(VMCB.EXITINTINFO, 0, 0);
    }
  }

  /** Runs the guest of VMCB `v` until a #VMEXIT. */
  run(v: Vmcb): void {
    this.load(v);
    const cpu = this.cpu;
    cpu.exit.vectoringValid = false;
    const before = cpu.instructionsRetired;
    const why = cpu.run(this.hostTick);
    this.lastInstructions = cpu.instructionsRetired - before;
    const e = cpu.exit;
    const rip = cpu.state.rip[0];
    this.ripHigh = cpu.state.rip[1];
    this.nextHigh = this.ripHigh;
    switch (why) {
      case StopReason.Intercept:
        this.interceptExit(v, e, rip);
        break;
      case StopReason.Exception:
        // #PF: EXITINFO1 the error code, EXITINFO2 the faulting address, canonical (15.12.15).
        this.exit(
          v,
          SvmExit.EXCP_BASE + e.vector,
          e.hasErrorCode ? e.errorCode : 0,
          e.vector === PF_VECTOR ? e.faultAddress : 0,
          rip,
        );
        if (e.vector === PF_VECTOR) v.setU32(VMCB.EXITINFO2 + 4, linearHigh(e.faultAddress));
        break;
      case StopReason.Shutdown:
        this.exit(v, SvmExit.SHUTDOWN, 0, 0, rip);
        break;
      default:
        this.exit(v, SvmExit.INTR, 0, 0, rip);
        break;
    }
    if (this.npEnabled) this.nptRegime.exited(cpu);
    else this.tlbRegime.exited(cpu.stats.tlbMisses);
    this.save(v);
    // x86emu's mode and segment checks follow every change the guest made: they match the state.
    this.modeStale = false;
  }

  private interceptExit(v: Vmcb, e: ExitInfo, rip: number): void {
    const sum = rip + e.instructionLength;
    const next = sum >>> 0;
    // In 64-bit mode the next RIP carries into the high half; elsewhere EIP wraps.
    if (sum > 0xffffffff && this.cpu.long64) this.nextHigh = (this.ripHigh + 1) >>> 0;
    switch (e.kind) {
      case InterceptKind.CrRead:
        // Decode assists (15.33.1): EXITINFO1 bit 63 valid, 3:0 the GPR — for MOV from CR only;
        // SMSW, a CR0 read too, leaves EXITINFO1 zero and the hypervisor decodes it.
        if (e.crAccessType !== CrAccessType.MovFromCr) {
          this.exit(v, SvmExit.READ_CR0 + e.cr, 0, 0, next);
          return;
        }
        this.exit(v, SvmExit.READ_CR0 + e.cr, e.gpr, 0, next);
        v.setU32(VMCB.EXITINFO1 + 4, 0x80000000);
        return;
      case InterceptKind.CrWrite:
        this.exit(v, SvmExit.WRITE_CR0 + e.cr, e.crAccessType === 0 ? e.gpr : 0, 0, next);
        if (e.crAccessType === 0) v.setU32(VMCB.EXITINFO1 + 4, 0x80000000);
        return;
      case InterceptKind.DrAccess:
        // Decode assists (15.33.1): EXITINFO1[3:0] the GPR, bit 63 set for MOV DR.
        this.exit(v, (e.drWrite ? SvmExit.WRITE_DR0 : SvmExit.READ_DR0) + e.dr, e.gpr, 0, next);
        v.setU32(VMCB.EXITINFO1 + 4, 0x80000000);
        return;
      case InterceptKind.Io: {
        const sz = e.ioSize === 1 ? IoioInfo.SZ8 : e.ioSize === 2 ? IoioInfo.SZ16 : IoioInfo.SZ32;
        const a = e.ioAddressSize === 2 ? IoioInfo.A16 : e.ioAddressSize === 8 ? IoioInfo.A64 : IoioInfo.A32;
        const info =
          (e.ioIn ? IoioInfo.TYPE_IN : 0) |
          (e.ioString ? IoioInfo.STR : 0) |
          (e.ioRep ? IoioInfo.REP : 0) |
          sz |
          a |
          (e.segment << IoioInfo.SEG_SHIFT) |
          (e.port << IoioInfo.PORT_SHIFT);
        // EXITINFO2: the RIP of the next instruction (15.10.2).
        this.exit(v, SvmExit.IOIO, info >>> 0, next, next);
        v.setU32(VMCB.EXITINFO2 + 4, this.nextHigh);
        return;
      }
      case InterceptKind.Rdmsr:
        this.exit(v, SvmExit.MSR, 0, 0, next);
        return;
      case InterceptKind.Wrmsr:
        this.exit(v, SvmExit.MSR, 1, 0, next);
        return;
      case InterceptKind.Invlpg:
        // EXITINFO1: the linear address operand, all 64 bits (15.33.1).
        this.exit(v, SvmExit.INVLPG, e.linearAddress >>> 0, 0, next);
        v.setU32(VMCB.EXITINFO1 + 4, linearHigh(e.linearAddress));
        return;
      case InterceptKind.InterruptWindow:
        this.exit(v, SvmExit.VINTR, 0, 0, rip);
        return;
      case InterceptKind.SoftwareInterrupt:
        this.exit(v, SvmExit.SWINT, 0, 0, next);
        return;
      case InterceptKind.TaskSwitch: {
        // EXITINFO1: the new TSS selector; EXITINFO2: IRET/JMP and an exception's error code
        // (15.14.4); a CALL or a task gate in the IDT has neither bit (the gate's event is in
        // EXITINTINFO).
        const gate = e.taskSwitchSource === 3;
        const hasCode = gate && e.vectoringValid && e.vectoringHasErrorCode;
        const hi =
          (e.taskSwitchSource === 1 ? TaskSwitchInfoHi.IRET : 0) |
          (e.taskSwitchSource === 2 ? TaskSwitchInfoHi.JMP : 0) |
          (hasCode ? TaskSwitchInfoHi.HAS_ERROR_CODE : 0);
        this.exit(
          v,
          SvmExit.TASK_SWITCH,
          e.taskSwitchSelector & 0xffff,
          hasCode ? e.vectoringErrorCode : 0,
          next,
        );
        v.setU32(VMCB.EXITINFO2 + 4, hi);
        return;
      }
      case InterceptKind.PushfPopf:
        this.exit(v, SvmExit.PUSHF, 0, 0, next);
        return;
      case InterceptKind.NestedPageFault:
        // #VMEXIT(NPF) (15.25.6): EXITINFO1 the nested walk's #PF error code with bit 32 (final
        // gPA) or 33 (a guest page-table access), EXITINFO2 the guest-physical address; RIP at
        // the instruction, which runs again once the hypervisor has mapped the page.
        this.exit(v, SvmExit.NPF, e.errorCode >>> 0, e.faultAddress >>> 0, rip);
        v.setU32(VMCB.EXITINFO1 + 4, e.nestedFaultInWalk ? NPF_INFO_HI_TABLE : NPF_INFO_HI_FINAL);
        v.setU32(VMCB.EXITINFO2 + 4, Math.floor(e.faultAddress / TWO32) >>> 0);
        return;
      default: {
        const code = SIMPLE[e.kind];
        this.exit(v, code >= 0 ? code : SvmExit.INTR, 0, 0, next);
      }
    }
  }
}

const SIMPLE: Int16Array = (() => {
  const t = new Int16Array(32).fill(-1);
  t[InterceptKind.Cpuid] = SvmExit.CPUID;
  t[InterceptKind.Hlt] = SvmExit.HLT;
  t[InterceptKind.Rdtsc] = SvmExit.RDTSC;
  t[InterceptKind.Rdpmc] = SvmExit.RDPMC;
  t[InterceptKind.Invd] = SvmExit.INVD;
  t[InterceptKind.Wbinvd] = SvmExit.WBINVD;
  t[InterceptKind.Xsetbv] = SvmExit.XSETBV;
  t[InterceptKind.Pause] = SvmExit.PAUSE;
  t[InterceptKind.Shutdown] = SvmExit.SHUTDOWN;
  t[InterceptKind.TaskSwitch] = SvmExit.TASK_SWITCH;
  t[InterceptKind.Iret] = SvmExit.IRET;
  t[InterceptKind.Vmmcall] = SvmExit.VMMCALL;
  t[InterceptKind.MonitorMwait] = SvmExit.MWAIT;
  return t;
})();
