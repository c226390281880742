/**
 * `SoftVcpu`: the generic part of a virtual CPU (`struct kvm_vcpu` of kvm.h): the registers the
 * generic code caches, the guest's control registers as the guest sees them, the pending
 * interrupt, the shared kvm_run page, the MMU context, and `arch`, the backend's own state
 * (its VMCS or VMCB and what goes with it). The ioctls that act on a vCPU are methods here;
 * the run loop is in `run-loop.ts`.
 */
import { holdAsDoubles } from '@kvm/x86emu';
import { KvmRunView } from '../abi/run.js';
import { Errno, KvmError } from '../api/errors.js';
import type { KvmCpuidEntry2, KvmMsrEntry, KvmRegs, KvmSegment, KvmSregs } from '../api/structs.js';
import { type ArchDtable, type ArchOps, type ArchSegment, newArchSegment, VcpuSreg } from './arch-ops.js';
import { CommonMsrs } from './common-msrs.js';
import { kvmCpuidFilter } from './cpuid-filter.js';
import { GuestDebugRegs } from './debugregs.js';
import { kvmSetEfer } from './efer.js';
import { GuestFpu } from './fpu.js';
import type { KvmLapic } from './irqchip/lapic.js';
import { kvmLapicGetMsr, kvmLapicSetMsr, kvmLapicUpdateCpuid } from './irqchip/vcpu-irq.js';
import { syncPaging, vcpuMmu } from './mmu-glue.js';
import { MSR } from './msrs.js';
import { PendingPio } from './pio.js';
import type { SoftVm } from './vm.js';

/** KVM_NR_INTERRUPTS */
export const KVM_NR_INTERRUPTS = 256;

/** IA32_APIC_BASE at reset: 0xFEE00000, enabled (bit 11), BSP (bit 8) on vCPU 0. */
const APIC_DEFAULT_BASE = 0xfee00000;
const MSR_IA32_APICBASE_ENABLE = 1 << 11;
const MSR_IA32_APICBASE_BSP = 1 << 8;

/** CR0 bits checked by KVM_SET_SREGS (`kvm_is_valid_cr0`). */
const X86_CR0_PE = 1 << 0;
const X86_CR0_NW = 1 << 29;
const X86_CR0_CD = 1 << 30;
const X86_CR0_PG = 0x80000000;
/** CR4 bits this engine's CPUs implement (VME…OSXMMEXCPT, OSXSAVE); others are reserved → EINVAL. */
export const CR4_SUPPORTED = 0x7ff | (1 << 18);
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const X86_CR4_PAE = 1 << 5;

/** Requests other code makes of a vCPU, served before the next entry (KVM_REQ_*). */
export const KvmRequest = {
  TLB_FLUSH: 1 << 0,
  MMU_RELOAD: 1 << 1,
  /** KVM_REQ_TRIPLE_FAULT: an exception on top of a pending #DF (`kvm_multiple_exception`). */
  TRIPLE_FAULT: 1 << 2,
} as const;

/** The generic vCPU. Fields are public for the backend, as `struct kvm_vcpu` is to vmx.c. */
export class SoftVcpu {
  /** General registers by x86 number (RAX=0 … R15=15), low halves: `vcpu->regs[]`. RSP is valid after `cacheRegs`. */
  readonly regs = new Uint32Array(16);
  readonly regsHigh = new Uint32Array(16);
  /** RIP, valid after `cacheRegs`. */
  rip = 0;
  ripHigh = 0;
  /**
   * The guest's control registers as the guest sees them. cr0/cr4 may be stale in the bits the
   * guest owns (`ArchOps.decacheCrGuestBits` refreshes them). cr3 is the guest's, not the real
   * one (that is the shadow root).
   */
  cr0 = 0;
  cr3 = 0;
  cr3High = 0;
  cr4 = 0;
  cr8 = 0;
  /** EFER as the guest sees it (`shadow_efer`). */
  efer = 0;
  eferHigh = 0;
  apicBase: number;
  /** The in-kernel local APIC (`vcpu->arch.apic`), when the VM has an irqchip. */
  apic: KvmLapic | null = null;
  /** The interrupt KVM_INTERRUPT queued, injected at the next entry; -1 when none. */
  interruptQueued = -1;
  /** KVM_NMI queued an NMI (delivered when NMIs are not blocked). */
  nmiQueued = false;
  /** KVM_REQ_* bits. */
  requests = 0;
  /**
   * A vCPU ioctl other than KVM_RUN and KVM_INTERRUPT came since the last KVM_RUN (registers, guest
   * debugging, MSRs, …): the next KVM_RUN checks the code against memory whatever userspace's
   * no-user-writes hint (run-loop.ts), as before the hint, since that check also sends compiled
   * code back through JavaScript, where what such an ioctl changed is looked at again (gdb's
   * single steps and INT3s on the engines failed without this).
   */
  userIoctls = true;
  /** PAUSE exits in this turn (`kvmVcpuOnSpin`), and whether the run should end to yield. */
  spinPauses = 0;
  spinYield = false;
  /**
   * With several vCPUs taking turns: `instructions` when this vCPU's turn began, or -1 once a
   * KVM_RUN ended without an exit for userspace (EINTR, EAGAIN: the turn passes on). The run
   * budget counts from here, across the userspace exits of one turn (`run-loop.ts`).
   */
  turnStart = -1;
  /** KVM_RUNs of this turn that followed an exit for userspace (`TURN_USERSPACE_EXITS`). */
  turnExits = 0;
  /**
   * Instructions an entry may run (run-loop.ts `kvmEntrySlice`): about a host tick's worth at the
   * rate measured since `sliceHostNs` (host ns; -1 before the first entry) and `sliceInstructions`.
   */
  entrySlice = 0;
  sliceHostNs = -1;
  sliceInstructions = 0;
  /** The CPUID table of KVM_SET_CPUID2. */
  cpuidEntries: KvmCpuidEntry2[] = [];
  /** The generic MSRs; the guest's CPUID decides which a guest may read (ARCH_CAPABILITIES). */
  readonly commonMsrs = new CommonMsrs(
    (leaf, subleaf, out) => this.cpuidLookup(leaf, subleaf, out),
    (leaf, subleaf, out) => this.ops.cpu.cpuid(leaf, subleaf, out),
  );
  /** The guest's x87/SSE registers while it is not on the processor. */
  readonly fpu = new GuestFpu();
  /** DR0–DR3 (`vcpu->arch.db[]`), swapped around entries by the driver as the FPU is. */
  readonly debugRegs = new GuestDebugRegs();
  /** An IN/OUT waiting for userspace. */
  readonly pio = new PendingPio();
  /** The backend's state (`to_vmx(vcpu)` / `to_svm(vcpu)`), set by `ArchOps.vcpuCreate`. */
  arch: unknown = null;
  /** The MMU context (set up in two phases: create, then setup once the state is known). */
  mmu: unknown = null;
  /** The in-kernel instruction emulator (`emulate.ts`), made on first use. */
  emulator: unknown = null;
  /** Instructions the guest executed, over the vCPU's life (the silicon adds to it). */
  instructions = 0;
  /** KVM_SET_GUEST_DEBUG's control (`vcpu->guest_debug`) and debugreg[] (`guest-debug.ts`). */
  guestDebug = 0;
  readonly guestDebugRegs = new Uint32Array(8);
  readonly guestDebugRegsHigh = new Uint32Array(8);
  /** The shared kvm_run page (+ the PIO data page). */
  readonly run: KvmRunView;
  readonly runBuffer: ArrayBufferLike;
  /** Set (Atomics) by a kick from any thread; KVM_RUN returns EINTR when it sees it. */
  readonly kickFlag: Int32Array;

  private readonly seg: ArchSegment = newArchSegment();
  private readonly dt: ArchDtable = { base: 0, baseHigh: 0, limit: 0 };
  private readonly msrOut = new Uint32Array(2);

  constructor(
    readonly vcpuId: number,
    readonly vm: SoftVm,
    readonly ops: ArchOps,
    mmapSize: number,
  ) {
    this.apicBase = APIC_DEFAULT_BASE | MSR_IA32_APICBASE_ENABLE | (vcpuId === 0 ? MSR_IA32_APICBASE_BSP : 0);
    // Shared memory when the platform allows, so another thread can read kvm_run and kick.
    const shared = typeof SharedArrayBuffer === 'function';
    this.runBuffer = shared ? new SharedArrayBuffer(mmapSize) : new ArrayBuffer(mmapSize);
    this.run = new KvmRunView(this.runBuffer);
    this.kickFlag = new Int32Array(shared ? new SharedArrayBuffer(4) : new ArrayBuffer(4));
    // RIP's halves, CR0 with PG set and CR3 are uint32 values at or above 2^31, the instruction
    // counts pass 2^31, the host times are fractions: doubles from the start (x86emu's
    // double-fields.ts: each later change of the vCPU's shape threw away its optimized code).
    holdAsDoubles(this.dt, ['base', 'baseHigh', 'limit']);
    holdAsDoubles(this, [
      'rip',
      'ripHigh',
      'cr0',
      'cr3',
      'cr3High',
      'turnStart',
      'sliceHostNs',
      'sliceInstructions',
      'instructions',
    ]);
  }

  /** KVM_GET_REGS */
  getRegs(): KvmRegs {
    this.ops.cacheRegs(this);
    const r = this.regs;
    const h = this.regsHigh;
    const q = (i: number): bigint => (BigInt(h[i]) << 32n) | BigInt(r[i]);
    return {
      rax: q(0),
      rcx: q(1),
      rdx: q(2),
      rbx: q(3),
      rsp: q(4),
      rbp: q(5),
      rsi: q(6),
      rdi: q(7),
      r8: q(8),
      r9: q(9),
      r10: q(10),
      r11: q(11),
      r12: q(12),
      r13: q(13),
      r14: q(14),
      r15: q(15),
      rip: (BigInt(this.ripHigh) << 32n) | BigInt(this.rip),
      rflags: BigInt(this.ops.getRflags(this) >>> 0),
    };
  }

  /** KVM_SET_REGS */
  setRegs(v: KvmRegs): void {
    const order = [
      v.rax,
      v.rcx,
      v.rdx,
      v.rbx,
      v.rsp,
      v.rbp,
      v.rsi,
      v.rdi,
      v.r8,
      v.r9,
      v.r10,
      v.r11,
      v.r12,
      v.r13,
      v.r14,
      v.r15,
    ];
    this.ops.cacheRegs(this);
    for (let i = 0; i < 16; i++) {
      this.regs[i] = Number(order[i] & 0xffffffffn);
      this.regsHigh[i] = Number((order[i] >> 32n) & 0xffffffffn);
    }
    this.rip = Number(v.rip & 0xffffffffn);
    this.ripHigh = Number((v.rip >> 32n) & 0xffffffffn);
    this.ops.decacheRegs(this);
    // Bit 1 of RFLAGS is always 1 (SDM Vol. 1 3.4.3); KVM forces it too.
    this.ops.setRflags(this, (Number(v.rflags & 0xffffffffn) | 2) >>> 0);
  }

  /** KVM_GET_SREGS */
  getSregs(): KvmSregs {
    const ops = this.ops;
    const seg = (n: number): KvmSegment => {
      ops.getSegment(this, n, this.seg);
      return toKvmSegment(this.seg);
    };
    ops.decacheCrGuestBits(this);
    ops.getGdt(this, this.dt);
    const gdt = { base: u64(this.dt.base, this.dt.baseHigh), limit: this.dt.limit };
    ops.getIdt(this, this.dt);
    const idt = { base: u64(this.dt.base, this.dt.baseHigh), limit: this.dt.limit };
    const bitmap: [bigint, bigint, bigint, bigint] = [0n, 0n, 0n, 0n];
    if (this.interruptQueued >= 0)
      bitmap[this.interruptQueued >>> 6] = 1n << BigInt(this.interruptQueued & 63);
    return {
      cs: seg(VcpuSreg.CS),
      ds: seg(VcpuSreg.DS),
      es: seg(VcpuSreg.ES),
      fs: seg(VcpuSreg.FS),
      gs: seg(VcpuSreg.GS),
      ss: seg(VcpuSreg.SS),
      tr: seg(VcpuSreg.TR),
      ldt: seg(VcpuSreg.LDTR),
      gdt,
      idt,
      cr0: BigInt(this.cr0 >>> 0),
      cr2: u64(ops.getCr2(this), ops.getCr2High?.(this) ?? 0),
      cr3: u64(this.cr3, this.cr3High),
      cr4: BigInt(this.cr4 >>> 0),
      cr8: BigInt(this.apic !== null ? (this.apic.reg(0x80) >>> 4) & 15 : this.cr8),
      efer: u64(this.efer, this.eferHigh),
      apicBase: BigInt(this.apicBase >>> 0),
      interruptBitmap: bitmap,
    };
  }

  /**
   * KVM_SET_SREGS, with `kvm_is_valid_sregs`'s checks first (EINVAL, nothing changed): CR0 with
   * NW but not CD or PG without PE, reserved CR4 bits, EFER.LMA inconsistent with LME and PG.
   */
  setSregs(s: KvmSregs): void {
    const op = 'KVM_SET_SREGS';
    const cr0 = s.cr0;
    const cr4 = s.cr4;
    if (cr0 >> 32n !== 0n) throw new KvmError(op, Errno.EINVAL, 'cr0 high bits');
    const cr0n = Number(cr0);
    if (cr0n & X86_CR0_NW && !(cr0n & X86_CR0_CD)) throw new KvmError(op, Errno.EINVAL, 'cr0.NW without CD');
    if (cr0n & X86_CR0_PG && !(cr0n & X86_CR0_PE)) throw new KvmError(op, Errno.EINVAL, 'cr0.PG without PE');
    if ((cr4 & ~BigInt(CR4_SUPPORTED)) !== 0n) throw new KvmError(op, Errno.EINVAL, 'reserved cr4 bits');
    const eferLo = Number(s.efer & 0xffffffffn);
    if (eferLo & EFER_LME && cr0n & X86_CR0_PG) {
      if (!(Number(cr4) & X86_CR4_PAE) || !(eferLo & EFER_LMA)) {
        throw new KvmError(op, Errno.EINVAL, 'long mode needs cr4.PAE and efer.LMA');
      }
    } else if (eferLo & EFER_LMA || s.cs.l) {
      throw new KvmError(op, Errno.EINVAL, 'efer.LMA or cs.L outside long mode');
    }
    const ops = this.ops;
    const segs: [number, KvmSegment][] = [
      [VcpuSreg.CS, s.cs],
      [VcpuSreg.DS, s.ds],
      [VcpuSreg.ES, s.es],
      [VcpuSreg.FS, s.fs],
      [VcpuSreg.GS, s.gs],
      [VcpuSreg.SS, s.ss],
      [VcpuSreg.TR, s.tr],
      [VcpuSreg.LDTR, s.ldt],
    ];
    for (const [n, v] of segs) ops.setSegment(this, n, fromKvmSegment(v, this.seg));
    setDt(this.dt, s.gdt.base, s.gdt.limit);
    ops.setGdt(this, this.dt);
    setDt(this.dt, s.idt.base, s.idt.limit);
    ops.setIdt(this, this.dt);
    ops.setCr2(this, Number(s.cr2 & 0xffffffffn), Number((s.cr2 >> 32n) & 0xffffffffn));
    this.cr3 = Number(s.cr3 & 0xffffffffn);
    this.cr3High = Number((s.cr3 >> 32n) & 0xffffffffn);
    this.cr8 = Number(s.cr8 & 0xfn);
    this.apicBase = Number(s.apicBase & 0xffffffffn);
    if (this.apic !== null) {
      // kvm_set_apic_base (host-initiated) and kvm_set_cr8 → the APIC's TPR.
      const hi = Number((s.apicBase >> 32n) & 0xffffffffn);
      if (kvmLapicSetMsr(this, MSR.IA32_APICBASE, this.apicBase, hi, true) !== 1) {
        this.apicBase = this.apic.apicBase;
        throw new KvmError(op, Errno.EINVAL, 'apic_base refused (kvm_set_apic_base)');
      }
      this.apic.writeReg(0x80, this.cr8 << 4);
    }
    ops.setEfer(this, eferLo, Number((s.efer >> 32n) & 0xffffffffn));
    ops.setCr0(this, cr0n);
    this.cr0 = cr0n;
    ops.setCr4(this, Number(cr4));
    this.cr4 = Number(cr4);
    this.vm.mmuResetContext(this);
    // The interrupt bitmap: the first pending vector is queued (modern KVM keeps one).
    this.interruptQueued = -1;
    for (let w = 0; w < 4 && this.interruptQueued < 0; w++) {
      const word = s.interruptBitmap[w];
      if (word === 0n) continue;
      for (let b = 0; b < 64; b++) {
        if ((word >> BigInt(b)) & 1n) {
          this.interruptQueued = w * 64 + b;
          break;
        }
      }
    }
  }

  /** KVM_GET_MSRS: reads in order, stops at the first MSR nobody implements; returns how many. */
  getMsrs(entries: KvmMsrEntry[]): number {
    const out = this.msrOut;
    for (let i = 0; i < entries.length; i++) {
      if (!this.getMsr(entries[i].index, out, true)) return i;
      entries[i].data = u64(out[0], out[1]);
    }
    return entries.length;
  }

  /** KVM_SET_MSRS: writes in order, stops at the first refused; returns how many. */
  setMsrs(entries: readonly KvmMsrEntry[]): number {
    for (let i = 0; i < entries.length; i++) {
      const d = entries[i].data;
      const lo = Number(d & 0xffffffffn);
      if (!this.setMsr(entries[i].index, lo, Number((d >> 32n) & 0xffffffffn), true)) return i;
    }
    return entries.length;
  }

  /**
   * `kvm_get_msr`: the backend's MSRs, then the generic ones. False: #GP. `host`: the access is
   * userspace's (KVM_GET_MSRS), which some MSRs allow where the guest may not.
   */
  getMsr(index: number, out: Uint32Array, host = false): boolean {
    if (this.ops.getMsr(this, index, out)) return true;
    if (this.apic !== null) {
      const r = kvmLapicGetMsr(this, index, out);
      if (r >= 0) return r === 1;
    }
    if (index === MSR.IA32_APICBASE) {
      out[0] = this.apicBase;
      out[1] = 0;
      return true;
    }
    return this.commonMsrs.get(index, out, host);
  }

  /** `kvm_set_msr`. False: #GP. `host`: KVM_SET_MSRS (`msr_info->host_initiated`). */
  setMsr(index: number, lo: number, hi: number, host = false): boolean {
    if (index >>> 0 === MSR.EFER) return kvmSetEfer(this, lo, hi, host);
    if (this.ops.setMsr(this, index, lo, hi)) return true;
    if (this.apic !== null) {
      const r = kvmLapicSetMsr(this, index, lo, hi, host);
      if (r >= 0) return r === 1;
    }
    if (index === MSR.IA32_APICBASE) {
      this.apicBase = lo >>> 0;
      return hi === 0;
    }
    return this.commonMsrs.set(index, lo, hi, host);
  }

  /** KVM_INTERRUPT (no in-kernel irqchip): EINVAL beyond 255; otherwise queued for the next entry. */
  interrupt(irq: number): void {
    if (irq >= KVM_NR_INTERRUPTS) throw new KvmError('KVM_INTERRUPT', Errno.EINVAL, `irq ${irq}`);
    // kvm_vcpu_ioctl_interrupt: the in-kernel PIC is the only source of external interrupts.
    if (this.vm.irqchip !== null)
      throw new KvmError('KVM_INTERRUPT', Errno.ENXIO, 'the in-kernel irqchip owns INTR');
    this.interruptQueued = irq;
  }

  /**
   * KVM_TRANSLATE: the guest-physical address of linear `gva` through the guest's page tables
   * (identity with paging off), or -1 when the guest would fault.
   */
  translate(gva: bigint): number {
    // Outside IA-32e mode linear addresses have 32 bits (KVM_TRANSLATE truncates as the CPU does
    // not: -1); in it the MMU walks the 48-bit address (bits 63:48 ignored).
    if (gva > 0xffffffffn && !(this.efer & (1 << 10))) return -1;
    this.ops.decacheCrGuestBits(this);
    if (!(this.cr0 & 0x80000000) || this.mmu === null) return Number(gva & 0xffffffffn);
    syncPaging(this);
    const lo = Number(gva & 0xffffffffn);
    const hi = Number((gva >> 32n) & 0xffffffffn);
    return vcpuMmu(this).mmu.gvaToGpa64(lo, hi, 0);
  }

  /** KVM_SET_CPUID2 */
  setCpuid2(entries: KvmCpuidEntry2[]): void {
    this.cpuidEntries = entries.map((e) => ({ ...e }));
    kvmLapicUpdateCpuid(this);
    this.ops.vcpuAfterSetCpuid?.(this);
  }

  /**
   * `kvm_find_cpuid_entry`: the KVM_SET_CPUID2 entry for `leaf` (and `index`, where the entry's
   * index is significant), as `guest_cpuid_has` reads it: no fall-back to another leaf, no filter.
   */
  findCpuidEntry(leaf: number, index = 0): KvmCpuidEntry2 | undefined {
    const es = this.cpuidEntries;
    for (let i = 0; i < es.length; i++) {
      const e = es[i];
      if (e.function === leaf >>> 0 && (!(e.flags & 1) || e.index === index)) return e;
    }
    return undefined;
  }

  /** `kvm_emulate_cpuid`'s lookup: the entry for (leaf, subleaf) KVM_SET_CPUID2 gave, as KVM finds it. */
  cpuidLookup(leaf: number, subleaf: number, out: Uint32Array): void {
    const es = this.cpuidEntries;
    let best: KvmCpuidEntry2 | undefined;
    // Indexed: a CPUID exit is in-kernel and frequent in some guests; no iterator per lookup.
    for (let i = 0; i < es.length; i++) {
      const e = es[i];
      if (e.function !== leaf) continue;
      // KVM_CPUID_FLAG_SIGNIFCANT_INDEX (1): the subleaf must match too.
      if (e.flags & 1 && e.index !== subleaf) continue;
      best = e;
      break;
    }
    if (best === undefined) {
      // Out-of-range leaves: KVM answers with the highest basic leaf (Intel behaviour); with no
      // table at all, zeros.
      const max = es.find((e) => e.function === 0);
      if (max !== undefined && leaf < 0x80000000 && leaf > max.eax) {
        this.cpuidLookup(max.eax, subleaf, out);
        return;
      }
      out[0] = out[1] = out[2] = out[3] = 0;
      return;
    }
    out[0] = best.eax;
    out[1] = best.ebx;
    out[2] = best.ecx;
    out[3] = best.edx;
    // Only what the silicon implements (and KVM emulates) reaches the guest (cpuid-filter.ts).
    kvmCpuidFilter(this.ops, leaf, subleaf, out);
    // kvm_update_cpuid_runtime: CPUID.1:EDX.APIC[bit 9] follows IA32_APIC_BASE's enable bit.
    if (leaf === 1 && this.apic !== null) {
      out[3] = this.apic.hwEnabled ? (out[3] | (1 << 9)) >>> 0 : out[3] & ~(1 << 9);
    }
    // … and CPUID.1:ECX.OSXSAVE[bit 27] follows CR4.OSXSAVE where the table has XSAVE (bit 26).
    if (leaf === 1)
      out[2] = out[2] & (1 << 26) && this.cr4 & (1 << 18) ? (out[2] | (1 << 27)) >>> 0 : out[2] & ~(1 << 27);
  }
}

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function setDt(dt: ArchDtable, base: bigint, limit: number): void {
  dt.base = Number(base & 0xffffffffn);
  dt.baseHigh = Number((base >> 32n) & 0xffffffffn);
  dt.limit = limit & 0xffff;
}

export function toKvmSegment(s: ArchSegment): KvmSegment {
  return {
    base: u64(s.base, s.baseHigh),
    limit: s.limit >>> 0,
    selector: s.selector,
    type: s.type,
    present: s.present,
    dpl: s.dpl,
    db: s.db,
    s: s.s,
    l: s.l,
    g: s.g,
    avl: s.avl,
    unusable: s.unusable,
  };
}

export function fromKvmSegment(v: KvmSegment, out: ArchSegment): ArchSegment {
  out.base = Number(v.base & 0xffffffffn);
  out.baseHigh = Number((v.base >> 32n) & 0xffffffffn);
  out.limit = v.limit >>> 0;
  out.selector = v.selector;
  out.type = v.type;
  out.present = v.present;
  out.dpl = v.dpl;
  out.db = v.db;
  out.s = v.s;
  out.l = v.l;
  out.g = v.g;
  out.avl = v.avl;
  out.unusable = v.unusable;
  return out;
}
