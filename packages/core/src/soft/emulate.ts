/**
 * Emulation of one guest instruction in the kernel (`emulate_instruction`), for the two exits
 * that need it: a write to a guest page table the shadow MMU write-protects, and an access to
 * guest-physical memory outside every slot (MMIO).
 *
 * x86emu's `Emulator.emulate({ state, insnBytes }, ops)` decodes and executes the instruction on
 * a copy of the guest's architectural state; this file is its `X86EmulateOps` (KVM's
 * `emulator_read_emulated` / `emulator_write_emulated` / `emulator_cmpxchg_emulated`): linear
 * addresses are translated through the GUEST's page tables (x86emu's walker, which sets the
 * accessed and dirty bits — changelog: "If we emulate a write, we fail to set the dirty bit on
 * the guest pte"), RAM is written in the kernel and every write is reported to the MMU
 * (`kvmMmuPteWrite`, changelog: "perform the writes in the kernel … and notify the mmu"), and an
 * access outside the slots becomes an MMIO fragment for userspace.
 *
 * MMIO completion follows KVM's `complete_emulated_mmio`: a read the kernel cannot satisfy makes
 * the emulator give up with the state untouched (`Userspace`); KVM_EXIT_MMIO asks userspace; on
 * the next KVM_RUN the instruction is emulated again with that read answered from the completed
 * fragments (the device is never asked twice). MMIO writes are collected during emulation and
 * handed to userspace, one KVM_EXIT_MMIO each, only once the instruction has completed.
 */
import {
  attrIntoSegmentFields,
  CpuState,
  type EmulateFault,
  type EmulateResult,
  EmulateResultKind,
  Emulator,
  holdAsDoubles,
  PFERR,
  type PhysicalMemory,
  SegAttr,
  segmentFieldsToAttr,
  WalkCtl,
  WalkResult,
  walkAddr,
  type X86EmulateOps,
  X86EmulStatus,
} from '@kvm/x86emu';
import { KVM_EXIT, KVM_INTERNAL_ERROR } from '../abi/exit-reasons.js';
import type { KvmRunView } from '../abi/run.js';
import { type ArchDtable, type ArchSegment, ExitResult, newArchSegment } from './arch-ops.js';
import { linearAddressHigh } from './canonical.js';
import { kvmQueueException } from './exceptions.js';
import { kvmIrqchipMmio } from './irqchip/vcpu-irq.js';
import { vcpuMmu } from './mmu-glue.js';
import type { SoftVcpu } from './vcpu.js';
import { kvmSetCr3 } from './x86.js';

const PAGE = 4096;
const PF_VECTOR = 14;
const X86_EFLAGS_VM = 1 << 17;
const X86_CR0_PE = 1 << 0;
const X86_CR0_WP = 1 << 16;
const X86_CR0_PG = 0x80000000;
const X86_CR4_PSE = 1 << 4;
const X86_CR4_PAE = 1 << 5;
const X86_CR4_PGE = 1 << 7;
const EFER_NX = 1 << 11;
const EFER_LMA = 1 << 10;
/** 2^48: linear addresses of IA-32e mode, folded to 48 bits. */
const LINEAR_48 = 281474976710656;

/** What `Emulator.taskSwitch` takes (KVM's tss_selector, reason, has_error_code, error_code). */
export interface TaskSwitchRequest {
  /** The new TSS selector. */
  selector: number;
  /** TASK_SWITCH_CALL 0, _IRET 1, _JMP 2, _GATE 3 (the VMX exit-qualification numbering). */
  source: number;
  /** Bytes the old task's saved EIP skips (the CALL/JMP/IRET/INT n; 0 for a hardware event). */
  instructionLength: number;
  /** A hardware event through a task gate: the EXT bit of error codes. */
  external: boolean;
  hasErrorCode: boolean;
  errorCode: number;
}

/** MMIO fragments one instruction may have (a page-crossing 8-byte access, MOVS between devices). */
const MAX_FRAGMENTS = 4;

/** Guest-physical memory through the slots, for the walker (it reads and updates guest ptes). */
class GuestPhysical implements PhysicalMemory {
  constructor(private readonly vcpu: SoftVcpu) {}
  pageView(pfn: number): Uint8Array | null {
    const hpfn = this.vcpu.vm.slots.gfnToHpfn(pfn);
    return hpfn < 0 ? null : this.vcpu.vm.hpm.pageView(hpfn);
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
  private read(pa: number, len: number): number {
    const page = this.pageView(Math.floor(pa / PAGE));
    // A guest page table outside RAM reads as 0, so the walk fails as not present: KVM's
    // walk_addr_generic stops at a table gfn without a memslot (error hva) with the error code of
    // a not-present page, as the shadow MMU's walker does (the walk under NPT reaches here).
    if (page === null) return 0;
    const o = pa % PAGE;
    let v = 0;
    for (let i = len - 1; i >= 0; i--) v = (v << 8) | page[o + i];
    return v >>> 0;
  }
  private write(pa: number, len: number, value: number): void {
    const v = this.vcpu;
    const gfn = Math.floor(pa / PAGE);
    const hpfn = v.vm.slots.gfnToHpfn(gfn);
    const page = hpfn < 0 ? null : v.vm.hpm.pageView(hpfn);
    if (page === null) return;
    const o = pa % PAGE;
    for (let i = 0; i < len; i++) page[o + i] = (value >>> (8 * i)) & 0xff;
    v.vm.slots.markDirty(gfn);
    v.ops.invalidateCode?.(v, hpfn * PAGE + o, len);
  }
}

/** Per-vCPU emulator: x86emu's `Emulator`, the guest state copy, the ops, the MMIO fragments. */
export class VcpuEmulator implements X86EmulateOps {
  private readonly emulator = new Emulator();
  private readonly state = new CpuState();
  private readonly gpm: GuestPhysical;
  private readonly walk = new WalkResult();
  private readonly seg: ArchSegment = newArchSegment();
  private readonly dt: ArchDtable = { base: 0, baseHigh: 0, limit: 0 };

  /** Completed MMIO reads of the instruction being emulated (KVM's mmio read cache), in order. */
  private readonly readGpa = new Float64Array(MAX_FRAGMENTS);
  private readonly readLen = new Uint8Array(MAX_FRAGMENTS);
  private readonly readData = new Uint8Array(8 * MAX_FRAGMENTS);
  private readCount = 0;
  /** Reads served so far in the current emulation pass. */
  private readUsed = 0;
  /** The MMIO read userspace is being asked for. */
  private wantGpa = 0;
  private wantLen = 0;
  /** MMIO writes of the completed instruction, not yet handed to userspace. */
  private readonly writeGpa = new Float64Array(MAX_FRAGMENTS);
  private readonly writeLen = new Uint8Array(MAX_FRAGMENTS);
  private readonly writeData = new Uint8Array(8 * MAX_FRAGMENTS);
  private writeCount = 0;
  private writeSent = 0;

  /** An MMIO read is waiting for userspace's data (completed on the next KVM_RUN). */
  pendingRead = false;
  /** MMIO writes remain to be handed to userspace (one per KVM_RUN). */
  pendingWrites = false;

  constructor(readonly vcpu: SoftVcpu) {
    this.gpm = new GuestPhysical(vcpu);
    // A guest-physical address, descriptor-table bases and limits (x86emu's double-fields.ts).
    holdAsDoubles(this, ['wantGpa']);
    holdAsDoubles(this.dt, ['base', 'baseHigh', 'limit']);
  }

  // --- X86EmulateOps --------------------------------------------------------------------------

  fetch(gva: number, data: Uint8Array, ctx: EmulateFault): X86EmulStatus {
    return this.access(gva, data, PFERR.FETCH, ctx, false);
  }

  read(gva: number, data: Uint8Array, ctx: EmulateFault): X86EmulStatus {
    return this.access(gva, data, 0, ctx, true);
  }

  write(gva: number, data: Uint8Array, ctx: EmulateFault): X86EmulStatus {
    return this.access(gva, data, PFERR.WRITE, ctx, true);
  }

  /**
   * One thread per vCPU and one vCPU per engine call: nothing else writes guest RAM meanwhile,
   * so read, compare and write in sequence is atomic. The 8-byte form (CMPXCHG8B) compares and
   * stores all eight bytes, and the MMU hears of the whole 8-byte write (a PAE pte at once).
   *
   * On MMIO (or across a page), KVM's `emulator_cmpxchg_emulated` cannot lock anything and
   * emulates the exchange as a write ("emulating exchange as write"): the current value is the
   * device's (the read this instruction already made, or one KVM_EXIT_MMIO read), and the
   * result is one KVM_EXIT_MMIO write — so `lock incl` on a device register is a read exit then a
   * write exit. A failed compare writes the old value back, as CMPXCHG does (SDM Vol. 2).
   */
  cmpxchg(gva: number, expected: Uint8Array, replacement: Uint8Array, ctx: EmulateFault): X86EmulStatus {
    const n = expected.length;
    const cur = this.cmpScratch.subarray(0, n);
    const gpa = this.translate(gva, PFERR.WRITE, ctx);
    if (gpa < 0) return X86EmulStatus.Exception;
    const ram = this.vcpu.vm.slots.gfnToHpfn(Math.floor(gpa / PAGE)) >= 0;
    if (!ram || (gva % PAGE) + n > PAGE)
      return this.cmpxchgAsWrite(gva, gpa, cur, expected, replacement, ctx);
    let st = this.access(gva, cur, 0, ctx, false);
    if (st !== X86EmulStatus.Ok) return st;
    let same = true;
    for (let i = 0; i < n; i++) if (cur[i] !== expected[i]) same = false;
    if (!same) {
      expected.set(cur);
      return X86EmulStatus.Ok;
    }
    st = this.access(gva, replacement, PFERR.WRITE, ctx, false);
    return st;
  }

  /** The MMIO / page-crossing compare-exchange: current value by the MMIO read path, then a write. */
  private cmpxchgAsWrite(
    gva: number,
    gpa: number,
    cur: Uint8Array,
    expected: Uint8Array,
    replacement: Uint8Array,
    ctx: EmulateFault,
  ): X86EmulStatus {
    // A read-modify-write already read this operand in this pass: compare with that, not again.
    let have = false;
    for (let i = 0; i < this.readUsed && !have; i++) {
      if (this.readGpa[i] === gpa && this.readLen[i] === cur.length) {
        cur.set(this.readData.subarray(8 * i, 8 * i + cur.length));
        have = true;
      }
    }
    if (!have) {
      const st = this.access(gva, cur, 0, ctx, true);
      if (st !== X86EmulStatus.Ok) return st;
    }
    let same = true;
    for (let i = 0; i < cur.length; i++) if (cur[i] !== expected[i]) same = false;
    if (!same) expected.set(cur);
    return this.access(gva, same ? replacement : cur, PFERR.WRITE, ctx, true);
  }
  private readonly cmpScratch = new Uint8Array(8);

  /** Port I/O reaches the exit handlers' own PIO path; an instruction here never does it. */
  pioIn(): X86EmulStatus {
    return X86EmulStatus.Unhandleable;
  }
  pioOut(): X86EmulStatus {
    return X86EmulStatus.Unhandleable;
  }

  /**
   * Linear access of `data.length` bytes, split at page boundaries; each piece is translated
   * through the guest's tables, then served from RAM (writes reported to the MMU) or as MMIO
   * (`mmio` false: instruction fetch or compare-exchange, which the kernel cannot do on a device).
   */
  private access(
    gva: number,
    data: Uint8Array,
    access: number,
    ctx: EmulateFault,
    mmio: boolean,
  ): X86EmulStatus {
    let done = 0;
    while (done < data.length) {
      // A folded 48-bit address in IA-32e mode (x86emu's linear addresses), else 32 bits.
      const lin = this.state.efer[0] & EFER_LMA ? (gva + done) % LINEAR_48 : (gva + done) >>> 0;
      const n = Math.min(data.length - done, PAGE - (lin % PAGE));
      const gpa = this.translate(lin, access, ctx);
      if (gpa < 0) return X86EmulStatus.Exception;
      const piece = data.subarray(done, done + n);
      const st = this.physical(gpa, piece, (access & PFERR.WRITE) !== 0, mmio);
      if (st !== X86EmulStatus.Ok) return st;
      done += n;
    }
    return X86EmulStatus.Ok;
  }

  /** gva → gpa through the guest's own tables (A/D bits set as the CPU would); -1 after raising #PF. */
  private translate(gva: number, access: number, ctx: EmulateFault): number {
    const s = this.state;
    const cr0 = s.cr[0];
    if (!(cr0 & X86_CR0_PG)) return gva % LINEAR_48;
    if (s.cpl === 3) access |= PFERR.USER;
    const cr4 = s.cr[4];
    const mode = cr4 & X86_CR4_PAE ? (s.efer[0] & EFER_LMA ? 3 : 2) : 1;
    const ctl =
      (cr0 & X86_CR0_WP ? WalkCtl.WP : 0) |
      (cr4 & X86_CR4_PSE ? WalkCtl.PSE : 0) |
      (s.efer[0] & EFER_NX ? WalkCtl.NXE : 0) |
      (cr4 & X86_CR4_PGE ? WalkCtl.PGE : 0) |
      // 1 GiB pages in 4-level tables: the silicon's CPUID has Page1GB (as the MMU assumes).
      (mode === 3 ? WalkCtl.PAGE1G : 0);
    const root = mode === 3 ? s.cr[3] + s.crHigh[3] * 0x100000000 : s.cr[3];
    if (!walkAddr(this.gpm, mode, root, gva, access, ctl, this.walk)) {
      ctx.raise(PF_VECTOR, this.walk.errorCode, true, gva);
      return -1;
    }
    return this.walk.pa;
  }

  /** A piece within one guest page at `gpa`. */
  private physical(gpa: number, data: Uint8Array, write: boolean, mmio: boolean): X86EmulStatus {
    const v = this.vcpu;
    const gfn = Math.floor(gpa / PAGE);
    const hpfn = v.vm.slots.gfnToHpfn(gfn);
    const page = hpfn < 0 ? null : v.vm.hpm.pageView(hpfn);
    if (page !== null) {
      const o = gpa % PAGE;
      if (!write) {
        data.set(page.subarray(o, o + data.length));
        return X86EmulStatus.Ok;
      }
      page.set(data, o);
      v.vm.slots.markDirty(gfn);
      // The processor's decode cache must not run what was there before (self-modifying code
      // through a write-protected page, a page table page reused for code).
      v.ops.invalidateCode?.(v, hpfn * PAGE + o, data.length);
      // Every emulated write to RAM is the MMU's business (emulator_write_phys): the shadow
      // entries of a write-protected guest table follow the new gpte.
      vcpuMmu(v).mmu.kvmMmuPteWrite(gpa, data.length);
      return X86EmulStatus.Ok;
    }
    if (!mmio) return X86EmulStatus.Unhandleable;
    // Devices the kernel emulates (the xAPIC page, the I/O APIC window) never reach userspace.
    if (v.apic !== null && kvmIrqchipMmio(v, gpa, data, write)) return X86EmulStatus.Ok;
    if (write) {
      if (this.writeCount === MAX_FRAGMENTS) {
        return X86EmulStatus.Unhandleable;
      }
      const i = this.writeCount++;
      this.writeGpa[i] = gpa;
      this.writeLen[i] = data.length;
      this.writeData.set(data, 8 * i);
      return X86EmulStatus.Ok;
    }
    // A read: answered already (this is the pass after userspace completed it)?
    if (this.readUsed < this.readCount) {
      const i = this.readUsed++;
      if (this.readGpa[i] !== gpa || this.readLen[i] !== data.length) return X86EmulStatus.Unhandleable;
      data.set(this.readData.subarray(8 * i, 8 * i + data.length));
      return X86EmulStatus.Ok;
    }
    if (this.readCount === MAX_FRAGMENTS) return X86EmulStatus.Unhandleable;
    this.wantGpa = gpa;
    this.wantLen = data.length;
    return X86EmulStatus.Userspace;
  }

  // --- the guest's state in and out --------------------------------------------------------

  /** The guest's architectural state into the emulator's state. */
  private load(): void {
    const v = this.vcpu;
    const ops = v.ops;
    const s = this.state;
    ops.cacheRegs(v);
    ops.decacheCrGuestBits(v);
    s.gpr.set(v.regs);
    s.gprHigh.set(v.regsHigh);
    s.rip[0] = v.rip;
    s.rip[1] = v.ripHigh;
    const rflags = ops.getRflags(v);
    s.rflags[0] = rflags;
    for (let i = 0; i < 8; i++) {
      ops.getSegment(v, i, this.seg);
      const g = this.seg;
      s.segSel[i] = g.selector;
      s.segBase[i] = g.base;
      s.segBaseHigh[i] = g.baseHigh;
      s.segLimit[i] = g.limit;
      s.segAttr[i] = segmentFieldsToAttr(g);
    }
    const dt = this.dt;
    ops.getGdt(v, dt);
    s.dtBase[0] = dt.base;
    s.dtBaseHigh[0] = dt.baseHigh;
    s.dtLimit[0] = dt.limit;
    ops.getIdt(v, dt);
    s.dtBase[1] = dt.base;
    s.dtBaseHigh[1] = dt.baseHigh;
    s.dtLimit[1] = dt.limit;
    s.cr[0] = v.cr0;
    s.cr[2] = ops.getCr2(v);
    s.crHigh[2] = ops.getCr2High?.(v) ?? 0;
    s.cr[3] = v.cr3;
    s.crHigh[3] = v.cr3High;
    s.cr[4] = v.cr4;
    s.efer[0] = v.efer;
    s.efer[1] = v.eferHigh;
    s.cpl = rflags & X86_EFLAGS_VM ? 3 : v.cr0 & X86_CR0_PE ? (s.segAttr[2] >>> SegAttr.DPL_SHIFT) & 3 : 0;
    s.interruptibility = 0;
    s.halted = false;
    s.pendingType = -1;
  }

  /**
   * The emulated instruction's results back into the guest: registers, RFLAGS, the segment
   * registers that changed (`all`: every one, LDTR and TR included, with their access rights —
   * a task switch), and CR0 when LMSW or CLTS changed it (the emulator has checked the value).
   */
  private store(all = false): void {
    const v = this.vcpu;
    const ops = v.ops;
    const s = this.state;
    v.regs.set(s.gpr);
    v.regsHigh.set(s.gprHigh);
    v.rip = s.rip[0];
    v.ripHigh = s.rip[1];
    ops.decacheRegs(v);
    ops.setRflags(v, s.rflags[0]);
    const cr0 = s.cr[0] >>> 0;
    if (cr0 !== v.cr0) {
      const old = v.cr0;
      ops.setCr0(v, cr0);
      v.cr0 = cr0;
      // As kvm_set_cr0: a change of PE, PG or WP is a new MMU mode.
      if ((old ^ cr0) & (X86_CR0_PE | X86_CR0_PG | X86_CR0_WP)) v.vm.mmuResetContext(v);
    }
    for (let i = 0; i < (all ? 8 : 6); i++) {
      ops.getSegment(v, i, this.seg);
      if (
        !all &&
        this.seg.selector === s.segSel[i] &&
        this.seg.base === s.segBase[i] &&
        this.seg.baseHigh === s.segBaseHigh[i]
      )
        continue;
      const a = s.segAttr[i];
      const g = this.seg;
      g.selector = s.segSel[i];
      g.base = s.segBase[i];
      g.baseHigh = s.segBaseHigh[i];
      g.limit = s.segLimit[i];
      attrIntoSegmentFields(a, g);
      ops.setSegment(v, i, g);
    }
  }

  // --- the entry points -------------------------------------------------------------------------

  /**
   * Emulates the instruction at CS:RIP (`emulate_instruction`). `pteWrite`: the exit was a write
   * to a write-protected guest page table (counted apart from MMIO). Returns the exit handler's
   * result: Reenter (done, or a fault injected), Userspace (KVM_EXIT_MMIO in `run`), or
   * `EmulateFailed` — the instruction cannot be emulated and nothing changed; the caller decides
   * (unprotect and retry, or KVM_EXIT_INTERNAL_ERROR).
   */
  emulate(run: KvmRunView, pteWrite: boolean): ExitResult | typeof EMULATE_FAILED {
    this.readUsed = 0;
    this.writeCount = 0;
    this.writeSent = 0;
    this.load();
    const r = this.emulator.emulate({ state: this.state, insnBytes: null }, this);
    const v = this.vcpu;
    switch (r.kind) {
      case EmulateResultKind.Ok:
        // A MOV to CR3 (emulated only under two-dimensional paging: with EPT its PAE PDPTE load
        // can hit MMIO, an EPT violation) goes through `kvm_set_cr3` as KVM's `em_cr_write`
        // does: the PDPTE check there is on guest memory, and its #GP is a fault (RIP stays).
        if (this.state.cr[3] !== v.cr3 || this.state.crHigh[3] !== v.cr3High) {
          const cr3 = this.state.cr[3];
          const cr3High = this.state.crHigh[3];
          kvmSetCr3(v, cr3, cr3High);
          if (v.cr3 !== cr3 >>> 0 || v.cr3High !== cr3High >>> 0) {
            v.vm.count('emulation_faults');
            return ExitResult.Reenter;
          }
        }
        this.store();
        this.readCount = 0;
        v.instructions++;
        v.vm.count(pteWrite ? 'pte_writes_emulated' : 'emulated_instructions');
        if (this.writeCount > 0) return this.sendWrite(run);
        return ExitResult.Reenter;
      case EmulateResultKind.Exception:
        // RIP stays at the instruction; a REP instruction keeps the progress it made.
        this.store();
        this.readCount = 0;
        if (r.vector === PF_VECTOR) v.ops.setCr2(v, r.faultAddress >>> 0, linearAddressHigh(r.faultAddress));
        kvmQueueException(v, r.vector, r.errorCode, r.hasErrorCode);
        v.vm.count('emulation_faults');
        return ExitResult.Reenter;
      case EmulateResultKind.Userspace:
        // An MMIO read the kernel cannot answer; the state is untouched.
        this.pendingRead = true;
        run.exitReason = KVM_EXIT.MMIO;
        setMmioAddr(run, this.wantGpa);
        run.mmio.len = this.wantLen;
        run.mmio.isWrite = 0;
        run.mmio.data.fill(0);
        v.vm.count('mmio_exits');
        return ExitResult.Userspace;
      default:
        this.readCount = 0;
        return EMULATE_FAILED;
    }
  }

  /**
   * The task switch of a task-switch exit (`emulator_task_switch`), on the guest's state through
   * the same ops (TSS and descriptor accesses through the guest's page tables): the new task's
   * registers, segments (LDTR and TR included), RFLAGS and CR0.TS are stored on success and on a
   * fault after the commit point. Returns the emulator's result kind; the caller loads the new
   * CR3 (`newCr3`) and injects a fault.
   */
  taskSwitch(req: TaskSwitchRequest): EmulateResultKind {
    this.readUsed = 0;
    this.writeCount = 0;
    this.writeSent = 0;
    this.readCount = 0;
    this.load();
    const r = this.emulator.taskSwitch({ state: this.state, insnBytes: null }, this, req);
    if (r.kind === EmulateResultKind.Ok || r.kind === EmulateResultKind.Exception) this.store(true);
    return r.kind;
  }

  /** After `taskSwitch`: the CR3 the new task loaded (or the old one), and the fault it raised. */
  get newCr3(): number {
    return this.state.cr[3] >>> 0;
  }
  get result(): EmulateResult {
    return this.emulator.result;
  }

  /** KVM_EXIT_MMIO for the next collected write of the completed instruction. */
  private sendWrite(run: KvmRunView): ExitResult {
    const i = this.writeSent++;
    const len = this.writeLen[i];
    run.exitReason = KVM_EXIT.MMIO;
    setMmioAddr(run, this.writeGpa[i]);
    run.mmio.len = len;
    run.mmio.isWrite = 1;
    const d = run.mmio.data;
    d.fill(0);
    d.set(this.writeData.subarray(8 * i, 8 * i + len));
    this.pendingWrites = this.writeSent < this.writeCount;
    this.vcpu.vm.count('mmio_exits');
    return ExitResult.Userspace;
  }

  /**
   * On the next KVM_RUN after a KVM_EXIT_MMIO (`complete_emulated_mmio`): store userspace's read
   * data and finish the instruction, or hand over the next pending write. Userspace: another
   * KVM_EXIT_MMIO is in `run`; Reenter: the guest may run.
   */
  complete(run: KvmRunView): ExitResult {
    if (this.pendingWrites) return this.sendWrite(run);
    if (!this.pendingRead) return ExitResult.Reenter;
    this.pendingRead = false;
    const i = this.readCount++;
    this.readGpa[i] = this.wantGpa;
    this.readLen[i] = this.wantLen;
    this.readData.set(run.mmio.data.subarray(0, this.wantLen), 8 * i);
    const res = this.emulate(run, false);
    if (res === EMULATE_FAILED) {
      return kvmEmulationFailed(this.vcpu, run);
    }
    return res;
  }
}

/** `emulate()` could not emulate the instruction (KVM's EMULATE_FAIL); nothing was changed. */
export const EMULATE_FAILED = -1 as const;

function setMmioAddr(run: KvmRunView, gpa: number): void {
  run.mmio.physAddrLo = gpa >>> 0;
  run.mmio.physAddrHi = Math.floor(gpa / 0x100000000);
}

/** KVM_EXIT_INTERNAL_ERROR, suberror EMULATION, with RIP as data (`handle_emulation_failure`). */
export function kvmEmulationFailed(vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  vcpu.ops.cacheRegs(vcpu);
  vcpu.vm.count('emulation_failures');
  run.exitReason = KVM_EXIT.INTERNAL_ERROR;
  run.internal.suberror = KVM_INTERNAL_ERROR.EMULATION;
  run.internal.ndata = 1;
  run.internal.setDataAt(0, BigInt(vcpu.rip >>> 0));
  return ExitResult.Userspace;
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

/**
 * `emulate_on_interception` / `kvm_emulate_instruction`: emulates the instruction at CS:RIP for
 * an exit the hardware did not decode (SVM without decode assists for SMSW, LMSW, CLTS). Faults
 * are injected; an instruction that cannot be emulated ends KVM_RUN with
 * KVM_EXIT_INTERNAL_ERROR (suberror EMULATION).
 */
export function kvmEmulateInstruction(vcpu: SoftVcpu, run: KvmRunView): ExitResult {
  const res = vcpuEmulator(vcpu).emulate(run, false);
  return res === EMULATE_FAILED ? kvmEmulationFailed(vcpu, run) : res;
}
