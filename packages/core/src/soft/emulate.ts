/**
 * Emulation of one guest instruction in the kernel (`emulate_instruction`), for the two exits
 * that need it: a write to a guest page table the shadow MMU write-protects, and an access to
 * guest-physical memory outside every slot (MMIO).
 *
 * It runs the instruction on a second x86emu `Cpu` whose physical memory is the guest's
 * (guest-physical, through the memory slots) and whose state is the guest's architectural state
 * (its own CR0/CR3/CR4: the guest's page tables translate, and the walker sets accessed and dirty
 * bits — changelog: "If we emulate a write, we fail to set the dirty bit on the guest pte"), for
 * exactly one instruction. Writes to the page being emulated go through the slow path so the MMU
 * hears of each (`kvmMmuPteWrite`, changelog: "perform the writes in the kernel … and notify the
 * mmu"). An MMIO write completes the instruction and exits KVM_EXIT_MMIO; an MMIO read exits
 * first, and the instruction runs again on the next KVM_RUN with the data userspace supplied.
 *
 * x86emu's own `emulate(ctx, ops)` will replace this when it lands; the contract (typed result,
 * what is notified, what goes to userspace) stays.
 */
import { Cpu, CpuState, type PhysicalMemory, SegAttr, StopReason } from '@kvm/x86emu';
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import { type ArchSegment, ExitResult, newArchSegment } from './arch-ops.js';
import { vcpuMmu } from './mmu-glue.js';
import type { SoftVcpu } from './vcpu.js';
import { kvmInternalError, X86_CR0_PE } from './x86.js';

const PAGE = 4096;
const X86_EFLAGS_VM = 1 << 17;

/** The guest-physical address space of one VM, with the MMIO and watched-page hooks. */
class GuestPhysical implements PhysicalMemory {
  vcpu!: SoftVcpu;
  /** gfn whose writes are recorded (the write-protected page table), or -1. */
  watchGfn = -1;
  /** Writes to the watched page: [gpa, bytes] pairs. */
  readonly watched: number[] = [];
  /** MMIO: the first access of this instruction. */
  mmioValid = false;
  mmioWrite = false;
  mmioGpa = 0;
  mmioLen = 0;
  mmioValue = 0;
  /** A read's completion data from userspace (valid when `haveData`). */
  haveData = false;
  dataGpa = 0;
  data = 0;
  /** An MMIO read without data: the instruction must be retried after userspace. */
  needUser = false;

  private ram(gfn: number): Uint8Array | null {
    const hpfn = this.vcpu.vm.slots.gfnToHpfn(gfn);
    return hpfn < 0 ? null : this.vcpu.vm.hpm.pageView(hpfn);
  }

  pageView(pfn: number): Uint8Array | null {
    if (pfn === this.watchGfn) return null;
    return this.ram(pfn);
  }

  private read(pa: number, len: number): number {
    const page = this.ram(Math.floor(pa / PAGE));
    if (page !== null) {
      const o = pa % PAGE;
      let v = 0;
      for (let i = len - 1; i >= 0; i--) v = (v << 8) | page[o + i];
      return v >>> 0;
    }
    if (this.haveData && this.dataGpa === pa) return this.data;
    if (!this.mmioValid) {
      this.mmioValid = true;
      this.mmioWrite = false;
      this.mmioGpa = pa;
      this.mmioLen = len;
      this.needUser = true;
    }
    return 0;
  }

  private write(pa: number, len: number, value: number): void {
    const gfn = Math.floor(pa / PAGE);
    const page = this.ram(gfn);
    if (page !== null) {
      const o = pa % PAGE;
      for (let i = 0; i < len; i++) page[o + i] = (value >>> (8 * i)) & 0xff;
      this.vcpu.vm.slots.markDirty(gfn);
      if (gfn === this.watchGfn) this.watched.push(pa, len);
      return;
    }
    if (!this.mmioValid) {
      this.mmioValid = true;
      this.mmioWrite = true;
      this.mmioGpa = pa;
      this.mmioLen = len;
      this.mmioValue = value >>> 0;
    }
  }

  read8(pa: number): number {
    return this.read(pa, 1);
  }
  read16(pa: number): number {
    return this.read(pa, 2);
  }
  read32(pa: number): number {
    return this.read(pa, 4);
  }
  write8(pa: number, v: number): void {
    this.write(pa, 1, v);
  }
  write16(pa: number, v: number): void {
    this.write(pa, 2, v);
  }
  write32(pa: number, v: number): void {
    this.write(pa, 4, v);
  }
}

/** Per-vCPU emulator state. */
export class VcpuEmulator {
  private readonly mem = new GuestPhysical();
  private readonly state = new CpuState();
  private readonly cpu: Cpu;
  private readonly seg: ArchSegment = newArchSegment();
  /** An MMIO read is waiting for userspace's data (completed on the next KVM_RUN). */
  pendingRead = false;
  private pendingGpa = 0;

  constructor(readonly vcpu: SoftVcpu) {
    this.mem.vcpu = vcpu;
    this.cpu = new Cpu({
      memory: this.mem,
      state: this.state,
      msr: { rdmsr: (i, out) => vcpu.getMsr(i, out), wrmsr: (i, lo, hi) => vcpu.setMsr(i, lo, hi) },
      // Any exception stops the emulator: it is injected into the guest instead.
      intercepts: { mask: 0, exceptionMask: 0xffffffff, exception: () => true },
    });
  }

  /** The guest's architectural state into the emulator's CPU. */
  private load(): void {
    const v = this.vcpu;
    const ops = v.ops;
    const s = this.state;
    ops.cacheRegs(v);
    ops.decacheCrGuestBits(v);
    s.gpr.set(v.regs);
    s.gprHigh.set(v.regsHigh);
    s.rip[0] = v.rip;
    s.rip[1] = 0;
    const rflags = ops.getRflags(v);
    s.rflags[0] = rflags;
    for (let i = 0; i < 8; i++) {
      ops.getSegment(v, i, this.seg);
      const g = this.seg;
      s.segSel[i] = g.selector;
      s.segBase[i] = g.base;
      s.segBaseHigh[i] = 0;
      s.segLimit[i] = g.limit;
      s.segAttr[i] =
        (g.type & 15) |
        (g.s ? SegAttr.S : 0) |
        ((g.dpl & 3) << SegAttr.DPL_SHIFT) |
        (g.present ? SegAttr.P : 0) |
        (g.avl ? SegAttr.AVL : 0) |
        (g.l ? SegAttr.L : 0) |
        (g.db ? SegAttr.DB : 0) |
        (g.g ? SegAttr.G : 0) |
        (g.unusable ? SegAttr.UNUSABLE : 0);
    }
    const dt = { base: 0, baseHigh: 0, limit: 0 };
    ops.getGdt(v, dt);
    s.dtBase[0] = dt.base;
    s.dtLimit[0] = dt.limit;
    ops.getIdt(v, dt);
    s.dtBase[1] = dt.base;
    s.dtLimit[1] = dt.limit;
    s.cr[0] = v.cr0;
    s.cr[2] = ops.getCr2(v);
    s.cr[3] = v.cr3;
    s.cr[4] = v.cr4;
    s.efer[0] = v.efer;
    s.efer[1] = v.eferHigh;
    s.cpl = rflags & X86_EFLAGS_VM ? 3 : v.cr0 & X86_CR0_PE ? (s.segAttr[2] >>> SegAttr.DPL_SHIFT) & 3 : 0;
    s.interruptibility = 0;
    s.halted = false;
    s.pendingType = -1;
    this.cpu.stateChanged();
  }

  /** The emulated instruction's results back into the guest. */
  private store(): void {
    const v = this.vcpu;
    const ops = v.ops;
    const s = this.state;
    v.regs.set(s.gpr);
    v.regsHigh.set(s.gprHigh);
    v.rip = s.rip[0];
    ops.decacheRegs(v);
    ops.setRflags(v, s.rflags[0]);
    // A MOV to a segment register is the only other state a memory instruction changes.
    for (let i = 0; i < 6; i++) {
      ops.getSegment(v, i, this.seg);
      if (this.seg.selector === s.segSel[i] && this.seg.base === s.segBase[i]) continue;
      const a = s.segAttr[i];
      const g = this.seg;
      g.selector = s.segSel[i];
      g.base = s.segBase[i];
      g.baseHigh = 0;
      g.limit = s.segLimit[i];
      g.type = a & 15;
      g.s = a & SegAttr.S ? 1 : 0;
      g.dpl = (a & SegAttr.DPL_MASK) >>> SegAttr.DPL_SHIFT;
      g.present = a & SegAttr.P ? 1 : 0;
      g.avl = a & SegAttr.AVL ? 1 : 0;
      g.l = a & SegAttr.L ? 1 : 0;
      g.db = a & SegAttr.DB ? 1 : 0;
      g.g = a & SegAttr.G ? 1 : 0;
      g.unusable = a & SegAttr.UNUSABLE ? 1 : 0;
      ops.setSegment(v, i, g);
    }
  }

  /**
   * Emulates the instruction at CS:RIP. `watchGpa` is the write-protected page table the fault
   * was on (its writes are reported to the MMU), or -1 for MMIO.
   */
  emulate(run: KvmRunView, watchGpa: number): ExitResult {
    const m = this.mem;
    m.watchGfn = watchGpa < 0 ? -1 : Math.floor(watchGpa / PAGE);
    m.watched.length = 0;
    m.mmioValid = false;
    m.needUser = false;
    this.load();
    const why = this.cpu.run(1);
    const v = this.vcpu;
    if (why === StopReason.Exception) {
      const e = this.cpu.exit;
      if (e.vector === 14) v.ops.setCr2(v, e.faultAddress);
      v.ops.injectException(v, e.vector, e.errorCode, e.hasErrorCode);
      v.vm.count('emulation_faults');
      return ExitResult.Reenter;
    }
    if (why !== StopReason.Budget) {
      return kvmInternalError(run, KVM_INTERNAL_ERROR.EMULATION, why, v.rip);
    }
    if (m.needUser) {
      // An MMIO read: nothing is committed; userspace supplies the data, the instruction reruns.
      this.pendingRead = true;
      this.pendingGpa = m.mmioGpa;
      run.exitReason = KVM_EXIT.MMIO;
      run.mmio.physAddrLo = m.mmioGpa >>> 0;
      run.mmio.physAddrHi = Math.floor(m.mmioGpa / 0x100000000);
      run.mmio.len = m.mmioLen;
      run.mmio.isWrite = 0;
      v.vm.count('mmio_exits');
      return ExitResult.Userspace;
    }
    this.store();
    v.instructions++;
    const mmu = vcpuMmu(v).mmu;
    for (let i = 0; i < m.watched.length; i += 2) mmu.kvmMmuPteWrite(m.watched[i], m.watched[i + 1]);
    if (m.mmioValid && m.mmioWrite) {
      run.exitReason = KVM_EXIT.MMIO;
      run.mmio.physAddrLo = m.mmioGpa >>> 0;
      run.mmio.physAddrHi = Math.floor(m.mmioGpa / 0x100000000);
      run.mmio.len = m.mmioLen;
      run.mmio.isWrite = 1;
      const d = run.mmio.data;
      for (let i = 0; i < 8; i++) d[i] = i < m.mmioLen ? (m.mmioValue >>> (8 * i)) & 0xff : 0;
      v.vm.count('mmio_exits');
      return ExitResult.Userspace;
    }
    v.vm.count(watchGpa < 0 ? 'emulated_instructions' : 'pte_writes_emulated');
    return ExitResult.Reenter;
  }

  /** On the next KVM_RUN: rerun the instruction whose MMIO read userspace has answered. */
  completeMmioRead(run: KvmRunView): ExitResult {
    this.pendingRead = false;
    const m = this.mem;
    const d = run.mmio.data;
    let value = 0;
    for (let i = Math.min(run.mmio.len, 4) - 1; i >= 0; i--) value = (value << 8) | d[i];
    m.haveData = true;
    m.dataGpa = this.pendingGpa;
    m.data = value >>> 0;
    try {
      return this.emulate(run, -1);
    } finally {
      m.haveData = false;
    }
  }
}

/** The vCPU's emulator, made on first use. */
export function vcpuEmulator(vcpu: SoftVcpu): VcpuEmulator {
  let e = vcpu.emulator as VcpuEmulator | null;
  if (e === null) {
    e = new VcpuEmulator(vcpu);
    vcpu.emulator = e;
  }
  return e;
}
