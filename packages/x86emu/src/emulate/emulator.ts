/**
 * `emulate()`: one instruction on a `CpuState`, with memory and port I/O through the caller's
 * `X86EmulateOps` (KVM's `x86_emulate_memop` over `x86_emulate_ops`). The very same decoder and
 * handlers as `Cpu` run it; only the memory path differs (linear accesses go to the ops, there
 * is no TLB and no event delivery: an exception is returned, not delivered).
 */
import {
  type EmulateContext,
  type EmulateFault,
  type EmulateResult,
  EmulateResultKind,
  type X86EmulateOps,
  X86EmulStatus,
} from '../api/emulate.js';
import { FlatPhysicalMemory } from '../api/physical-memory.js';
import * as C from '../cpu/consts.js';
import { Cpu, type LinearOps } from '../cpu/cpu.js';
import { taskSwitch } from '../cpu/task-switch.js';
import { holdAsDoubles } from '../double-fields.js';
import { CpuState } from '../state.js';

const EMUL_USERSPACE = { emulUserspace: true } as const;
const EMUL_UNHANDLEABLE = { emulUnhandleable: true } as const;

/** Adapts `X86EmulateOps` (byte buffers, statuses) to the CPU's numeric linear-access path. */
class OpsAdapter implements LinearOps, EmulateFault {
  ops: X86EmulateOps | null = null;
  insn: Uint8Array | null = null;
  insnLin = 0;
  curLo = 0;
  curHi = 0;
  private readonly bufs = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(2), null, new Uint8Array(4)];
  private readonly b8a = new Uint8Array(8);
  private readonly b8b = new Uint8Array(8);
  constructor(private readonly cpu: Cpu) {
    // Linear addresses and their halves (double-fields.ts).
    holdAsDoubles(this, ['insnLin', 'curLo', 'curHi']);
  }

  raise(vector: number, errorCode: number, hasErrorCode: boolean, faultAddress: number): void {
    const c = this.cpu;
    c.faultVector = vector;
    c.faultError = errorCode;
    c.faultHasError = hasErrorCode;
    c.faultAddress = faultAddress;
  }

  private check(st: number): void {
    if (st === X86EmulStatus.Ok) return;
    if (st === X86EmulStatus.Exception) throw C.GUEST_FAULT;
    if (st === X86EmulStatus.Userspace) throw EMUL_USERSPACE;
    throw EMUL_UNHANDLEABLE;
  }
  private buf(size: number): Uint8Array {
    return this.bufs[size] as Uint8Array;
  }

  fetch(lin: number): number {
    const off = lin - this.insnLin;
    if (this.insn !== null && off >= 0 && off < this.insn.length) return this.insn[off];
    const b = this.buf(1);
    this.check((this.ops as X86EmulateOps).fetch(lin, b, this));
    return b[0];
  }
  read(lin: number, size: number): number {
    const b = this.buf(size);
    this.check((this.ops as X86EmulateOps).read(lin, b, this));
    return unpack(b, size);
  }
  write(lin: number, size: number, value: number): void {
    const b = this.buf(size);
    pack(b, size, value);
    this.check((this.ops as X86EmulateOps).write(lin, b, this));
  }
  cmpxchg(lin: number, size: number, oldLo: number, oldHi: number, newLo: number, newHi: number): boolean {
    const e = size === 8 ? this.b8a : this.b8a.subarray(0, size);
    const r = size === 8 ? this.b8b : this.b8b.subarray(0, size);
    pack(e, Math.min(size, 4), oldLo);
    pack(r, Math.min(size, 4), newLo);
    if (size === 8) {
      pack(e.subarray(4), 4, oldHi);
      pack(r.subarray(4), 4, newHi);
    }
    this.check((this.ops as X86EmulateOps).cmpxchg(lin, e, r, this));
    this.curLo = unpack(e, Math.min(size, 4));
    this.curHi = size === 8 ? unpack(e.subarray(4), 4) : 0;
    return this.curLo === oldLo >>> 0 && (size !== 8 || this.curHi === oldHi >>> 0);
  }
  portIn(port: number, size: number): number {
    const b = this.buf(size);
    this.check((this.ops as X86EmulateOps).pioIn(port, size as 1 | 2 | 4, 1, b));
    return unpack(b, size);
  }
  portOut(port: number, size: number, value: number): void {
    const b = this.buf(size);
    pack(b, size, value);
    this.check((this.ops as X86EmulateOps).pioOut(port, size as 1 | 2 | 4, 1, b));
  }
}

function unpack(b: Uint8Array, size: number): number {
  if (size === 1) return b[0];
  if (size === 2) return b[0] | (b[1] << 8);
  return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
}
function pack(b: Uint8Array, size: number, v: number): void {
  b[0] = v;
  if (size >= 2) b[1] = v >>> 8;
  if (size === 4) {
    b[2] = v >>> 16;
    b[3] = v >>> 24;
  }
}

/**
 * Emulates single instructions. Keep one per vCPU (it owns scratch state; not reentrant).
 * The result object is reused by every call.
 */
export class Emulator {
  private readonly work = new CpuState();
  private readonly cpu = new Cpu({ memory: new FlatPhysicalMemory(0), state: this.work });
  private readonly adapter = new OpsAdapter(this.cpu);
  readonly result: EmulateResult = {
    kind: EmulateResultKind.Ok,
    vector: 0,
    errorCode: 0,
    hasErrorCode: false,
    faultAddress: 0,
    instructionLength: 0,
  };

  /**
   * Emulates the instruction at CS:RIP of `ctx.state`. On `Ok` the state is updated (RIP
   * advanced); on `Exception` it holds what a fault leaves (RIP at the instruction, REP progress);
   * on `Userspace` and `Unhandleable` it is untouched. Never throws for guest input.
   */
  emulate(ctx: EmulateContext, ops: X86EmulateOps): EmulateResult {
    // A locked read-modify-write whose compare-exchange lost a race starts over (bounded).
    for (let attempt = 0; attempt < 16; attempt++) {
      if (!this.emulateOnce(ctx, ops)) return this.result;
    }
    this.result.kind = EmulateResultKind.Unhandleable;
    return this.result;
  }

  /**
   * A hardware task switch (SDM Vol. 3 7.3) on `ctx.state` through the ops: what KVM's
   * `emulator_task_switch` does for a task-switch exit. `selector` is the new TSS, `source` what
   * caused it, numbered as the VMX exit qualification (0 CALL, 1 IRET, 2 JMP, 3 task gate in the
   * IDT); RIP is at the instruction that caused it (or where the event struck) and
   * `instructionLength` is what the old task's saved EIP skips (the CALL/JMP/IRET/INT n, 0 for a
   * hardware event). `external`: the EXT bit for error codes (hardware events); `errorCode` is
   * pushed on the new task's stack when `hasErrorCode` (an exception through a task gate).
   * Results as `emulate`: on `Exception`, a fault before the commit point leaves the old task
   * (RIP at the instruction), one after it the new task (SDM 7.3 step 11 on).
   */
  taskSwitch(
    ctx: EmulateContext,
    ops: X86EmulateOps,
    req: {
      selector: number;
      source: number;
      instructionLength: number;
      external: boolean;
      hasErrorCode: boolean;
      errorCode: number;
    },
  ): EmulateResult {
    this.task = req;
    try {
      this.emulateOnce(ctx, ops);
    } finally {
      this.task = null;
    }
    return this.result;
  }
  private task: Parameters<Emulator['taskSwitch']>[2] | null = null;

  /** One attempt; returns true when it must be retried. */
  private emulateOnce(ctx: EmulateContext, ops: X86EmulateOps): boolean {
    const cpu = this.cpu;
    const r = this.result;
    const a = this.adapter;
    this.work.copyFrom(ctx.state);
    cpu.linearOps = a;
    cpu.syncModeOnly();
    a.ops = ops;
    a.insn = ctx.insnBytes;
    // In 64-bit mode the instruction's linear address is RIP itself, folded to 48 bits as every
    // linear address is (a non-canonical RIP faults in the fetch).
    const rh = this.work.rip[1] | 0;
    a.insnLin = cpu.long64
      ? (rh < 0 ? rh + 0x10000 : rh) * 4294967296 + this.work.rip[0]
      : (this.work.segBase[1] + this.work.rip[0]) >>> 0;
    r.vector = 0;
    r.errorCode = 0;
    r.hasErrorCode = false;
    r.faultAddress = 0;
    r.instructionLength = 0;
    try {
      const t = this.task;
      if (t === null) cpu.step();
      else {
        const eip = this.work.rip[0];
        cpu.startEip = eip;
        cpu.lastInsnLength = t.instructionLength;
        const next = (eip + t.instructionLength) >>> 0;
        taskSwitch(cpu, t.selector, t.source, next, t.external ? 1 : 0, t.hasErrorCode, t.errorCode);
      }
      cpu.materializeFlags();
      r.kind = EmulateResultKind.Ok;
      r.instructionLength = cpu.lastInsnLength;
      ctx.state.copyFrom(this.work);
    } catch (e) {
      r.instructionLength = cpu.lastInsnLength;
      if (e === C.GUEST_FAULT) {
        cpu.materializeFlags();
        this.work.rip[0] = cpu.startEip;
        this.work.rip[1] = cpu.startRipHi;
        r.kind = EmulateResultKind.Exception;
        r.vector = cpu.faultVector;
        r.errorCode = cpu.faultError;
        r.hasErrorCode = cpu.faultHasError;
        r.faultAddress = cpu.faultAddress;
        ctx.state.copyFrom(this.work);
      } else if (e === EMUL_USERSPACE) {
        r.kind = EmulateResultKind.Userspace;
      } else if (e === C.EMUL_RETRY) {
        return true;
      } else if (e === EMUL_UNHANDLEABLE || e === C.GUEST_EXIT) {
        r.kind = EmulateResultKind.Unhandleable;
      } else {
        r.kind = EmulateResultKind.Unhandleable;
      }
    } finally {
      a.ops = null;
      a.insn = null;
    }
    return false;
  }
}

const shared = new Emulator();
/** Convenience: emulates one instruction with a module-wide `Emulator` (not reentrant). */
export function emulate(ctx: EmulateContext, ops: X86EmulateOps): EmulateResult {
  return shared.emulate(ctx, ops);
}
