/**
 * WebAssembly for the 64-bit-mode instructions the wasm backend compiles inline (compile64.ts): the
 * sixteen guest registers in i64 locals (loaded from the CPU's registers in wasm memory, REG and
 * REG_HIGH, at entry; stored back at exits and around handler calls), 32- and 64-bit operands
 * (a 32-bit write zero-extends: SDM Vol. 1 3.4.1.1), byte operands (a byte register write keeps the
 * rest; AH…BH without REX), read-modify-write memory forms (the store before the flags change, so a
 * faulting one leaves them), 64-bit addressing (RIP-relative as a constant),
 * memory through the 4-level TLB probed inline (the 64-bit linear address split as ../mem64.ts and
 * `Cpu.linear64` split it: canonical, folded to 48 bits, tag bits 47:24) and the imports `rq`/`wq`
 * (`Cpu.read`/`read64`/`write`/`write64`) for FS/GS, misses, MMIO and page splits. Each emitter
 * mirrors an interpreter handler (exec/long/alu64-fast.ts, move64.ts, stack64) and the JS
 * backend's (../emit64.ts, ../stack64.ts); `emitInsn64Wasm` returns false, having emitted nothing,
 * for a form it does not compile (its handler runs it: compile64.ts).
 *
 * Flags: every ALU form computes CF, OF and AF at once and leaves the record as PEND_MAT in the
 * flag locals (`fr` a 32-bit stand-in for the result that has its ZF, SF and PF: the low byte,
 * bit 31 = the result's sign, bit 8 = "not zero"; `fa` CF in bit 0 and AF in bit 4; `fs` OF), so
 * a condition after it is a test of a local and the flush into RFLAGS is compile.ts storeFlags;
 * an unused flag costs V8's optimizing tier nothing.
 */
import { TLB_MASK } from '../../cpu/consts.js';
import type { Insn } from '../../decoder/insn.js';
import { OPCODE_TABLE, type OpcodeRow } from '../../decoder/opcode-table.js';
import { flagsDeadAfter } from '../flag-liveness.js';
import { PEND_DYN, PEND_MAT } from '../flags.js';
import { ALU_OPS } from '../rows.js';
import { ST_SEGB, ST_VHI, TLB_ADDEND, TLB_READ, TLB_WRITE } from './arena.js';
import { cfInto, checkCall, cond, exitNormal, goTo, P_CLS, P_SRM, P_SWM, type WasmCtx } from './emit.js';
import { type FuncWriter, I32, I64, Op } from './encode.js';
import { ExitKind } from './exit-census.js';

/** Imports after compile64.ts IMP_HANDLER64: the 64-bit slow memory paths. */
export const IMP_READ64 = 6;
export const IMP_WRITE64 = 7;

const TWO32 = 4294967296;
const SS = 2;

/** The i64 locals of a 64-bit function. */
export interface Locals64 {
  /** RAX…R15. */
  q: number[];
  /** An address, operands and a result. */
  a: number;
  d: number;
  x: number;
  v: number;
  /** RIP[63:32] where the function leaves (i32). */
  nh: number;
  /**
   * The TLB slot of the access being probed (i32): its own local, since a read-modify-write's
   * store is probed while the operands in `d`/`x` still make the flags.
   */
  ix: number;
  /** The linear address of an FS: or GS: access (`a` keeps the offset, for the slow path). */
  g: number;
}

/** What the 64-bit emitters know besides `WasmCtx`. */
export interface Ctx64 extends WasmCtx {
  q: Locals64;
  /** RIP[63:32] of the function's code. */
  hi: number;
  /** Emits the call of the current instruction's handler, leaving the function after it (compile64.ts). */
  handler: () => void;
  /**
   * Emits the call of the current instruction's handler, the function going on after it (leaving
   * only where the import asks: a fault, events due); the flags are in the CPU after it.
   */
  call: () => void;
  /** The block's instructions (the current one is `j`): the rotates' flag look-ahead. */
  insns: readonly Insn[];
}

export function allocLocals64(f: FuncWriter): Locals64 {
  const q: number[] = [];
  for (let r = 0; r < 16; r++) q.push(f.local(I64));
  return {
    q,
    a: f.local(I64),
    d: f.local(I64),
    x: f.local(I64),
    v: f.local(I64),
    nh: f.local(),
    ix: f.local(),
    g: f.local(I64),
  };
}

/** Pushes a 32-bit value sign-extended to 64 bits as an i64 constant. */
function i64s(c: Ctx64, v: number): void {
  c.f.i64(v >>> 0, (v | 0) < 0 ? -1 : 0);
}

/** Pushes the 64-bit effective address of `i` (64-bit address size; RIP-relative a constant). */
function ea64(c: Ctx64, i: Insn): void {
  const { f } = c;
  const q = c.q.q;
  if (i.ripRel) {
    const a = c.next + i.disp;
    const carry = Math.floor(a / TWO32);
    f.i64(a - carry * TWO32, (c.hi + carry) | 0);
    return;
  }
  i64s(c, i.disp);
  if (i.base >= 0) f.get(q[i.base]).op(Op.i64Add);
  if (i.index >= 0) {
    f.get(q[i.index]);
    if (i.scale !== 0) f.i64(i.scale, 0).op(Op.i64Shl);
    f.op(Op.i64Add);
  }
}

/**
 * Pushes 1 when `size` bytes at the linear address in i64 local `la` (segment `seg`) can be reached
 * inline, leaving in `q.ix` the TLB slot whose ADDEND makes it a host address: emit.ts `probe` on
 * the 64-bit address. The segment flat and long (`mask`, a parameter), and the i64 tag `tags` of
 * the index of the last byte equal to the page of the first: a tag is a canonical page address
 * (cpu/tlb.ts tlbWasmFill), so a non-canonical address misses (SDM Vol. 3 3.3.7.1: the slow path
 * raises its #GP/#SS), as does an access crossing a page or wrapping past 2^64.
 */
function probe64(c: Ctx64, seg: number, size: number, mask: number, tags: number, la: number): void {
  const { f } = c;
  c.segs |= 1 << seg;
  f.get(mask).i32(seg).op(Op.i32ShrU).i32(1).op(Op.i32And);
  f.get(la);
  if (size > 1) f.i64(size - 1, 0).op(Op.i64Add);
  f.op(Op.i32WrapI64)
    .i32(9)
    .op(Op.i32ShrU)
    .i32(TLB_MASK << 3)
    .op(Op.i32And)
    .get(P_CLS)
    .op(Op.i32Add);
  f.tee(c.q.ix).mem(Op.i64Load, tags).get(la).i64(0xfffff000, -1).op(Op.i64And).op(Op.i64Eq);
  f.op(Op.i32And);
}

/** Pushes the host address of the access `probe64` found inline at `la`: `la` + the slot's ADDEND. */
function hostAddr64(c: Ctx64, la: number): void {
  c.f.get(la).op(Op.i32WrapI64).get(c.q.ix).mem(Op.i32Load, TLB_ADDEND).op(Op.i32Add);
}

/**
 * FS and GS keep their bases in 64-bit mode (SDM Vol. 3 3.4.4; `Cpu.linear64`): their linear
 * address is the offset in `a` plus the base the wrapper left at ST_SEGB, computed into `g` (an
 * i64 sum wraps where the interpreter's does not, but then the address is not canonical either way:
 * the base is canonical, so only a sum beyond ±2^63 wraps, and no tag equals it). Returns the local
 * the probe reads: `g`, or `a` for the other segments (no base).
 */
function linear(c: Ctx64, seg: number): number {
  if (seg !== 4 && seg !== 5) return c.q.a;
  c.f
    .get(c.q.a)
    .i32(0)
    .mem(Op.i64Load, ST_SEGB + 8 * (seg - 4))
    .op(Op.i64Add)
    .set(c.q.g);
  return c.q.g;
}

/**
 * The inline memory path of the memory operand of `i` (64-bit addressing), for emitters that leave
 * every other case to the handler (emit-sse.ts): emit.ts `probeHost` in 64-bit mode. The offset
 * into `a` (FS:/GS: their linear address into `g`), 1 pushed when an access of `size` bytes
 * (`write`: a store) hits the TLB inline inside one page of RAM, then the host byte address in
 * the i32 local `t`. Pushes 0 when there is no inline path.
 */
export function probeHost64(c: Ctx64, i: Insn, size: number, write: boolean): void {
  const { f, l } = c;
  ea64(c, i);
  f.set(c.q.a);
  if (c.ramPages === 0) {
    f.i32(0);
    return;
  }
  const la = linear(c, i.memSeg);
  probe64(c, i.memSeg, size, write ? P_SWM : P_SRM, write ? TLB_WRITE : TLB_READ, la);
  // The slot's ADDEND (a load inside the TLB area whether or not the probe hit).
  hostAddr64(c, la);
  f.set(l.t);
}

/** Pushes the `size`-byte value (zero-extended to i64) at the address in local `a`, segment `seg`. */
function readAt(c: Ctx64, seg: number, size: number): void {
  const { f, l } = c;
  const a = c.q.a;
  const slow = (): void => {
    f.i32(seg).get(a).op(Op.i32WrapI64).get(a).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(size);
    f.callImport(IMP_READ64).set(l.v);
    checkCall(c);
    f.get(l.v).op(Op.i64ExtendI32U);
    if (size === 8)
      f.i32(0).mem(Op.i32Load, ST_VHI).op(Op.i64ExtendI32U).i64(32, 0).op(Op.i64Shl).op(Op.i64Or);
  };
  if (c.ramPages === 0) {
    slow();
    return;
  }
  const la = linear(c, seg);
  probe64(c, seg, size, P_SRM, TLB_READ, la);
  f.open(Op.if, '', I64);
  hostAddr64(c, la);
  f.mem(size === 8 ? Op.i64Load : size === 4 ? Op.i64Load32U : size === 2 ? Op.i64Load16U : Op.i64Load8U, 0);
  f.else();
  slow();
  f.end();
}

/** Writes the low `size` (1, 2, 4 or 8) bytes of i64 local `v` at the address in local `a`, segment `seg`. */
function writeAt(c: Ctx64, seg: number, size: 1 | 2 | 4 | 8, v: number): void {
  const { f } = c;
  const a = c.q.a;
  const slow = (): void => {
    f.i32(seg).get(a).op(Op.i32WrapI64).get(a).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(size);
    f.get(v).op(Op.i32WrapI64).get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64);
    f.callImport(IMP_WRITE64);
    checkCall(c);
  };
  if (c.ramPages === 0) {
    slow();
    return;
  }
  const la = linear(c, seg);
  probe64(c, seg, size, P_SWM, TLB_WRITE, la);
  f.open(Op.if);
  hostAddr64(c, la);
  f.get(v).mem(
    size === 8 ? Op.i64Store : size === 4 ? Op.i64Store32 : size === 2 ? Op.i64Store16 : Op.i64Store8,
    0,
  );
  f.else();
  slow();
  f.end();
}

/** Pops an i64 into register `r` (a 64-bit write). */
function setQ(c: Ctx64, r: number): void {
  c.f.set(c.q.q[r]);
}

/** Pops an i32 into register `r` (a 32-bit write: the upper half cleared). */
function setD(c: Ctx64, r: number): void {
  c.f.op(Op.i64ExtendI32U).set(c.q.q[r]);
}

/** Pushes the r/m operand of `size` (2 and 4: as i32, 8: as i64), register or memory. */
function loadE(c: Ctx64, i: Insn, size: number): void {
  const { f } = c;
  if (i.mod === 3) {
    reg(c, i.rm, size);
    return;
  }
  ea64(c, i);
  f.set(c.q.a);
  readAt(c, i.memSeg, size);
  if (size !== 8) f.op(Op.i32WrapI64);
}

/** Pushes register `r` as an operand of `size` (2 and 4: i32, 8: i64). */
function reg(c: Ctx64, r: number, size: number): void {
  c.f.get(c.q.q[r]);
  if (size !== 8) c.f.op(Op.i32WrapI64);
  if (size === 2) c.f.i32(0xffff).op(Op.i32And);
}

/** Pushes a sign-extended immediate as an operand of `size`. */
function imm(c: Ctx64, v: number, size: number): void {
  if (size === 4) c.f.i32(v | 0);
  else if (size === 2) c.f.i32(v & 0xffff);
  else i64s(c, v);
}

/** `alu`'s destination: a register (≥ 0), none (CMP, TEST), or the memory operand at `a` (RMW). */
const NONE = -1;
const MEM = -2;

/**
 * Writes the i32 result `v` (`size` 1 or 4) or i64 `v` (8) to destination `out` (`seg` for MEM:
 * the address is still in local `a`).
 */
function store(c: Ctx64, size: number, out: number, seg: number, rex: number, v: number): void {
  const { f } = c;
  if (out === NONE) return;
  if (out === MEM) {
    if (size !== 8) f.get(v).op(Op.i64ExtendI32U).set(c.q.v);
    writeAt(c, seg, size as 1 | 2 | 4 | 8, c.q.v);
    return;
  }
  f.get(v);
  if (size === 8) setQ(c, out);
  else if (size === 4) setD(c, out);
  else if (size === 2) setW(c, out);
  else setB(c, out, rex);
}

/**
 * ADD OR ADC SBB AND SUB XOR CMP TEST (`op` as ALU_OPS, TEST as AND) of `size` (1, 2, 4, 8; ADC
 * and SBB 4 and 8) on the operands `dst` and `src` push (i32 for 1, 2 and 4, i64 for 8); the
 * result to `out` (a register, NONE, or MEM with segment `seg`: written before the flags change,
 * so a faulting store leaves them), the flags as PEND_MAT (this file's header). ADC and SBB take
 * CF in local `c` (`cfInto` first): their carry out is `v <= d` (ADC) or `d <= x` (SBB) with a
 * carry in, `<` without it, OF and AF as ADD's and SUB's (SDM Vol. 2 ADC, SBB).
 */
function alu(
  c: Ctx64,
  op: number,
  size: number,
  dst: () => void,
  src: () => void,
  out: number,
  seg = 0,
  rex = 0,
): void {
  const { f, l } = c;
  const carry = op === 2 || op === 3;
  const add = op === 0 || op === 2;
  const sub = op === 5 || op === 7 || op === 3;
  if (size === 8) {
    const { d, x, v } = c.q;
    dst();
    f.set(d);
    src();
    f.set(x);
    f.get(d).get(x);
    f.op(add ? Op.i64Add : op === 1 ? Op.i64Or : op === 4 ? Op.i64And : op === 6 ? Op.i64Xor : Op.i64Sub);
    if (carry)
      f.get(l.c)
        .op(Op.i64ExtendI32U)
        .op(add ? Op.i64Add : Op.i64Sub);
    f.set(v);
    store(c, 8, out, seg, rex, v);
    // fr: low byte, sign at bit 31, "not zero" at bit 8.
    f.get(v).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(0x80000000).op(Op.i32And).op(Op.i32Or);
    f.get(v).i64(0, 0).op(Op.i64Ne).i32(8).op(Op.i32Shl).op(Op.i32Or).set(l.fr);
    if (add || sub) {
      // CF | AF << 4; OF from the signs (SDM Vol. 2 ADD, SUB).
      if (carry) {
        if (add) f.get(v).get(d).op(Op.i64LeU).get(v).get(d).op(Op.i64LtU);
        else f.get(d).get(x).op(Op.i64LeU).get(d).get(x).op(Op.i64LtU);
        f.get(l.c).op(Op.select);
      } else if (add) f.get(v).get(d).op(Op.i64LtU);
      else f.get(d).get(x).op(Op.i64LtU);
      f.get(d)
        .get(x)
        .op(Op.i64Xor)
        .get(v)
        .op(Op.i64Xor)
        .op(Op.i32WrapI64)
        .i32(0x10)
        .op(Op.i32And)
        .op(Op.i32Or);
      f.set(l.fa);
      if (add) f.get(d).get(v).op(Op.i64Xor).get(x).get(v).op(Op.i64Xor);
      else f.get(d).get(x).op(Op.i64Xor).get(d).get(v).op(Op.i64Xor);
      f.op(Op.i64And).i64(63, 0).op(Op.i64ShrU).op(Op.i32WrapI64).set(l.fs);
    } else f.i32(0).set(l.fa).i32(0).set(l.fs);
  } else {
    const { d, x, v } = l;
    const msb = size * 8 - 1;
    dst();
    f.set(d);
    src();
    f.set(x);
    f.get(d).get(x);
    f.op(add ? Op.i32Add : op === 1 ? Op.i32Or : op === 4 ? Op.i32And : op === 6 ? Op.i32Xor : Op.i32Sub);
    if (carry) f.get(l.c).op(add ? Op.i32Add : Op.i32Sub);
    f.set(v);
    if (size < 4) {
      // CF of a byte or word ADD is the bit above the result; then the result masked.
      if (add)
        f.get(v)
          .i32(msb + 1)
          .op(Op.i32ShrU)
          .i32(1)
          .op(Op.i32And)
          .set(l.c);
      f.get(v)
        .i32(size === 1 ? 0xff : 0xffff)
        .op(Op.i32And)
        .set(v);
    }
    store(c, size, out, seg, rex, v);
    // fr: the result with its sign at bit 31 (and still 0 only when it is).
    if (size < 4)
      f.get(v)
        .get(v)
        .i32(32 - size * 8)
        .op(Op.i32Shl)
        .op(Op.i32Or)
        .set(l.fr);
    else f.get(v).set(l.fr);
    if (add || sub) {
      if (add && size < 4) f.get(l.c);
      else if (carry) {
        if (add) f.get(v).get(d).op(Op.i32LeU).get(v).get(d).op(Op.i32LtU);
        else f.get(d).get(x).op(Op.i32LeU).get(d).get(x).op(Op.i32LtU);
        f.get(l.c).op(Op.select);
      } else if (add) f.get(v).get(d).op(Op.i32LtU);
      else f.get(d).get(x).op(Op.i32LtU);
      f.get(d).get(x).op(Op.i32Xor).get(v).op(Op.i32Xor).i32(0x10).op(Op.i32And).op(Op.i32Or);
      f.set(l.fa);
      if (add) f.get(d).get(v).op(Op.i32Xor).get(x).get(v).op(Op.i32Xor);
      else f.get(d).get(x).op(Op.i32Xor).get(d).get(v).op(Op.i32Xor);
      f.op(Op.i32And).i32(msb).op(Op.i32ShrU).i32(1).op(Op.i32And).set(l.fs);
    } else f.i32(0).set(l.fa).i32(0).set(l.fs);
  }
  f.i32(PEND_MAT).set(l.fo).i32(1).set(l.fp);
  c.pend = PEND_MAT;
}

/** Pushes byte register `r` (with a REX prefix SPL…DIL and R8B…; without, AH…BH for 4…7). */
function getB(c: Ctx64, r: number, rex: number): void {
  const { f } = c;
  if (rex !== 0 || r < 4) f.get(c.q.q[r]).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
  else
    f.get(c.q.q[r - 4])
      .op(Op.i32WrapI64)
      .i32(8)
      .op(Op.i32ShrU)
      .i32(0xff)
      .op(Op.i32And);
}

/** Pops an i32 (0…255) into byte register `r` (the rest of the register kept). */
function setB(c: Ctx64, r: number, rex: number): void {
  const { f } = c;
  const t = c.q.x;
  const hi = rex === 0 && r >= 4;
  const q = c.q.q[hi ? r - 4 : r];
  f.op(Op.i64ExtendI32U);
  if (hi) f.i64(8, 0).op(Op.i64Shl);
  f.set(t);
  f.get(q)
    .i64(hi ? 0xffff00ff : 0xffffff00, -1)
    .op(Op.i64And)
    .get(t)
    .op(Op.i64Or)
    .set(q);
}

/** Pops an i32 (0…65535) into the low word of register `r` (the rest kept: SDM Vol. 1 3.4.1.1). */
function setW(c: Ctx64, r: number): void {
  const { f } = c;
  const q = c.q.q[r];
  f.op(Op.i64ExtendI32U).set(c.q.x);
  f.get(q).i64(0xffff0000, -1).op(Op.i64And).get(c.q.x).op(Op.i64Or).set(q);
}

/** Pushes the byte r/m operand (register or memory: the address left in `a`). */
function loadEb(c: Ctx64, i: Insn): void {
  if (i.mod === 3) {
    getB(c, i.rm, i.rex);
    return;
  }
  ea64(c, i);
  c.f.set(c.q.a);
  readAt(c, i.memSeg, 1);
  c.f.op(Op.i32WrapI64);
}

/**
 * INC/DEC of `size` (1, 4, 8): as ADD/SUB of 1 with CF kept (SDM Vol. 2 INC, DEC), on register
 * `i.rm` or the memory operand (read, written back before the flags change).
 */
function incDec(c: Ctx64, i: Insn, size: number, dec: boolean, mem: boolean): void {
  const { f, l } = c;
  cfInto(c);
  const out = mem ? MEM : i.rm;
  if (size === 8) {
    const { d, v } = c.q;
    loadE(c, i, 8);
    f.tee(d)
      .i64(1, 0)
      .op(dec ? Op.i64Sub : Op.i64Add)
      .set(v);
    store(c, 8, out, i.memSeg, i.rex, v);
    f.get(v).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(0x80000000).op(Op.i32And).op(Op.i32Or);
    f.get(v).i64(0, 0).op(Op.i64Ne).i32(8).op(Op.i32Shl).op(Op.i32Or).set(l.fr);
    f.get(d).get(v).op(Op.i64Xor).op(Op.i32WrapI64).i32(0x10).op(Op.i32And).get(l.c).op(Op.i32Or).set(l.fa);
    // OF: INC of 2^63 - 1, DEC of 2^63.
    f.get(d)
      .i64(dec ? 0 : 0xffffffff, dec ? 0x80000000 : 0x7fffffff)
      .op(Op.i64Eq)
      .set(l.fs);
  } else {
    const { d, v } = l;
    if (size === 1) loadEb(c, i);
    else loadE(c, i, 4);
    f.tee(d)
      .i32(1)
      .op(dec ? Op.i32Sub : Op.i32Add);
    if (size === 1) f.i32(0xff).op(Op.i32And);
    f.set(v);
    store(c, size, out, i.memSeg, i.rex, v);
    if (size === 1) f.get(v).get(v).i32(24).op(Op.i32Shl).op(Op.i32Or).set(l.fr);
    else f.get(v).set(l.fr);
    f.get(d).get(v).op(Op.i32Xor).i32(0x10).op(Op.i32And).get(l.c).op(Op.i32Or).set(l.fa);
    const top = size === 1 ? 0x80 : 0x80000000;
    f.get(d)
      .i32(dec ? top : top - 1)
      .op(Op.i32Eq)
      .set(l.fs);
  }
  f.i32(PEND_MAT).set(l.fo).i32(1).set(l.fp);
  c.pend = PEND_MAT;
}

/**
 * ROL/ROR of register `r` (`size` 4 or 8) by constant `k` (1…size·8−1), where the flags' record
 * is in the locals (PEND_MAT: the rotate keeps SF, ZF, AF and PF, so `fr` and AF in `fa` stay):
 * CF is the bit rotated into the LSB (ROL) or the MSB (ROR), OF MSB(result) ^ CF for ROL and the
 * two top bits' XOR for ROR (defined for a count of 1; x86emu's choice otherwise, as
 * exec/shift.ts and exec/long/shift64.ts; SDM Vol. 2 RCL/RCR/ROL/ROR). Busybox's SHA-256 (the
 * boot's `sha256sum`) rotates between ALU instructions: as handler calls they made the engines'
 * userspace slower on wasm than on the JS backend.
 */
function rotateK(c: Ctx64, rol: boolean, r: number, size: number, k: number, flags: boolean): void {
  const { f, l } = c;
  const q = c.q.q[r];
  if (!flags) {
    // Dead flags (flagsDead64): the rotation alone; the record in the locals stays as it was.
    if (size === 8)
      f.get(q)
        .i64(k, 0)
        .op(rol ? Op.i64Rotl : Op.i64Rotr)
        .set(q);
    else
      f.get(q)
        .op(Op.i32WrapI64)
        .i32(k)
        .op(rol ? Op.i32Rotl : Op.i32Rotr)
        .op(Op.i64ExtendI32U)
        .set(q);
    return;
  }
  // `d`: the 32 bits that hold the result's MSB (the result, or its high half); `x`: CF.
  if (size === 8) {
    const v = c.q.v;
    f.get(q)
      .i64(k, 0)
      .op(rol ? Op.i64Rotl : Op.i64Rotr)
      .tee(v)
      .set(q);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).set(l.d);
    if (rol) f.get(v).op(Op.i32WrapI64).i32(1).op(Op.i32And).set(l.x);
  } else {
    f.get(q)
      .op(Op.i32WrapI64)
      .i32(k)
      .op(rol ? Op.i32Rotl : Op.i32Rotr)
      .tee(l.d)
      .op(Op.i64ExtendI32U)
      .set(q);
    if (rol) f.get(l.d).i32(1).op(Op.i32And).set(l.x);
  }
  if (!rol) f.get(l.d).i32(31).op(Op.i32ShrU).set(l.x);
  f.get(l.fa).i32(-2).op(Op.i32And).get(l.x).op(Op.i32Or).set(l.fa);
  f.get(l.d).i32(31).op(Op.i32ShrU);
  if (rol) f.get(l.x);
  else f.get(l.d).i32(30).op(Op.i32ShrU).i32(1).op(Op.i32And);
  f.op(Op.i32Xor).set(l.fs);
}

/**
 * SHL/SAL/SHR/SAR of register `r` (`size` 4 or 8) by constant `k` (1…size·8−1), as
 * exec/long/shift64.ts and ../shift64.ts compute them: CF the last bit out, OF MSB(result) ^ CF
 * for SHL, MSB(operand) for SHR, 0 for SAR, AF clear (SDM Vol. 2 SAL/SAR/SHL/SHR).
 */
function shiftK(c: Ctx64, m: string, r: number, size: number, k: number): void {
  const { f, l } = c;
  const right = m !== 'SHL';
  if (size === 8) {
    const { d, v } = c.q;
    f.get(c.q.q[r])
      .tee(d)
      .i64(k, 0)
      .op(m === 'SHL' ? Op.i64Shl : m === 'SHR' ? Op.i64ShrU : Op.i64ShrS)
      .set(v);
    f.get(d)
      .i64(right ? k - 1 : 64 - k, 0)
      .op(Op.i64ShrU)
      .op(Op.i32WrapI64)
      .i32(1)
      .op(Op.i32And)
      .set(l.fa);
    if (m === 'SHL') f.get(v).i64(63, 0).op(Op.i64ShrU).op(Op.i32WrapI64).get(l.fa).op(Op.i32Xor);
    else if (m === 'SHR') f.get(d).i64(63, 0).op(Op.i64ShrU).op(Op.i32WrapI64);
    else f.i32(0);
    f.set(l.fs);
    f.get(v).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(0x80000000).op(Op.i32And).op(Op.i32Or);
    f.get(v).i64(0, 0).op(Op.i64Ne).i32(8).op(Op.i32Shl).op(Op.i32Or).set(l.fr);
    f.get(v).set(c.q.q[r]);
  } else {
    const { d, v } = l;
    f.get(c.q.q[r])
      .op(Op.i32WrapI64)
      .tee(d)
      .i32(k)
      .op(m === 'SHL' ? Op.i32Shl : m === 'SHR' ? Op.i32ShrU : Op.i32ShrS);
    f.tee(v).set(l.fr);
    f.get(d)
      .i32(right ? k - 1 : 32 - k)
      .op(Op.i32ShrU)
      .i32(1)
      .op(Op.i32And)
      .set(l.fa);
    if (m === 'SHL') f.get(v).i32(31).op(Op.i32ShrU).get(l.fa).op(Op.i32Xor);
    else if (m === 'SHR') f.get(d).i32(31).op(Op.i32ShrU);
    else f.i32(0);
    f.set(l.fs);
    f.get(v);
    setD(c, r);
  }
  f.i32(PEND_MAT).set(l.fo).i32(1).set(l.fp);
  c.pend = PEND_MAT;
}

/**
 * SHL/SAL/SHR/SAR of register `r` (`size` 4 or 8) by CL, the count masked to 5 or 6 bits
 * (exec/shift.ts, exec/long/shift64.ts): the flags as `shiftK` computes them for a count of 1…31
 * or 1…63; a count of 0 changes no flag and leaves a 64-bit register as it was, while a 32-bit one
 * is still written, its upper half cleared (SDM Vol. 1 3.4.1.1). The record's kind is then known
 * only at run time (PEND_DYN) unless it was PEND_MAT already.
 */
function shiftCl(c: Ctx64, m: string, r: number, size: number): void {
  const { f, l } = c;
  const q = c.q.q[r];
  const right = m !== 'SHL';
  f.get(c.q.q[1])
    .op(Op.i32WrapI64)
    .i32(size === 8 ? 63 : 31)
    .op(Op.i32And)
    .tee(l.c)
    .op(Op.i32Eqz)
    .open(Op.if);
  if (size === 4) f.get(q).i64(0xffffffff, 0).op(Op.i64And).set(q);
  f.else();
  if (size === 8) {
    const { d, v, x } = c.q;
    f.get(l.c).op(Op.i64ExtendI32U).set(x);
    f.get(q)
      .tee(d)
      .get(x)
      .op(m === 'SHL' ? Op.i64Shl : m === 'SHR' ? Op.i64ShrU : Op.i64ShrS)
      .set(v);
    // CF: bit count - 1 (right) or 64 - count (left) of the operand.
    f.get(d);
    if (right) f.get(x).i64(1, 0).op(Op.i64Sub);
    else f.i64(64, 0).get(x).op(Op.i64Sub);
    f.op(Op.i64ShrU).op(Op.i32WrapI64).i32(1).op(Op.i32And).set(l.fa);
    if (m === 'SHL') f.get(v).i64(63, 0).op(Op.i64ShrU).op(Op.i32WrapI64).get(l.fa).op(Op.i32Xor);
    else if (m === 'SHR') f.get(d).i64(63, 0).op(Op.i64ShrU).op(Op.i32WrapI64);
    else f.i32(0);
    f.set(l.fs);
    f.get(v).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(0x80000000).op(Op.i32And).op(Op.i32Or);
    f.get(v).i64(0, 0).op(Op.i64Ne).i32(8).op(Op.i32Shl).op(Op.i32Or).set(l.fr);
    f.get(v).set(q);
  } else {
    const { d, v } = l;
    f.get(q)
      .op(Op.i32WrapI64)
      .tee(d)
      .get(l.c)
      .op(m === 'SHL' ? Op.i32Shl : m === 'SHR' ? Op.i32ShrU : Op.i32ShrS);
    f.tee(v).set(l.fr);
    f.get(d);
    if (right) f.get(l.c).i32(1).op(Op.i32Sub);
    else f.i32(32).get(l.c).op(Op.i32Sub);
    f.op(Op.i32ShrU).i32(1).op(Op.i32And).set(l.fa);
    if (m === 'SHL') f.get(v).i32(31).op(Op.i32ShrU).get(l.fa).op(Op.i32Xor);
    else if (m === 'SHR') f.get(d).i32(31).op(Op.i32ShrU);
    else f.i32(0);
    f.set(l.fs);
    f.get(v);
    setD(c, r);
  }
  f.i32(PEND_MAT).set(l.fo).i32(1).set(l.fp);
  f.end();
  c.pend = c.pend === PEND_MAT ? PEND_MAT : PEND_DYN;
}

/**
 * IMUL r64, r/m64 and IMUL r64, r/m64, imm (exec/long/alu64.ts makeImulN64): the low 64 bits of
 * the product; CF = OF = the signed product does not fit in 64 bits, SF ZF PF from the result, AF
 * clear. Without a 128-bit product: it fits when an operand is 0, when the other is −1 unless the
 * first is −2^63, and otherwise exactly when the wrapped product divided by the first operand
 * gives the second back (i64.div_s, which traps only for −2^63 / −1, excluded before).
 */
function imul64(c: Ctx64, i: Insn, three: boolean): void {
  const { f, l } = c;
  const { d, x, v } = c.q;
  loadE(c, i, 8);
  f.set(d);
  if (three) i64s(c, i.imm);
  else f.get(c.q.q[i.reg]);
  f.set(x);
  f.get(d).get(x).op(Op.i64Mul).set(v);
  f.get(d).op(Op.i64Eqz).open(Op.if, '', I32);
  f.i32(0);
  f.else();
  f.get(d).i64(0xffffffff, -1).op(Op.i64Eq).open(Op.if, '', I32);
  f.get(x).i64(0, 0x80000000).op(Op.i64Eq);
  f.else();
  f.get(v).get(d).op(Op.i64DivS).get(x).op(Op.i64Ne);
  f.end();
  f.end();
  f.tee(l.fs).set(l.fa);
  f.get(v).op(Op.i32WrapI64).i32(0xff).op(Op.i32And);
  f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).i32(0x80000000).op(Op.i32And).op(Op.i32Or);
  f.get(v).i64(0, 0).op(Op.i64Ne).i32(8).op(Op.i32Shl).op(Op.i32Or).set(l.fr);
  f.i32(PEND_MAT).set(l.fo).i32(1).set(l.fp);
  c.pend = PEND_MAT;
  f.get(v).set(c.q.q[i.reg]);
}

/**
 * The inline path of a read-modify-write memory operand that only a TLB hit for writing may take
 * (`size` bytes of `i`'s operand at offset `extra` pushed by `disp`, an i64, or none): the host
 * address into `l.t`, and where the probe misses (not RAM, not writable, not present, a page
 * split, a non-canonical address) the handler runs the instruction and the function leaves after
 * it: its #PF is a write's whether or not the instruction then writes (CMPXCHG's destination is
 * always written: SDM Vol. 2 CMPXCHG), as the interpreter raises it (exec/alu.ts, `rmwLinear`).
 */
function rmwProbe(c: Ctx64, i: Insn, size: number, write: boolean, extra?: () => void): void {
  const { f } = c;
  if (extra === undefined) probeHost64(c, i, size, write);
  else {
    ea64(c, i);
    extra();
    f.op(Op.i64Add).set(c.q.a);
    if (c.ramPages === 0) f.i32(0);
    else {
      const la = linear(c, i.memSeg);
      probe64(c, i.memSeg, size, write ? P_SWM : P_SRM, write ? TLB_WRITE : TLB_READ, la);
      hostAddr64(c, la);
      f.set(c.l.t);
    }
  }
  f.op(Op.i32Eqz).open(Op.if);
  const pend = c.pend;
  c.handler();
  c.pend = pend;
  f.end();
}

/**
 * For a form that changes some of the flags and keeps the rest (BT*, ROL/ROR whose flags are
 * read): emits `body`, which updates the record in the locals, where the record is the 64-bit
 * forms' (PEND_MAT: CF in `fa` bit 0, OF in `fs`, the rest in `fr` and `fa`). Known so at compile
 * time: `body` alone; known only at run time (`fp`/`fo`: a block's head, after a shift by CL or a
 * handler): `body` where the record is PEND_MAT now, else (the flags in the CPU, `fp` 0: a chain's
 * start, after a handler) the handler, the function going on after it either way, the record's
 * place known at run time after. False, having emitted nothing, for a record of another kind
 * known at compile time (none of the 64-bit forms leaves one).
 */
function withMat(c: Ctx64, body: () => void): boolean {
  const { f, l } = c;
  if (c.pend === PEND_MAT) {
    body();
    return true;
  }
  if (c.pend > 0) return false;
  f.get(l.fp).i32(0).op(Op.i32Ne).get(l.fo).i32(PEND_MAT).op(Op.i32Eq).op(Op.i32And);
  f.open(Op.if);
  c.pend = PEND_MAT;
  body();
  f.else();
  c.call();
  f.end();
  c.pend = PEND_DYN;
  return true;
}

/**
 * The r/m operand of a 4- or 8-byte read-modify-write into the i64 local `x`, zero-extended from
 * 4 bytes: from memory at `l.t` (its probe made), or from the register.
 */
function rmIntoX(c: Ctx64, i: Insn, size: number, mem: boolean): void {
  const { f, l } = c;
  if (mem) {
    f.get(l.t)
      .mem(size === 8 ? Op.i64Load : Op.i64Load32U, 0)
      .set(c.q.x);
    return;
  }
  f.get(c.q.q[i.rm]);
  if (size === 4) f.i64(0xffffffff, 0).op(Op.i64And);
  f.set(c.q.x);
}

/**
 * CMPXCHG r/m, r (`size` 4 or 8; exec/alu.ts CMPXCHG, exec/long/alu64.ts CMPXCHG64): the flags of
 * CMP rAX, r/m; equal: r/m = r; else rAX = r/m (a 32-bit one zero-extended; a register r/m kept).
 * The memory form's write-back of an unequal value is its own value into a writable page of RAM
 * (the probe's hit): nothing to do. The kernel's cmpxchg loops (LOCK prefixes patched to DS on a
 * single CPU: a LOCK form is still the handler's) called the handler 0.27 M times a boot.
 */
function cmpxchg(c: Ctx64, i: Insn, size: number, mem: boolean): void {
  const { f, l } = c;
  const q = c.q.q;
  const x = c.q.x;
  if (mem) rmwProbe(c, i, size, true);
  rmIntoX(c, i, size, mem);
  // alu's own temporaries: for 8 bytes `d` rAX, `x` r/m (as loaded), `v` the difference; for 4
  // the i32 locals `l.d`, `l.x`, `l.v`.
  alu(
    c,
    7,
    size,
    () => reg(c, 0, size),
    () => (size === 8 ? void f.get(x) : void f.get(x).op(Op.i32WrapI64)),
    NONE,
  );
  f.get(size === 8 ? c.q.v : l.v)
    .op(size === 8 ? Op.i64Eqz : Op.i32Eqz)
    .open(Op.if);
  if (mem) {
    f.get(l.t).get(q[i.reg]);
    f.mem(size === 8 ? Op.i64Store : Op.i64Store32, 0);
  } else {
    f.get(q[i.reg]);
    if (size === 4) f.i64(0xffffffff, 0).op(Op.i64And);
    f.set(q[i.rm]);
  }
  f.else();
  f.get(x).set(q[0]);
  f.end();
}

/**
 * XADD m, r (`size` 4 or 8; exec/alu.ts XADD, exec/long/alu64.ts XADD64): m = m + r with ADD's
 * flags, r = the old m (a 32-bit one zero-extended); the store before the register.
 */
function xadd(c: Ctx64, i: Insn, size: number): void {
  const { f, l } = c;
  const q = c.q.q;
  const x = c.q.x;
  rmwProbe(c, i, size, true);
  f.get(l.t)
    .mem(size === 8 ? Op.i64Load : Op.i64Load32U, 0)
    .set(x);
  alu(
    c,
    0,
    size,
    () => (size === 8 ? void f.get(x) : void f.get(x).op(Op.i32WrapI64)),
    () => reg(c, i.reg, size),
    NONE,
  );
  f.get(l.t).get(size === 8 ? c.q.v : l.v);
  f.mem(size === 8 ? Op.i64Store : Op.i32Store, 0);
  f.get(size === 8 ? c.q.d : l.d);
  if (size === 4) f.op(Op.i64ExtendI32U);
  f.set(q[i.reg]);
}

/**
 * BT/BTS/BTR/BTC (`op` 0…3) r/m, imm8 or r (`size` 4 or 8; exec/bits.ts, exec/long/shift64.ts
 * makeBt64): CF = the bit, which BTS sets, BTR clears and BTC flips; every other flag kept, so the
 * record must be the 64-bit forms' (PEND_MAT, CF in `fa` bit 0): known so here, or tested at run
 * time, the handler running it otherwise. A register bit offset with a memory operand selects the
 * qword at offset SAR 6 (signed: SDM Vol. 2 BT), bit offset & 63; the whole operand is accessed
 * (read, or probed for writing first: the #PF a write's).
 */
function bitTest(c: Ctx64, i: Insn, op: number, size: number, mem: boolean, imm: boolean): void {
  const { f, l } = c;
  const q = c.q.q;
  const x = c.q.x;
  const bits = size * 8;
  // The bit number into the i64 local `v`.
  if (imm) f.i64(i.imm & (bits - 1), 0);
  else
    f.get(q[i.reg])
      .i64(bits - 1, 0)
      .op(Op.i64And);
  f.set(c.q.v);
  if (mem) {
    if (imm) rmwProbe(c, i, size, op !== 0);
    else
      rmwProbe(
        c,
        i,
        8,
        op !== 0,
        () => void f.get(q[i.reg]).i64(6, 0).op(Op.i64ShrS).i64(3, 0).op(Op.i64Shl),
      );
  }
  rmIntoX(c, i, size, mem);
  // CF into the record.
  f.get(l.fa).i32(-2).op(Op.i32And);
  f.get(x).get(c.q.v).op(Op.i64ShrU).op(Op.i32WrapI64).i32(1).op(Op.i32And);
  f.op(Op.i32Or).set(l.fa);
  if (op === 0) return;
  f.get(x).i64(1, 0).get(c.q.v).op(Op.i64Shl);
  if (op === 1) f.op(Op.i64Or);
  else if (op === 2) f.i64(0xffffffff, -1).op(Op.i64Xor).op(Op.i64And);
  else f.op(Op.i64Xor);
  if (mem) {
    f.set(x);
    f.get(l.t)
      .get(x)
      .mem(size === 8 ? Op.i64Store : Op.i64Store32, 0);
  } else {
    // A 32-bit register write zero-extends (BT alone writes nothing).
    if (size === 4) f.i64(0xffffffff, 0).op(Op.i64And);
    f.set(q[i.rm]);
  }
}

/** Pushes the i32 in local `t` byte-swapped (SDM Vol. 2 BSWAP). */
function swap32(c: Ctx64, t: number): void {
  const { f } = c;
  f.get(t).i32(8).op(Op.i32Rotl).i32(0x00ff00ff).op(Op.i32And);
  f.get(t)
    .i32(8)
    .op(Op.i32Rotr)
    .i32(0xff00ff00 | 0)
    .op(Op.i32And);
  f.op(Op.i32Or);
}

/** MOV forms between general registers that emitInsn64Wasm compiles inline (flag-liveness.ts MOV_REG). */
const MOV_REG_B: ReadonlySet<string> = new Set(['Eb,Gb', 'Gb,Eb', 'Zb,Ib', 'Eb,Ib']);
const MOV_REG_V: ReadonlySet<string> = new Set(['Ev,Gv', 'Gv,Ev', 'Zv,Iv', 'Ev,Iz']);
const FULL_WRITERS: ReadonlySet<string> = new Set(['ADD', 'SUB', 'AND', 'OR', 'XOR', 'CMP', 'TEST']);
const SHIFTS: ReadonlySet<string> = new Set(['SHL', 'SAL', 'SHR', 'SAR']);

/**
 * Whether `i`, between a rotate and the instruction that overwrites its flags, passes the flags on
 * untouched AND is compiled inline by emitInsn64Wasm (no handler call, no memory access: nothing
 * that could leave the function, so no interrupt, fault or handler sees the record in between).
 */
function neutralInline(i: Insn): boolean {
  const row = OPCODE_TABLE[i.row];
  const m = row.mnemonic;
  const ops = row.operands;
  const size = i.opSize;
  if (m === 'LEA') return i.mod !== 3 && i.adSize === 8 && (size === 4 || size === 8);
  if (i.hasModrm && i.mod !== 3) return false;
  if (m === 'MOV') return MOV_REG_B.has(ops) || (MOV_REG_V.has(ops) && (size === 4 || size === 8));
  if (size !== 4 && size !== 8) return false;
  if (m === 'MOVZX' || m === 'MOVSX' || m === 'NOT' || m === 'BSWAP') return true;
  if (m === 'MOVSXD') return size === 8;
  if ((m === 'ROL' || m === 'ROR') && (ops === 'Ev,Ib' || ops === 'Ev,1'))
    return ((ops === 'Ev,1' ? 1 : i.imm) & (size === 8 ? 63 : 31)) !== 0;
  return false;
}

/**
 * True when the flags instruction `j` of `insns` writes are overwritten by a later one of the
 * block before anything can read or observe them, with only inline forms in between: the
 * look-ahead of ../flag-liveness.ts (the JS backend's, which must agree), narrowed to what this
 * backend compiles without a handler call (a handler call may leave the function, and the run
 * loop would then see the record).
 */
export function flagsDead64(insns: readonly Insn[], j: number): boolean {
  for (let k = j + 1; k < insns.length; k++) {
    const i = insns[k];
    if (i.row < 0 || i.lock || i.rep !== 0) return false;
    const row = OPCODE_TABLE[i.row];
    const reg = !i.hasModrm || i.mod === 3;
    if (FULL_WRITERS.has(row.mnemonic) && reg) return flagsDeadAfter(insns, j);
    // A shift by a constant other than 0 writes all six (emitted inline: shiftK).
    const ops = row.operands;
    if (
      SHIFTS.has(row.mnemonic) &&
      reg &&
      (ops === 'Ev,Ib' || ops === 'Ev,1') &&
      (i.opSize === 4 || i.opSize === 8)
    )
      if (((ops === 'Ev,1' ? 1 : i.imm) & (i.opSize === 8 ? 63 : 31)) !== 0) return flagsDeadAfter(insns, j);
    if (!neutralInline(i)) return false;
  }
  return false;
}

/** The 64-bit target of a relative branch, or null when it leaves RIP[63:32] (its handler runs it). */
function target(c: Ctx64, i: Insn): number | null {
  const t = c.next + i.imm;
  return t >= 0 && t < TWO32 ? t : null;
}

/** The next instruction's RIP as an i64 constant. */
function pushNext(c: Ctx64): void {
  c.f.i64(c.next, c.hi);
}

/**
 * Emits instruction `i` (row `row`) of a 64-bit function; false when this backend does not
 * compile the form (nothing emitted). Sets `memory` in `out` when it may have taken a slow memory
 * path, `branch` when it ended the block.
 */
export function emitInsn64Wasm(
  c: Ctx64,
  i: Insn,
  row: OpcodeRow,
  out: { memory: boolean; branch: boolean },
): boolean {
  const { f, l } = c;
  const q = c.q.q;
  const m = row.mnemonic;
  const ops = row.operands;
  out.memory = false;
  out.branch = false;
  if (i.lock) return false;
  if (m === 'JCC' || m === 'JMP') {
    if ((ops !== 'Jb' && ops !== 'Jz') || i.opSize !== 8) return false;
    const t = target(c, i);
    if (t === null) return false;
    out.branch = true;
    if (m === 'JMP') {
      goTo(c, t, false);
      return true;
    }
    cond(c, i.op & 0xf);
    f.open(Op.if);
    goTo(c, t, false);
    f.else();
    goTo(c, c.next, false);
    f.end();
    return true;
  }
  if (m === 'CALL') {
    // CALL rel32: the return address pushed as PUSH does it (a fault leaves RSP, RIP at the CALL),
    // then on to the target; a target beyond RIP[63:32] (maybe not canonical) is the handler's.
    if (ops !== 'Jz' || i.opSize !== 8) return false;
    const t = target(c, i);
    if (t === null) return false;
    out.branch = true;
    f.get(q[4]).i64(8, 0).op(Op.i64Sub).set(c.q.a);
    pushNext(c);
    f.set(c.q.v);
    writeAt(c, SS, 8, c.q.v);
    f.get(c.q.a).set(q[4]);
    // A push through the CPU may have raised an event check or written this code page: leave.
    f.get(l.ck).open(Op.if);
    exitNormal(c, t, c.length, ExitKind.AfterSlowPath);
    f.end();
    goTo(c, t, false);
    return true;
  }
  if (m === 'RET') {
    // RET [imm16]: the return address read first (a fault leaves RSP); a non-canonical one (#GP(0)
    // at the RET, SDM Vol. 2 RET) is left to the handler, which runs the RET again from the start.
    if (i.opSize !== 8 || (ops !== '' && ops !== 'Iw')) return false;
    out.branch = true;
    const { a, v } = c.q;
    f.get(q[4]).set(a);
    readAt(c, SS, 8);
    f.tee(v).i64(0, 0x8000).op(Op.i64Add).i64(0, 0x10000).op(Op.i64LtU).op(Op.i32Eqz).open(Op.if);
    c.handler();
    f.end();
    f.get(a)
      .i64(8 + (ops === 'Iw' ? i.imm & 0xffff : 0), 0)
      .op(Op.i64Add)
      .set(q[4]);
    f.get(l.n).i32(c.length).op(Op.i32Add).set(l.n);
    f.get(v).op(Op.i32WrapI64).set(l.next);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).set(c.q.nh);
    c.census?.(0, ExitKind.Ret);
    f.br('exit');
    return true;
  }
  const mem = i.hasModrm && i.mod !== 3;
  if (mem && i.adSize !== 8) return false;
  const size = i.opSize;
  if ((m === 'CALL_IND' || m === 'JMP_IND') && size === 8) {
    // CALL/JMP r/m64 (exec/long/control64.ts): the target read first (a fault leaves everything),
    // a non-canonical one left to the handler (#GP(0) at the branch, before the push: SDM Vol. 2
    // CALL), CALL's return address pushed as PUSH does it; then the function leaves at the target
    // (the dispatch loop's jump cache goes on from there: chain.ts).
    out.branch = true;
    const { a, v } = c.q;
    loadE(c, i, 8);
    f.tee(v).i64(0, 0x8000).op(Op.i64Add).i64(0, 0x10000).op(Op.i64LtU).op(Op.i32Eqz).open(Op.if);
    c.handler();
    f.end();
    if (m === 'CALL_IND') {
      f.get(q[4]).i64(8, 0).op(Op.i64Sub).set(a);
      pushNext(c);
      f.set(c.q.d);
      writeAt(c, SS, 8, c.q.d);
      f.get(a).set(q[4]);
    }
    f.get(l.n).i32(c.length).op(Op.i32Add).set(l.n);
    f.get(v).op(Op.i32WrapI64).set(l.next);
    f.get(v).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).set(c.q.nh);
    c.census?.(0, m === 'CALL_IND' ? ExitKind.CallIndirect : ExitKind.JmpIndirect);
    f.br('exit');
    return true;
  }
  if (m === 'PUSH' && (ops === 'Iz' || ops === 'IbS') && size === 8) {
    // PUSH imm32/imm8 sign-extended to 64 bits (SDM Vol. 2 PUSH), as PUSH r64 below.
    out.memory = true;
    f.get(q[4]).i64(8, 0).op(Op.i64Sub).set(c.q.a);
    i64s(c, i.imm);
    f.set(c.q.v);
    writeAt(c, SS, 8, c.q.v);
    f.get(c.q.a).set(q[4]);
    return true;
  }
  if (m === 'LEAVE' && size === 8) {
    // LEAVE (exec/long/move64.ts LEAVE64): RBP's slot read at SS:RBP first (a fault leaves RSP),
    // then RSP = RBP + 8 and RBP = the value.
    out.memory = true;
    f.get(q[5]).set(c.q.a);
    readAt(c, SS, 8);
    f.set(c.q.v);
    f.get(c.q.a).i64(8, 0).op(Op.i64Add).set(q[4]);
    f.get(c.q.v).set(q[5]);
    return true;
  }
  if (m === 'CBW' && (size === 8 || size === 4)) {
    // CDQE: RAX = EAX sign-extended; CWDE: EAX = AX sign-extended, zero-extended to RAX.
    f.get(q[0]).op(Op.i32WrapI64);
    if (size === 8) f.op(Op.i64ExtendI32S);
    else f.op(Op.i32Extend16S).op(Op.i64ExtendI32U);
    f.set(q[0]);
    return true;
  }
  if (m === 'PUSH' || m === 'POP') {
    if (ops !== 'Zv' || size !== 8) return false;
    out.memory = true;
    const r = i.rm;
    if (m === 'PUSH') {
      f.get(q[4]).i64(8, 0).op(Op.i64Sub).set(c.q.a);
      f.get(q[r]).set(c.q.v);
      writeAt(c, SS, 8, c.q.v);
      f.get(c.q.a).set(q[4]);
    } else {
      f.get(q[4]).set(c.q.a);
      readAt(c, SS, 8);
      f.set(c.q.v);
      f.get(c.q.a).i64(8, 0).op(Op.i64Add).set(q[4]);
      f.get(c.q.v).set(q[r]);
    }
    return true;
  }
  if (m === 'NOP') return true; // hint NOPs with a memory operand never access it
  if ((m === 'CMPXCHG' || m === 'XADD') && ops === 'Ev,Gv' && (size === 4 || size === 8)) {
    if (m === 'XADD' && !mem) return false;
    if (m === 'CMPXCHG') cmpxchg(c, i, size, mem);
    else xadd(c, i, size);
    return true;
  }
  if ((m === 'BT' || m === 'BTS' || m === 'BTR' || m === 'BTC') && (ops === 'Ev,Ib' || ops === 'Ev,Gv')) {
    if (size !== 4 && size !== 8) return false;
    // A register bit offset selects a bit anywhere relative to a memory operand: 64-bit only here.
    if (mem && ops === 'Ev,Gv' && size !== 8) return false;
    const op = ['BT', 'BTS', 'BTR', 'BTC'].indexOf(m);
    return withMat(c, () => bitTest(c, i, op, size, mem, ops === 'Ev,Ib'));
  }
  out.memory = mem;
  const op = m === 'TEST' ? 4 : ALU_OPS.indexOf(m);
  const write = m !== 'TEST' && op !== 7;
  const carry = op === 2 || op === 3;
  const alu2 = op >= 0 && !carry;
  if (alu2 && (ops === 'Eb,Gb' || ops === 'Gb,Eb' || ops === 'AL,Ib' || ops === 'Eb,Ib')) {
    // Byte operands: the flags of a size-1 result; a byte register write keeps the rest.
    const ib = (): void => void f.i32(i.imm & 0xff);
    const outE = !write ? NONE : mem ? MEM : i.rm;
    if (ops === 'Eb,Gb')
      alu(
        c,
        op,
        1,
        () => loadEb(c, i),
        () => getB(c, i.reg, i.rex),
        outE,
        i.memSeg,
        i.rex,
      );
    else if (ops === 'Gb,Eb') {
      if (m === 'TEST') return false;
      alu(
        c,
        op,
        1,
        () => getB(c, i.reg, i.rex),
        () => loadEb(c, i),
        write ? i.reg : NONE,
        0,
        i.rex,
      );
    } else if (ops === 'AL,Ib') alu(c, op, 1, () => getB(c, 0, i.rex), ib, write ? 0 : NONE, 0, i.rex);
    else alu(c, op, 1, () => loadEb(c, i), ib, outE, i.memSeg, i.rex);
    return true;
  }
  if (
    (m === 'MOV' && (ops === 'Eb,Gb' || ops === 'Eb,Ib' || ops === 'Zb,Ib')) ||
    (m === 'SETCC' && ops === 'Eb')
  ) {
    // SETcc r/m8: 1 or 0 by the condition (exec/bits.ts SETCC), the flags read from the locals.
    if (m === 'SETCC') cond(c, i.op & 0xf);
    else if (ops === 'Eb,Gb') getB(c, i.reg, i.rex);
    else f.i32(i.imm & 0xff);
    if (mem) {
      f.op(Op.i64ExtendI32U).set(c.q.v);
      ea64(c, i);
      f.set(c.q.a);
      writeAt(c, i.memSeg, 1, c.q.v);
    } else setB(c, i.rm, i.rex);
    return true;
  }
  if (m === 'MOV' && ops === 'Gb,Eb') {
    loadEb(c, i);
    setB(c, i.reg, i.rex);
    return true;
  }
  if ((m === 'INC' || m === 'DEC') && ops === 'Eb') {
    incDec(c, i, 1, m === 'DEC', mem);
    return true;
  }
  if (size !== 2 && size !== 4 && size !== 8) return false;
  if (alu2 || (carry && size !== 2)) {
    // ADC/SBB: CF into local `c` first (alu), a JS call where the record's place is known only at
    // run time.
    if (
      carry &&
      (ops === 'Ev,Gv' || ops === 'Gv,Ev' || ops === 'eAX,Iz' || ops === 'Ev,Iz' || ops === 'Ev,IbS')
    )
      cfInto(c);
    const outE = !write ? NONE : mem ? MEM : i.rm;
    if (ops === 'Ev,Gv')
      alu(
        c,
        op,
        size,
        () => loadE(c, i, size),
        () => reg(c, i.reg, size),
        outE,
        i.memSeg,
      );
    else if (ops === 'Gv,Ev' && m !== 'TEST')
      alu(
        c,
        op,
        size,
        () => reg(c, i.reg, size),
        () => loadE(c, i, size),
        write ? i.reg : NONE,
      );
    else if (ops === 'eAX,Iz')
      alu(
        c,
        op,
        size,
        () => reg(c, 0, size),
        () => imm(c, i.imm, size),
        write ? 0 : NONE,
      );
    else if (ops === 'Ev,Iz' || (ops === 'Ev,IbS' && m !== 'TEST'))
      alu(
        c,
        op,
        size,
        () => loadE(c, i, size),
        () => imm(c, i.imm, size),
        outE,
        i.memSeg,
      );
    else return false;
    return true;
  }
  if (m === 'MOV' && size === 2 && (ops === 'Ev,Gv' || ops === 'Gv,Ev')) {
    // 16-bit moves (the kernel's word stores and loads): the rest of a register kept.
    if (ops === 'Gv,Ev') {
      loadE(c, i, 2);
      setW(c, i.reg);
    } else if (mem) {
      f.get(q[i.reg]).set(c.q.v);
      ea64(c, i);
      f.set(c.q.a);
      writeAt(c, i.memSeg, 2, c.q.v);
    } else {
      reg(c, i.reg, 2);
      setW(c, i.rm);
    }
    return true;
  }
  if (m === 'NEG' && ops === 'Ev') {
    // NEG r/m: the flags of SUB 0, r/m (SDM Vol. 2 NEG: CF is "operand not 0", 0 < x unsigned; OF,
    // AF, SF, ZF, PF as that subtraction's); the store before them, so a faulting one leaves them.
    alu(
      c,
      5,
      size,
      () => (size === 8 ? void f.i64(0, 0) : void f.i32(0)),
      () => loadE(c, i, size),
      mem ? MEM : i.rm,
      i.memSeg,
    );
    return true;
  }
  if (size === 2) return false;
  if ((m === 'INC' || m === 'DEC') && ops === 'Ev') {
    incDec(c, i, size, m === 'DEC', mem);
    return true;
  }
  if (m === 'NOT' && !mem) {
    // NOT r: no flag changes (SDM Vol. 2 NOT); a 32-bit one zero-extends.
    f.get(q[i.rm])
      .i64(0xffffffff, size === 8 ? -1 : 0)
      .op(Op.i64Xor);
    if (size === 4) f.i64(0xffffffff, 0).op(Op.i64And);
    setQ(c, i.rm);
    return true;
  }
  if ((m === 'BSF' || m === 'BSR') && ops === 'Gv,Ev' && !mem && flagsDead64(c.insns, c.j)) {
    // BSF/BSR r, r whose flags nothing reads (user space's strlen and memchr: PMOVMSKB, BSF, then
    // an ADD overwrites them): the index of the lowest or highest set bit, the destination kept for
    // a source of 0 (x86emu's choice, exec/bits.ts; SDM Vol. 2: undefined); ZF alone is what they
    // write, and it is dead (flagsDead64, as the rotates), so the record stays as it was. Not from
    // memory: its slow path may leave the function right after it, where the run loop would see
    // the old ZF.
    const { x } = c.q;
    loadE(c, i, size);
    if (size === 4) f.op(Op.i64ExtendI32U);
    f.tee(x).op(Op.i64Eqz).op(Op.i32Eqz).open(Op.if);
    if (m === 'BSF') f.get(x).op(Op.i64Ctz);
    else f.i64(63, 0).get(x).op(Op.i64Clz).op(Op.i64Sub);
    setQ(c, i.reg);
    f.end();
    return true;
  }
  if (m === 'BSWAP') {
    const t = l.t;
    if (size === 4) {
      f.get(q[i.rm]).op(Op.i32WrapI64).set(t);
      swap32(c, t);
      setD(c, i.rm);
      return true;
    }
    // The low dword swapped is the new high one, and the other way round.
    f.get(q[i.rm]).op(Op.i32WrapI64).set(t);
    swap32(c, t);
    f.op(Op.i64ExtendI32U).i64(32, 0).op(Op.i64Shl);
    f.get(q[i.rm]).i64(32, 0).op(Op.i64ShrU).op(Op.i32WrapI64).set(t);
    swap32(c, t);
    f.op(Op.i64ExtendI32U).op(Op.i64Or);
    setQ(c, i.rm);
    return true;
  }
  if (m === 'CMOVCC' && ops === 'Gv,Ev') {
    // The source read (and its fault taken) whatever the condition; a 32-bit CMOVcc zero-extends
    // its destination even when false (exec/bits.ts CMOVCC, SDM Vol. 2 CMOVcc).
    loadE(c, i, size);
    if (size === 4) f.op(Op.i64ExtendI32U);
    f.set(c.q.v);
    f.get(c.q.v).get(q[i.reg]);
    if (size === 4) f.i64(0xffffffff, 0).op(Op.i64And);
    cond(c, i.op & 0xf);
    f.op(Op.select);
    setQ(c, i.reg);
    return true;
  }
  if ((m === 'IMUL2' && ops === 'Gv,Ev') || (m === 'IMUL3' && (ops === 'Gv,Ev,Iz' || ops === 'Gv,Ev,IbS'))) {
    if (size !== 8) return false;
    imul64(c, i, m === 'IMUL3');
    return true;
  }
  if ((m === 'SHL' || m === 'SAL' || m === 'SHR' || m === 'SAR') && !mem && ops === 'Ev,CL') {
    shiftCl(c, m === 'SAL' ? 'SHL' : m, i.rm, size);
    return true;
  }
  if (
    (m === 'SHL' || m === 'SAL' || m === 'SHR' || m === 'SAR') &&
    !mem &&
    (ops === 'Ev,Ib' || ops === 'Ev,1')
  ) {
    const k = (ops === 'Ev,1' ? 1 : i.imm) & (size === 8 ? 63 : 31);
    if (k === 0) return false; // no flag changes: the handler's
    shiftK(c, m === 'SAL' ? 'SHL' : m, i.rm, size, k);
    return true;
  }
  if ((m === 'ROL' || m === 'ROR') && !mem && (ops === 'Ev,Ib' || ops === 'Ev,1')) {
    const k = (ops === 'Ev,1' ? 1 : i.imm) & (size === 8 ? 63 : 31);
    if (k === 0) return false; // no flag changes: the handler's
    // Its flags built where the record is the 64-bit forms' (at a block's head tested at run time:
    // 0.19 M handler calls a boot before), else only where nothing reads them (busybox's SHA-256:
    // rotates at a block's head, after a call, overwritten by the next XOR).
    const flags = !flagsDead64(c.insns, c.j);
    if (!flags) rotateK(c, m === 'ROL', i.rm, size, k, false);
    else return withMat(c, () => rotateK(c, m === 'ROL', i.rm, size, k, true));
    return true;
  }
  if (m === 'MOV') {
    if (ops === 'Ev,Gv') {
      if (mem) {
        f.get(q[i.reg]).set(c.q.v);
        ea64(c, i);
        f.set(c.q.a);
        writeAt(c, i.memSeg, size, c.q.v);
      } else {
        reg(c, i.reg, size);
        if (size === 8) setQ(c, i.rm);
        else setD(c, i.rm);
      }
      return true;
    }
    if (ops === 'Gv,Ev') {
      loadE(c, i, size);
      if (size === 8) setQ(c, i.reg);
      else setD(c, i.reg);
      return true;
    }
    if (ops === 'Zv,Iv') {
      f.i64(i.imm >>> 0, size === 8 ? i.imm2 | 0 : 0);
      setQ(c, i.rm);
      return true;
    }
    if (ops === 'Ev,Iz') {
      if (size === 8) i64s(c, i.imm);
      else f.i64(i.imm >>> 0, 0);
      if (mem) {
        f.set(c.q.v);
        ea64(c, i);
        f.set(c.q.a);
        writeAt(c, i.memSeg, size, c.q.v);
      } else setQ(c, i.rm);
      return true;
    }
    return false;
  }
  if (m === 'MOVSXD' && size === 8) {
    // MOVSXD r64, r/m32: the dword sign-extended (SDM Vol. 2 MOVSX/MOVSXD).
    loadE(c, i, 4);
    f.op(Op.i64ExtendI32S);
    setQ(c, i.reg);
    return true;
  }
  if (m === 'LEA') {
    if (!mem) return false;
    // Every bit of the 64-bit address (Cpu.eaHalves): LEA checks no canonical form.
    out.memory = false;
    ea64(c, i);
    if (size === 8) setQ(c, i.reg);
    else {
      f.op(Op.i32WrapI64);
      setD(c, i.reg);
    }
    return true;
  }
  if (m === 'MOVZX' || m === 'MOVSX') {
    const byte = ops.endsWith('Eb');
    if (mem) {
      ea64(c, i);
      f.set(c.q.a);
      readAt(c, i.memSeg, byte ? 1 : 2);
      f.op(Op.i32WrapI64);
    } else if (!byte || i.rex !== 0 || i.rm < 4)
      f.get(q[i.rm])
        .op(Op.i32WrapI64)
        .i32(byte ? 0xff : 0xffff)
        .op(Op.i32And);
    else
      f.get(q[i.rm - 4])
        .op(Op.i32WrapI64)
        .i32(8)
        .op(Op.i32ShrU)
        .i32(0xff)
        .op(Op.i32And);
    if (m === 'MOVSX') {
      f.op(byte ? Op.i32Extend8S : Op.i32Extend16S);
      if (size === 8) {
        f.op(Op.i64ExtendI32S);
        setQ(c, i.reg);
        return true;
      }
    }
    setD(c, i.reg);
    return true;
  }
  return false;
}
