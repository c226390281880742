/**
 * WebAssembly for the instructions the wasm backend compiles: 32-bit operands and addressing
 * outside 64-bit mode, guest registers EAX…EDI in i32 locals, the lazy flags in locals (`fo fd fs
 * fr fa`, the interpreter's record, with `fp` saying they are there), memory operands through the
 * TLB probed inline in wasm memory (arena.ts) and `Cpu.read`/`Cpu.write` (imports) for the rest.
 * Each emitter mirrors the JS backend's (../emit.ts), which mirrors the interpreter's handler;
 * `emitInsnWasm` returns false, having emitted nothing, for a form it does not compile (then the
 * interpreter's handler runs it: handler-call.ts).
 */
import { TLB_MASK } from '../../cpu/consts.js';
import { LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SUB } from '../../cpu/lazy-flags.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';
import { PEND_DYN, PEND_MAT } from '../flags.js';
import { ALU_OPS } from '../rows.js';
import { ST_EXITREQ, TLB_ADDEND, TLB_READ, TLB_WRITE } from './arena.js';
import { type FuncWriter, I32, Op } from './encode.js';
import { ExitKind } from './exit-census.js';

/** Imported functions, by index (compile.ts builds them). */
export const IMP_READ = 0;
export const IMP_WRITE = 1;
export const IMP_FLAGS = 2;
export const IMP_GP0 = 3;

/** Parameters of a compiled function (then its result: 0 left normally, 1 a fault). */
export const P_ROOM = 0;
export const P_SRM = 1;
export const P_SWM = 2;
/** The TLB's privilege class at the CPU's CPL: 0 or TLB_USER (arena.ts), the slot offset. */
export const P_CLS = 3;
/** Unused (kept so that every compiled function has one type). */
export const P_CLS2 = 4;
export const P_LIM = 5;
export const PARAMS = 6;

/** Locals of a compiled function, in the order `WasmCtx` allocates them. */
export interface Locals {
  r: number[];
  fo: number;
  fd: number;
  fs: number;
  fr: number;
  fa: number;
  fp: number;
  dm: number;
  n: number;
  bb: number;
  next: number;
  k: number;
  kind: number;
  ck: number;
  a: number;
  o: number;
  x: number;
  t: number;
  d: number;
  v: number;
  c: number;
}

export function allocLocals(f: FuncWriter): Locals {
  const r: number[] = [];
  for (let i = 0; i < 8; i++) r.push(f.local());
  const L = (): number => f.local();
  return {
    r,
    fo: L(),
    fd: L(),
    fs: L(),
    fr: L(),
    fa: L(),
    fp: L(),
    dm: L(),
    n: L(),
    bb: L(),
    next: L(),
    k: L(),
    kind: L(),
    ck: L(),
    a: L(),
    o: L(),
    x: L(),
    t: L(),
    d: L(),
    v: L(),
    c: L(),
  };
}

/** What the emitter knows at one point of a function. */
export interface WasmCtx {
  f: FuncWriter;
  l: Locals;
  /** Lazy-flag kind held in the locals (LF_*, PEND_MAT), 0: in the CPU, PEND_DYN: `fp`/`fo` say. */
  pend: number;
  /** EIP of the instruction and of the next; its index in its block and in the function. */
  eip: number;
  next: number;
  j: number;
  k: number;
  /** The block's length (instructions). */
  length: number;
  /** Blocks of the function by their EIP: [index, length]. */
  region: Map<number, [number, number]>;
  /** RAM pages in wasm memory (0: no inline memory path). */
  ramPages: number;
  /** Segments whose flat-segment test the inline memory path reads (bit per segment register). */
  segs: number;
  /**
   * The index of the block being emitted, where a jump to a later block may branch to it directly
   * (`goTo`; compile64.ts sets it), or undefined: every jump through the loop's `br_table`.
   */
  blk?: number;
  /**
   * The exit census (exit-census.ts) where it is on: emits the count of an exit to `to`, `why` an
   * `ExitKind`, or -1 for a direct exit classified by the instruction and the target's page.
   */
  census?: (to: number, why: number) => void;
}

/** Leaves the function: `count` more instructions retired, RIP `to` (`why`: the census's kind, -1 direct). */
export function exitNormal(c: WasmCtx, to: number, count: number, why = -1): void {
  const { f, l } = c;
  c.census?.(to, why);
  if (count !== 0) f.get(l.n).i32(count).op(Op.i32Add).set(l.n);
  f.i32(to).set(l.next).br('exit');
}

/** Leaves the function at a fault of the current instruction (the ones before it retired). */
export function exitFault(c: WasmCtx): void {
  const { f, l } = c;
  if (c.j !== 0) f.get(l.n).i32(c.j).op(Op.i32Add).set(l.n);
  f.i32(c.k).set(l.k).i32(1).set(l.kind).br('exit');
}

/**
 * After a call into JS: a fault (EXITREQ 1) leaves at once; an event check due or the code page
 * gone (2) leaves after the instruction (`ck`, tested by `afterMemory`).
 */
export function checkCall(c: WasmCtx): void {
  const { f, l } = c;
  f.i32(0).mem(Op.i32Load, ST_EXITREQ).tee(l.t).i32(1).op(Op.i32Eq).open(Op.if);
  exitFault(c);
  f.end();
  f.get(l.ck).get(l.t).op(Op.i32Or).set(l.ck);
}

/** After an instruction that may have taken a slow memory path: leave if it asked to. */
export function afterMemory(c: WasmCtx): void {
  c.f.get(c.l.ck).open(Op.if);
  exitNormal(c, c.next, c.j + 1, ExitKind.AfterSlowPath);
  c.f.end();
}

/** Pushes the 32-bit effective address of `i` (Cpu.ea: disp + base + index << scale, mod 2^32). */
function ea(c: WasmCtx, i: Insn): void {
  const { f, l } = c;
  f.i32(i.disp | 0);
  if (i.base >= 0) f.get(l.r[i.base]).op(Op.i32Add);
  if (i.index >= 0) {
    f.get(l.r[i.index]);
    if (i.scale !== 0) f.i32(i.scale).op(Op.i32Shl);
    f.op(Op.i32Add);
  }
}

/**
 * Pushes 1 when the access of `size` bytes at `a` (local) in segment `seg` can be made inline,
 * leaving in `x` the TLB slot whose ADDEND makes `a` a host address (arena.ts): QEMU's and v86's
 * one-compare probe. The segment flat (`segMask`, a parameter: 0 with #AC checks on, nothing
 * inline then), and the i64 tag `tags` (TLB_READ or TLB_WRITE) at the CPU's privilege class
 * (P_CLS) of the index of the access's LAST byte equal to the page address of its FIRST byte: a
 * tag is the page address when the interpreter's inline path would take that access (its right,
 * a frame of RAM here, cpu/tlb.ts tlbWasmFill), else -1, which no page address equals; and an
 * access crossing into the next page (or wrapping past 2^32) reads another index, whose tag is
 * another page, so it misses without a page-offset test.
 */
function probe(c: WasmCtx, seg: number, size: number, segMask: number, tags: number): void {
  const { f, l } = c;
  c.segs |= 1 << seg;
  f.get(segMask).i32(seg).op(Op.i32ShrU).i32(1).op(Op.i32And);
  f.get(l.a);
  if (size > 1) f.i32(size - 1).op(Op.i32Add);
  f.i32(9)
    .op(Op.i32ShrU)
    .i32(TLB_MASK << 3)
    .op(Op.i32And)
    .get(P_CLS)
    .op(Op.i32Add)
    .tee(l.x);
  f.mem(Op.i64Load, tags).get(l.a).i32(-4096).op(Op.i32And).op(Op.i64ExtendI32U).op(Op.i64Eq);
  f.op(Op.i32And);
}

/** Pushes the host address of the access `probe` found inline: `a` + the slot's ADDEND. */
function hostAddr(c: WasmCtx): void {
  c.f.get(c.l.a).get(c.l.x).mem(Op.i32Load, TLB_ADDEND).op(Op.i32Add);
}

/**
 * The inline memory path of the memory operand of `i` (32-bit addressing), for emitters that
 * leave every other case to the handler (emit-sse.ts): its linear address into `a`, 1 pushed
 * when an access of `size` bytes (`write`: a store) hits the TLB inline inside one page of RAM,
 * and then the host byte address (in this memory) in `t`. Pushes 0 when there is no inline path.
 */
export function probeHost(c: WasmCtx, i: Insn, size: number, write: boolean): void {
  const { f, l } = c;
  ea(c, i);
  f.set(l.a);
  if (c.ramPages === 0) {
    f.i32(0);
    return;
  }
  probe(c, i.memSeg, size, write ? P_SWM : P_SRM, write ? TLB_WRITE : TLB_READ);
  // The slot's ADDEND (a load inside the TLB area whether or not the probe hit).
  hostAddr(c);
  f.set(l.t);
}

/** Pushes the `size`-byte value (zero-extended) of the memory operand of `i`. */
function memRead(c: WasmCtx, i: Insn, size: number): void {
  const { f, l } = c;
  ea(c, i);
  f.set(l.a);
  if (c.ramPages === 0) {
    f.i32(i.memSeg).get(l.a).i32(size).callImport(IMP_READ);
    checkCall(c);
    return;
  }
  probe(c, i.memSeg, size, P_SRM, TLB_READ);
  f.open(Op.if, '', 0x7f);
  hostAddr(c);
  f.mem(size === 4 ? Op.i32Load : size === 2 ? Op.i32Load16U : Op.i32Load8U, 0);
  f.else();
  f.i32(i.memSeg).get(l.a).i32(size).callImport(IMP_READ);
  checkCall(c);
  f.end();
}

/**
 * Writes local `v` (32 bits) to the memory operand of `i`, the last thing its instruction does:
 * so the slow arm itself leaves when the call asked to (`afterMemory`), and the inline arm tests
 * nothing after the store.
 */
function memWrite32(c: WasmCtx, i: Insn): void {
  const { f, l } = c;
  ea(c, i);
  f.set(l.a);
  const slow = (): void => {
    f.i32(i.memSeg).get(l.a).i32(4).get(l.v).callImport(IMP_WRITE);
    checkCall(c);
    afterMemory(c);
  };
  if (c.ramPages === 0) {
    slow();
    return;
  }
  probe(c, i.memSeg, 4, P_SWM, TLB_WRITE);
  f.open(Op.if);
  hostAddr(c);
  f.get(l.v).mem(Op.i32Store, 0);
  f.else();
  slow();
  f.end();
}

/** Pops a value into register `r` (a 32-bit write: the wrapper clears its upper half, `dm`). */
function setReg(c: WasmCtx, r: number): void {
  const { f, l } = c;
  f.set(l.r[r])
    .get(l.dm)
    .i32(1 << r)
    .op(Op.i32Or)
    .set(l.dm);
}

/** Records a result in the flag locals: kind `kind`, operands in `d` and `x` (locals), result `res`. */
function lazy(c: WasmCtx, kind: number, d: number, x: number, res: number): void {
  const { f, l } = c;
  f.i32(kind).set(l.fo).get(d).set(l.fd).get(x).set(l.fs).get(res).set(l.fr).i32(1).set(l.fp);
  c.pend = kind;
}

type FlagName = 'CF' | 'ZF' | 'SF' | 'OF' | 'PF';
const BIT: Record<FlagName, number> = { CF: 0, PF: 2, ZF: 6, SF: 7, OF: 11 };

/**
 * Pushes flag `fl` as 0/1: from the locals with the kind known (as ../flags.ts flagExpr), else
 * from `bits` (a local holding RFLAGS' arithmetic bits, from the IMP_FLAGS call).
 */
function flag(c: WasmCtx, fl: FlagName, bits: number): void {
  const { f, l } = c;
  const op = c.pend;
  if (bits >= 0) {
    f.get(bits).i32(BIT[fl]).op(Op.i32ShrU).i32(1).op(Op.i32And);
    return;
  }
  // PEND_MAT: CF in bit 0 of `fa` (AF in its bit 4, from the 64-bit forms: emit64.ts), OF in `fs`.
  if (op === PEND_MAT && fl === 'CF') {
    f.get(l.fa).i32(1).op(Op.i32And);
    return;
  }
  if (op === PEND_MAT && fl === 'OF') {
    f.get(l.fs).i32(0).op(Op.i32Ne);
    return;
  }
  switch (fl) {
    case 'ZF':
      f.get(l.fr).op(Op.i32Eqz);
      return;
    case 'SF':
      f.get(l.fr).i32(31).op(Op.i32ShrU);
      return;
    case 'PF':
      f.get(l.fr).i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And).op(Op.i32Eqz);
      return;
    case 'CF':
      if (op === LF_ADD) f.get(l.fr).get(l.fd).op(Op.i32LtU);
      else if (op === LF_SUB) f.get(l.fd).get(l.fs).op(Op.i32LtU);
      else if (op === LF_LOGIC) f.i32(0);
      else f.get(l.fa).i32(0).op(Op.i32Ne);
      return;
    default:
      if (op === LF_ADD || op === LF_INC)
        f.get(l.fd)
          .get(l.fr)
          .op(Op.i32Xor)
          .get(l.fs)
          .get(l.fr)
          .op(Op.i32Xor)
          .op(Op.i32And)
          .i32(31)
          .op(Op.i32ShrU);
      else if (op === LF_SUB || op === LF_DEC)
        f.get(l.fd)
          .get(l.fs)
          .op(Op.i32Xor)
          .get(l.fd)
          .get(l.fr)
          .op(Op.i32Xor)
          .op(Op.i32And)
          .i32(31)
          .op(Op.i32ShrU);
      else f.i32(0);
  }
}

/** The flags' bits in local `d` from the CPU or the locals, whichever `fp` says (a JS call). */
function dynBits(c: WasmCtx): number {
  const { f, l } = c;
  // A record of the forms that compute CF, OF and AF at once (PEND_MAT: every 64-bit ALU form,
  // emit64.ts, and so nearly every record a 64-bit block head meets) in wasm, as `flagBits`'s first
  // arm; any other record, or the flags in the CPU (fp 0), through the import. Before, the bare
  // Debian boot called the import 2.85 M times.
  f.get(l.fp).i32(0).op(Op.i32Ne).get(l.fo).i32(PEND_MAT).op(Op.i32Eq).op(Op.i32And);
  f.open(Op.if, '', I32);
  f.get(l.fa).i32(Flag.CF).op(Op.i32And);
  f.get(l.fs).i32(0).op(Op.i32Ne).i32(11).op(Op.i32Shl).op(Op.i32Or);
  f.get(l.fr).op(Op.i32Eqz).i32(6).op(Op.i32Shl).op(Op.i32Or);
  f.get(l.fr).i32(31).op(Op.i32ShrU).i32(7).op(Op.i32Shl).op(Op.i32Or);
  f.get(l.fr).i32(0xff).op(Op.i32And).op(Op.i32Popcnt).i32(1).op(Op.i32And).op(Op.i32Eqz);
  f.i32(2).op(Op.i32Shl).op(Op.i32Or);
  f.else();
  f.get(l.fp).get(l.fo).get(l.fd).get(l.fs).get(l.fr).get(l.fa).callImport(IMP_FLAGS);
  f.end();
  f.set(l.d);
  return l.d;
}

/** Pushes condition `cc` (SDM Vol. 1 Appendix B) as 0/1. */
export function cond(c: WasmCtx, cc: number): void {
  const { f } = c;
  const bits = c.pend <= 0 ? dynBits(c) : -1;
  const fl = (x: FlagName): void => flag(c, x, bits);
  switch (cc >> 1) {
    case 0:
      fl('OF');
      break;
    case 1:
      fl('CF');
      break;
    case 2:
      fl('ZF');
      break;
    case 3:
      fl('CF');
      fl('ZF');
      f.op(Op.i32Or);
      break;
    case 4:
      fl('SF');
      break;
    case 5:
      fl('PF');
      break;
    case 6:
      fl('SF');
      fl('OF');
      f.op(Op.i32Xor);
      break;
    default:
      fl('ZF');
      fl('SF');
      fl('OF');
      f.op(Op.i32Xor).op(Op.i32Or);
  }
  if (cc & 1) f.op(Op.i32Eqz);
}

/**
 * Control goes to EIP `to` after this block's `length` instructions: jumps to the block of the
 * function that starts there when the budget has room for it (as ../emit.ts emitJump), else
 * leaves; `limit` checks a branch target against the CS limit first (#GP(0) at the branch).
 */
export function goTo(c: WasmCtx, to: number, limit: boolean): void {
  const { f, l } = c;
  const b = c.region.get(to);
  if (b === undefined) {
    if (limit) {
      f.i32(to).get(P_LIM).op(Op.i32GtU).open(Op.if).callImport(IMP_GP0);
      exitFault(c);
      f.end();
    }
    exitNormal(c, to, c.length);
    return;
  }
  f.get(l.n).i32(c.length).op(Op.i32Add).set(l.n);
  f.get(P_ROOM).get(l.n).op(Op.i32Sub).i32(b[1]).op(Op.i32LtU).open(Op.if);
  exitNormal(c, to, 0, ExitKind.Budget);
  f.end();
  // A later block's code starts at the end of its label's `block`, which encloses this one's: a
  // branch there, not the loop's indirect `br_table` (a region's forward blocks jump forward).
  if (c.blk !== undefined && b[0] > c.blk) f.br(`b${b[0]}`);
  else f.i32(b[0]).set(l.bb).br('top');
}

/** Pushes the 32-bit r/m operand (register or memory). */
function loadE(c: WasmCtx, i: Insn): void {
  if (i.mod === 3) c.f.get(c.l.r[i.rm]);
  else memRead(c, i, 4);
}

/**
 * ALU op (ADD OR AND SUB XOR CMP; ADC/SBB are not compiled): `dst` and `src` push the operands,
 * the result goes to register `out` (-1: CMP, none).
 */
function alu(c: WasmCtx, op: number, dst: () => void, src: () => void, out: number): void {
  const { f, l } = c;
  dst();
  f.set(l.d);
  src();
  f.set(l.x);
  f.get(l.d).get(l.x);
  f.op(op === 0 ? Op.i32Add : op === 1 ? Op.i32Or : op === 4 ? Op.i32And : op === 6 ? Op.i32Xor : Op.i32Sub);
  f.set(l.v);
  lazy(c, op === 0 ? LF_ADD : op === 5 || op === 7 ? LF_SUB : LF_LOGIC, l.d, l.x, l.v);
  if (out >= 0) {
    f.get(l.v);
    setReg(c, out);
  }
}

/**
 * SHL/SAL/SHR/SAR r32 by a constant (1…31) or by CL (../emit.ts emitShift32: flags held as
 * PEND_MAT: result, CF the last bit out, OF; a count of 0 by CL changes no flag but writes the
 * register; the flags' kind is then known only at run time, PEND_DYN).
 */
function shift(c: WasmCtx, i: Insn, m: string, ops: string): boolean {
  const { f, l } = c;
  const byCl = ops === 'Ev,CL';
  const k = (ops === 'Ev,1' ? 1 : i.imm) & 0x1f;
  if (!byCl && k === 0) return false;
  const count = (minus: number, from: number): void => {
    if (byCl) {
      if (from !== 0) f.i32(from).get(l.c).op(Op.i32Sub);
      else f.get(l.c).i32(minus).op(Op.i32Sub);
    } else f.i32(from !== 0 ? from - k : k - minus);
  };
  const v = l.v;
  f.get(l.r[i.rm]).set(v);
  if (byCl) {
    f.get(l.r[1]).i32(31).op(Op.i32And).tee(l.c).op(Op.i32Eqz).open(Op.if);
    f.get(v);
    setReg(c, i.rm);
    f.else();
  }
  // r, then cf into fa, of into fs
  if (m === 'SHR') {
    f.get(v);
    count(0, 0);
    f.op(Op.i32ShrU).set(l.d);
    f.get(v);
    count(1, 0);
    f.op(Op.i32ShrU).i32(1).op(Op.i32And).set(l.fa);
    f.get(v).i32(31).op(Op.i32ShrU).set(l.fs);
  } else if (m === 'SAR') {
    f.get(v);
    count(0, 0);
    f.op(Op.i32ShrS).set(l.d);
    f.get(v);
    count(1, 0);
    f.op(Op.i32ShrS).i32(1).op(Op.i32And).set(l.fa);
    f.i32(0).set(l.fs);
  } else {
    f.get(v);
    count(0, 0);
    f.op(Op.i32Shl).set(l.d);
    f.get(v);
    count(0, 32);
    f.op(Op.i32ShrU).i32(1).op(Op.i32And).set(l.fa);
    f.get(l.d).i32(31).op(Op.i32ShrU).get(l.fa).op(Op.i32Xor).set(l.fs);
  }
  f.i32(PEND_MAT).set(l.fo).get(l.d).set(l.fr).i32(1).set(l.fp);
  f.get(l.d);
  setReg(c, i.rm);
  if (byCl) f.end();
  c.pend = byCl ? PEND_DYN : PEND_MAT;
  return true;
}

/** The current CF as 0/1 into local `c` (INC/DEC keep it in `fa`). */
export function cfInto(c: WasmCtx): void {
  const bits = c.pend <= 0 ? dynBits(c) : -1;
  flag(c, 'CF', bits);
  c.f.set(c.l.c);
}

/**
 * Emits instruction `i` (row `row`); false when this backend does not compile that form. Sets
 * `memory` in `out` when it may have taken a slow memory path, `branch` when it ended the block.
 */
export function emitInsnWasm(
  c: WasmCtx,
  i: Insn,
  row: OpcodeRow,
  out: { memory: boolean; branch: boolean },
): boolean {
  const { f, l } = c;
  const m = row.mnemonic;
  const ops = row.operands;
  out.memory = false;
  out.branch = false;
  if (m === 'JCC' || m === 'JMP') {
    if ((ops !== 'Jb' && ops !== 'Jz') || i.opSize !== 4) return false;
    const t = (c.next + i.imm) >>> 0;
    out.branch = true;
    if (m === 'JMP') {
      goTo(c, t, true);
      return true;
    }
    cond(c, i.op & 0xf);
    f.open(Op.if);
    goTo(c, t, true);
    f.else();
    goTo(c, c.next, false);
    f.end();
    return true;
  }
  if (i.opSize !== 4 || i.lock || i.rex !== 0) return false;
  const mem = i.hasModrm && i.mod !== 3;
  if (mem && (i.adSize !== 4 || i.ripRel)) return false;
  out.memory = mem;
  const op = ALU_OPS.indexOf(m);
  if (op >= 0 && op !== 2 && op !== 3) {
    const imm = (): void => void f.i32(i.imm | 0);
    if (ops === 'Ev,Gv') {
      if (mem && op !== 7) return false; // read-modify-write: left to the JS backend
      alu(
        c,
        op,
        () => loadE(c, i),
        () => void f.get(l.r[i.reg]),
        op === 7 ? -1 : i.rm,
      );
    } else if (ops === 'Gv,Ev')
      alu(
        c,
        op,
        () => void f.get(l.r[i.reg]),
        () => loadE(c, i),
        op === 7 ? -1 : i.reg,
      );
    else if (ops === 'eAX,Iz') alu(c, op, () => void f.get(l.r[0]), imm, op === 7 ? -1 : 0);
    else if (ops === 'Ev,Iz' || ops === 'Ev,IbS') {
      if (mem && op !== 7) return false;
      alu(c, op, () => loadE(c, i), imm, op === 7 ? -1 : i.rm);
    } else return false;
    return true;
  }
  if (m === 'TEST') {
    if (ops === 'Ev,Gv')
      alu(
        c,
        4,
        () => loadE(c, i),
        () => void f.get(l.r[i.reg]),
        -1,
      );
    else if (ops === 'eAX,Iz')
      alu(
        c,
        4,
        () => void f.get(l.r[0]),
        () => void f.i32(i.imm | 0),
        -1,
      );
    else if (ops === 'Ev,Iz')
      alu(
        c,
        4,
        () => loadE(c, i),
        () => void f.i32(i.imm | 0),
        -1,
      );
    else return false;
    return true;
  }
  if (m === 'INC' || m === 'DEC') {
    if (ops !== 'Zv' && !(ops === 'Ev' && !mem)) return false;
    cfInto(c);
    f.get(l.r[i.rm]).set(l.d).i32(1).set(l.x);
    f.get(l.d)
      .i32(1)
      .op(m === 'DEC' ? Op.i32Sub : Op.i32Add)
      .set(l.v);
    f.get(l.c).set(l.fa);
    lazy(c, m === 'DEC' ? LF_DEC : LF_INC, l.d, l.x, l.v);
    f.get(l.v);
    setReg(c, i.rm);
    return true;
  }
  if (m === 'MOV') {
    if (ops === 'Ev,Gv') {
      f.get(l.r[i.reg]);
      if (mem) {
        f.set(l.v);
        memWrite32(c, i);
        out.memory = false;
      } else setReg(c, i.rm);
      return true;
    }
    if (ops === 'Gv,Ev') {
      loadE(c, i);
      setReg(c, i.reg);
      return true;
    }
    if (ops === 'Zv,Iv' || ops === 'Ev,Iz') {
      f.i32(i.imm | 0);
      if (mem) {
        f.set(l.v);
        memWrite32(c, i);
        out.memory = false;
      } else setReg(c, ops === 'Zv,Iv' ? i.rm : i.rm);
      return true;
    }
    return false;
  }
  if (m === 'LEA') {
    if (!mem) return false;
    out.memory = false;
    ea(c, i);
    setReg(c, i.reg);
    return true;
  }
  if (m === 'MOVZX' || m === 'MOVSX') {
    const byte = ops.endsWith('Eb');
    if (mem) memRead(c, i, byte ? 1 : 2);
    else if (!byte) f.get(l.r[i.rm]).i32(0xffff).op(Op.i32And);
    else if (i.rm < 4) f.get(l.r[i.rm]).i32(0xff).op(Op.i32And);
    else
      f.get(l.r[i.rm - 4])
        .i32(8)
        .op(Op.i32ShrU)
        .i32(0xff)
        .op(Op.i32And);
    if (m === 'MOVSX') f.op(byte ? Op.i32Extend8S : Op.i32Extend16S);
    setReg(c, i.reg);
    return true;
  }
  if (m === 'IMUL3' || m === 'IMUL2') {
    // The low half; CF = OF = the signed product did not fit in 32 bits (SDM Vol. 2 IMUL), held
    // as PEND_MAT with AF clear (exec/alu.ts mulFlags).
    loadE(c, i);
    f.set(l.d);
    if (m === 'IMUL3') f.i32(i.imm | 0);
    else f.get(l.r[i.reg]);
    f.set(l.x);
    f.get(l.d).get(l.x).op(Op.i32Mul).set(l.v);
    f.get(l.d).op(Op.i64ExtendI32S).get(l.x).op(Op.i64ExtendI32S).op(Op.i64Mul);
    f.get(l.v).op(Op.i64ExtendI32S).op(Op.i64Ne).tee(l.fa).set(l.fs);
    f.i32(PEND_MAT).set(l.fo).get(l.v).set(l.fr).i32(1).set(l.fp);
    f.get(l.v);
    setReg(c, i.reg);
    c.pend = PEND_MAT;
    return true;
  }
  if ((m === 'SHL' || m === 'SAL' || m === 'SHR' || m === 'SAR') && !mem && ops.startsWith('Ev'))
    return shift(c, i, m === 'SAL' ? 'SHL' : m, ops);
  if (m === 'NOP' && !mem) return true;
  return false;
}

/** RFLAGS' arithmetic bits (CF PF ZF SF OF; AF is not read by conditions) from a flag record. */
export function flagBits(fo: number, fd: number, fs: number, fr: number, fa: number): number {
  const r = fr >>> 0;
  const d = fd >>> 0;
  const s = fs >>> 0;
  let cf: boolean;
  let of: boolean;
  if (fo === PEND_MAT) {
    cf = (fa & 1) !== 0;
    of = fs !== 0;
  } else {
    cf = fo === LF_ADD ? r < d : fo === LF_SUB ? d < s : fo === LF_LOGIC ? false : fa !== 0;
    of =
      fo === LF_ADD || fo === LF_INC
        ? ((d ^ r) & (s ^ r)) >> 31 !== 0
        : fo === LF_SUB || fo === LF_DEC
          ? ((d ^ s) & (d ^ r)) >> 31 !== 0
          : false;
  }
  let b = (cf ? Flag.CF : 0) | (of ? Flag.OF : 0) | (r === 0 ? Flag.ZF : 0) | (r >>> 31 ? Flag.SF : 0);
  let p = r & 0xff;
  p ^= p >>> 4;
  p ^= p >>> 2;
  p ^= p >>> 1;
  if ((p & 1) === 0) b |= Flag.PF;
  return b;
}
