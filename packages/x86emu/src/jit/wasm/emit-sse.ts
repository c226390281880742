/**
 * The SSE/SSE2 forms (and SSSE3's PSHUFB) the wasm backend compiles inline outside 64-bit mode (in
 * 64-bit mode those that name no general register, their memory operands through emit64.ts's
 * probe: `sseInline64`), on WebAssembly's SIMD
 * (v128): the forms of the JS backend's ../emit-sse.ts — moves, packed integer and logic, shifts
 * and shuffles, PMOVMSKB, MOVD, packed and scalar single/double arithmetic and the common
 * conversions — with the same rules. XMM registers and MXCSR are the CPU's own (`state.xmm` and
 * `state.mxcsr` live in the function's memory at XMM and MXCSR: arena.ts `moveSse`), so an
 * instruction is a few `v128.load`/`v128.store`s around one or two SIMD operations.
 *
 * Exactness as in the JS backend: each instruction first checks everything that could make it
 * differ from the plain case — SSE unusable (CR0.EM/TS set or CR4.OSFXSR clear: #UD/#NM; the
 * wrapper puts that test's result at SSE_OK for each call, as no instruction a block may hold
 * changes CR0 or CR4), a memory operand off the inline TLB path or misaligned for an aligned form,
 * MXCSR other than round-to-nearest with PE masked, an input or result that is a NaN, an
 * infinity, a denormal or near the overflow/underflow thresholds, an out-of-range conversion —
 * and where any holds, the interpreter's handler runs the instruction instead (handler-call.ts,
 * from the same state: nothing was written), so every fault, flag and NaN rule stays the
 * handler's. That is why wasm's own NaN results (not x86's) and its min/max never show: those
 * lanes never take the inline path. PE is computed: TwoSum's error term (in the lanes' own
 * precision: exact, as the sum is clear of overflow) for sums and differences, products of singles
 * exactly in doubles, a conversion compared with its inverse; MULPD/MULSD and the divisions run
 * inline only once PE is set. None of these forms writes RFLAGS, so the flag record in the
 * locals stays where it was around the handler's call.
 */
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { MXCSR, SSE_OK, XMM } from './arena.js';
import { probeHost, type WasmCtx } from './emit.js';
import { type Ctx64, probeHost64 } from './emit64.js';
import { F64, type FuncWriter, I32, Op, Simd, V128 } from './encode.js';
import { emitHandlerCall } from './handler-call.js';

/** The locals the SSE forms add to a function (made at its first SSE form). */
interface SseLocals {
  a: number;
  b: number;
  r: number;
  t: number;
  s: number;
  d: number;
  fp: number;
}
const sseLocals = new WeakMap<FuncWriter, SseLocals>();
function locals(f: FuncWriter): SseLocals {
  let l = sseLocals.get(f);
  if (l === undefined) {
    l = {
      a: f.local(V128),
      b: f.local(V128),
      r: f.local(V128),
      t: f.local(V128),
      s: f.local(F64),
      d: f.local(I32),
      fp: f.local(I32),
    };
    sseLocals.set(f, l);
  }
  return l;
}

const MIN32 = 1.1754943508222875e-38;
const MAX32 = 3.4028234663852886e38;
const MIN64 = 2.2250738585072014e-308;
const MAX64 = 1.7976931348623157e308;
const F64_BITS = new Float64Array(1);
const F64_WORDS = new Uint32Array(F64_BITS.buffer);
const F32_BITS = new Float32Array(1);
const F32_WORD = new Uint32Array(F32_BITS.buffer);

/** Pushes `v` in every lane (`single`: f32x4, else f64x2) as a constant. */
function splat(f: FuncWriter, v: number, single: boolean): void {
  if (single) {
    F32_BITS[0] = v;
    const w = F32_WORD[0];
    f.v128(w, w, w, w);
    return;
  }
  F64_BITS[0] = v;
  f.v128(F64_WORDS[0], F64_WORDS[1], F64_WORDS[0], F64_WORDS[1]);
}

/** What one form's emission knows: the context, its locals, its width. */
interface Em {
  c: WasmCtx;
  f: FuncWriter;
  s: SseLocals;
  /** A 64-bit function's (emit64.ts `Ctx64`): memory operands through its 64-bit probe. */
  long: boolean;
}

/** Pushes XMMn. */
const loadX = (e: Em, n: number): void => void e.f.i32(0).simdMem(Simd.v128Load, XMM + 16 * n);
/** Stores local `v` into XMMn. */
const storeX = (e: Em, n: number, v: number): void =>
  void e.f
    .i32(0)
    .get(v)
    .simdMem(Simd.v128Store, XMM + 16 * n);

/** Leaves for the handler unless the i32 on the stack is non-zero. */
const guard = (e: Em): void => void e.f.op(Op.i32Eqz).brIf('sse_slow');

/** The SSE_OK test (CR0.EM, CR0.TS clear and CR4.OSFXSR set: exec/x87/fpu-checks.ts checkSse). */
const guardSok = (e: Em): void => {
  e.f.i32(0).mem(Op.i32Load, SSE_OK);
  guard(e);
};

/** Pushes MXCSR. */
const mxcsr = (e: Em): void => void e.f.i32(0).mem(Op.i32Load, MXCSR);

/**
 * MXCSR round to nearest with PE masked (`(MXCSR & 0x7000) === 0x1000`; with `pe`, PE set as
 * well). The inline paths take only plain inputs and results (no NaN, infinity, denormal,
 * overflow or underflow), so the other masks, DAZ and FTZ cannot matter there and PE is the only
 * flag they can raise.
 */
function guardPlain(e: Em, pe: boolean): void {
  const f = e.f;
  mxcsr(e);
  f.i32(pe ? 0x7020 : 0x7000)
    .op(Op.i32And)
    .i32(pe ? 0x1020 : 0x1000)
    .op(Op.i32Eq);
  guard(e);
}

/**
 * MXCSR.PM set and DAZ clear (`(MXCSR & 0x1040) === 0x1000`), for the truncating conversions:
 * they ignore the rounding control but take denormal inputs, which DAZ reads as zeros (exact: no
 * PE) where truncation drops them (PE). The real CPU raises no PE for CVTTSD2SI of a denormal
 * under DAZ (the long64 x87/SSE difftest, seed 424242).
 */
function guardTruncating(e: Em): void {
  mxcsr(e);
  e.f.i32(0x1040).op(Op.i32And).i32(0x1000).op(Op.i32Eq);
  guard(e);
}

/** Sets MXCSR.PE when the i32 on the stack is non-zero. */
function setPeIf(e: Em): void {
  const f = e.f;
  f.open(Op.if);
  f.i32(0);
  mxcsr(e);
  f.i32(32).op(Op.i32Or).mem(Op.i32Store, MXCSR);
  f.end();
}

/**
 * The memory operand of `i`, `n` bytes (`align`: 16-byte aligned, #GP otherwise): the inline path
 * or the handler; host address in the context's `t` local after.
 */
function guardMem(e: Em, i: Insn, n: number, write: boolean, align: boolean): void {
  const { c, f } = e;
  if (e.long) {
    const c64 = c as Ctx64;
    probeHost64(c64, i, n, write);
    // The offset and the linear address (they differ by FS's or GS's base) both aligned (the host
    // address has the linear one's low bits): else the handler, whose check raises #GP or not.
    if (align)
      f.get(c64.q.a)
        .op(Op.i32WrapI64)
        .get(c.l.t)
        .op(Op.i32Or)
        .i32(15)
        .op(Op.i32And)
        .op(Op.i32Eqz)
        .op(Op.i32And);
  } else {
    probeHost(c, i, n, write);
    if (align) f.get(c.l.a).i32(15).op(Op.i32And).op(Op.i32Eqz).op(Op.i32And);
  }
  guard(e);
}

/**
 * The xmm/m source of `i` (`n` bytes: 4 or 8 loaded into the low lanes, the rest zero; 16
 * aligned when `align`), pushed after its guards.
 */
function guardSource(e: Em, i: Insn, n: number, align: boolean): () => void {
  guardSok(e);
  if (i.mod === 3) return () => loadX(e, i.rm);
  guardMem(e, i, n, false, align && n === 16);
  const t = e.c.l.t;
  const op = n === 16 ? Simd.v128Load : n === 8 ? Simd.v128Load64Zero : Simd.v128Load32Zero;
  // The host address is in an i32 local that the next form may reuse: load it into a v128 now.
  e.f.get(t).simdMem(op, 0).set(e.s.b);
  return () => void e.f.get(e.s.b);
}

/**
 * Pops a value into guest register `r` (a 32-bit write: the wrapper clears its upper half, `dm`;
 * in a 64-bit function the register's i64 local, zero-extended: SDM Vol. 1 3.4.1.1).
 */
function setReg(e: Em, r: number): void {
  const { f, c } = e;
  if (e.long) {
    f.op(Op.i64ExtendI32U).set((c as Ctx64).q.q[r]);
    return;
  }
  f.set(c.l.r[r])
    .get(c.l.dm)
    .i32(1 << r)
    .op(Op.i32Or)
    .set(c.l.dm);
}

/** Pushes the low 32 bits of guest register `r`. */
function getReg(e: Em, r: number): void {
  if (e.long) e.f.get((e.c as Ctx64).q.q[r]).op(Op.i32WrapI64);
  else e.f.get(e.c.l.r[r]);
}

/** MOVAPS/MOVAPD/MOVDQA (aligned), MOVUPS/MOVUPD/MOVDQU: xmm ← xmm/m128, or xmm/m128 ← xmm. */
function emitMove(e: Em, i: Insn, row: OpcodeRow, align: boolean): void {
  const f = e.f;
  const store = row.operands.startsWith('W');
  guardSok(e);
  if (i.mod === 3) {
    const [d, s] = store ? [i.rm, i.reg] : [i.reg, i.rm];
    loadX(e, s);
    f.set(e.s.r);
    storeX(e, d, e.s.r);
    return;
  }
  guardMem(e, i, 16, store, align);
  if (store) {
    f.get(e.c.l.t);
    loadX(e, i.reg);
    f.simdMem(Simd.v128Store, 0);
  } else {
    f.get(e.c.l.t).simdMem(Simd.v128Load, 0).set(e.s.r);
    storeX(e, i.reg, e.s.r);
  }
}

/**
 * MOVSS/MOVSD (`n` = 1 or 2 dwords) and MOVQ xmm (`n` = 2, `zero`: the upper half cleared from a
 * register too): a load from memory clears the rest of the register, a register-to-register move
 * keeps it (MOVSS/MOVSD) or clears it (MOVQ); a store writes `n` dwords.
 */
function emitMovScalar(e: Em, i: Insn, row: OpcodeRow, n: number, zero: boolean): void {
  const f = e.f;
  const store = row.operands.startsWith('W');
  guardSok(e);
  if (i.mod === 3) {
    const [d, s] = store ? [i.rm, i.reg] : [i.reg, i.rm];
    if (zero) {
      loadX(e, s);
      f.v128(-1, -1, 0, 0).simd(Simd.v128And);
    } else {
      loadX(e, d);
      loadX(e, s);
      if (n === 1) f.lane(Simd.i32x4ExtractLane, 0).lane(Simd.i32x4ReplaceLane, 0);
      else f.lane(Simd.i64x2ExtractLane, 0).lane(Simd.i64x2ReplaceLane, 0);
    }
    f.set(e.s.r);
    storeX(e, d, e.s.r);
    return;
  }
  guardMem(e, i, 4 * n, store, false);
  f.get(e.c.l.t);
  if (store) {
    loadX(e, i.reg);
    if (n === 1) f.lane(Simd.i32x4ExtractLane, 0).mem(Op.i32Store, 0);
    else f.lane(Simd.i64x2ExtractLane, 0).mem(Op.i64Store, 0);
    return;
  }
  f.simdMem(n === 1 ? Simd.v128Load32Zero : Simd.v128Load64Zero, 0).set(e.s.r);
  storeX(e, i.reg, e.s.r);
}

/** Dword indices of a shuffle of x (0…3) and y (4…7) as its byte lanes. */
const dwords = (d: readonly number[]): number[] => d.flatMap((k) => [4 * k, 4 * k + 1, 4 * k + 2, 4 * k + 3]);

/**
 * The packed forms `Vdq,Wdq` over whole registers: the result from x (the destination) and y
 * (the source), pushed in that order first unless the entry says `yx`.
 */
const PACKED: Record<string, (f: FuncWriter) => void> = {
  PXOR: (f) => f.simd(Simd.v128Xor),
  PAND: (f) => f.simd(Simd.v128And),
  POR: (f) => f.simd(Simd.v128Or),
  PADDD: (f) => f.simd(Simd.i32x4Add),
  PSUBD: (f) => f.simd(Simd.i32x4Sub),
  PADDQ: (f) => f.simd(Simd.i64x2Add),
  PSUBQ: (f) => f.simd(Simd.i64x2Sub),
  PCMPEQD: (f) => f.simd(Simd.i32x4Eq),
  PCMPEQB: (f) => f.simd(Simd.i8x16Eq),
  // PSHUFB (SSSE3; exec/sse/shuffle.ts): byte k of x at y[k] & 15, 0 where y[k] bit 7 is set;
  // i8x16.swizzle gives 0 for an index past 15, so bits 6:4 cleared and bit 7 kept do both.
  PSHUFB: (f) =>
    f.v128(0x8f8f8f8f, 0x8f8f8f8f, 0x8f8f8f8f, 0x8f8f8f8f).simd(Simd.v128And).simd(Simd.i8x16Swizzle),
  // Byte and word lanes (user space's SSE2 string functions: strlen's PCMPEQB/PMOVMSKB, memchr's
  // PSUBB and PMINUB, the unpacks of its byte splats). PCMPGT* compare signed, as x86's.
  PADDB: (f) => f.simd(Simd.i8x16Add),
  PSUBB: (f) => f.simd(Simd.i8x16Sub),
  PADDW: (f) => f.simd(Simd.i16x8Add),
  PSUBW: (f) => f.simd(Simd.i16x8Sub),
  PCMPEQW: (f) => f.simd(Simd.i16x8Eq),
  PCMPGTB: (f) => f.simd(Simd.i8x16GtS),
  PCMPGTW: (f) => f.simd(Simd.i16x8GtS),
  PCMPGTD: (f) => f.simd(Simd.i32x4GtS),
  PMINUB: (f) => f.simd(Simd.i8x16MinU),
  PMAXUB: (f) => f.simd(Simd.i8x16MaxU),
  // The unpacks interleave the destination's (bytes 0–15) and the source's (16–31) low or high halves.
  PUNPCKLBW: (f) => f.shuffle([0, 1, 2, 3, 4, 5, 6, 7].flatMap((k) => [k, 16 + k])),
  PUNPCKHBW: (f) => f.shuffle([8, 9, 10, 11, 12, 13, 14, 15].flatMap((k) => [k, 16 + k])),
  PUNPCKLWD: (f) => f.shuffle([0, 1, 2, 3].flatMap((k) => [2 * k, 2 * k + 1, 16 + 2 * k, 17 + 2 * k])),
  PUNPCKHWD: (f) => f.shuffle([4, 5, 6, 7].flatMap((k) => [2 * k, 2 * k + 1, 16 + 2 * k, 17 + 2 * k])),
  PUNPCKLDQ: (f) => f.shuffle(dwords([0, 4, 1, 5])),
  PUNPCKHDQ: (f) => f.shuffle(dwords([2, 6, 3, 7])),
  PUNPCKLQDQ: (f) => f.shuffle(dwords([0, 1, 4, 5])),
  PUNPCKHQDQ: (f) => f.shuffle(dwords([2, 3, 6, 7])),
};
for (const [alias, op] of [
  ['XORPS', 'PXOR'],
  ['XORPD', 'PXOR'],
  ['ANDPS', 'PAND'],
  ['ANDPD', 'PAND'],
  ['ORPS', 'POR'],
  ['ORPD', 'POR'],
  ['UNPCKLPS', 'PUNPCKLDQ'],
  ['UNPCKHPS', 'PUNPCKHDQ'],
  ['UNPCKLPD', 'PUNPCKLQDQ'],
  ['UNPCKHPD', 'PUNPCKHQDQ'],
])
  PACKED[alias] = PACKED[op];

function emitPacked(e: Em, i: Insn, m: string): void {
  const f = e.f;
  const src = guardSource(e, i, 16, true);
  if (m === 'PANDN' || m === 'ANDNPS' || m === 'ANDNPD') {
    // ~x & y: v128.andnot(a, b) is a & ~b.
    src();
    loadX(e, i.reg);
    f.simd(Simd.v128AndNot);
  } else if (m === 'PMULUDQ') {
    // The even lanes' 64-bit products: each operand's odd lanes cleared, i64x2.mul (exact mod 2^64).
    loadX(e, i.reg);
    f.v128(-1, 0, -1, 0).simd(Simd.v128And);
    src();
    f.v128(-1, 0, -1, 0).simd(Simd.v128And).simd(Simd.i64x2Mul);
  } else {
    loadX(e, i.reg);
    src();
    PACKED[m](f);
  }
  f.set(e.s.r);
  storeX(e, i.reg, e.s.r);
}

/** PSLLD/PSRLD/PSRAD/PSLLQ/PSRLQ xmm, imm8 (`Udq,Ib`): counts past the width give 0 (PSRAD: sign). */
function emitShiftImm(e: Em, i: Insn, m: string): void {
  const f = e.f;
  const n = i.imm & 0xff;
  const q = m.endsWith('Q');
  guardSok(e);
  if (n > (q ? 63 : 31) && m !== 'PSRAD') f.v128(0, 0, 0, 0);
  else {
    loadX(e, i.rm);
    f.i32(q ? n : Math.min(n, 31));
    if (q) f.simd(m === 'PSLLQ' ? Simd.i64x2Shl : Simd.i64x2ShrU);
    else f.simd(m === 'PSLLD' ? Simd.i32x4Shl : m === 'PSRLD' ? Simd.i32x4ShrU : Simd.i32x4ShrS);
  }
  f.set(e.s.r);
  storeX(e, i.rm, e.s.r);
}

/** PSHUFD xmm, xmm/m128, imm8: result lane k = source lane imm[2k+1:2k]. */
function emitPshufd(e: Em, i: Insn): void {
  const f = e.f;
  const src = guardSource(e, i, 16, true);
  src();
  f.set(e.s.a).get(e.s.a).get(e.s.a);
  f.shuffle(dwords([0, 1, 2, 3].map((k) => (i.imm >> (2 * k)) & 3)));
  f.set(e.s.r);
  storeX(e, i.reg, e.s.r);
}

/** PMOVMSKB r32, xmm: bit k = bit 7 of byte k. */
function emitPmovmskb(e: Em, i: Insn): void {
  guardSok(e);
  loadX(e, i.rm);
  e.f.simd(Simd.i8x16Bitmask);
  setReg(e, i.reg);
}

/** MOVD xmm, r/m32 (the rest zeroed) and MOVD r/m32, xmm. */
function emitMovd(e: Em, i: Insn, row: OpcodeRow): void {
  const f = e.f;
  guardSok(e);
  if (row.operands.startsWith('E')) {
    if (i.mod === 3) {
      loadX(e, i.reg);
      f.lane(Simd.i32x4ExtractLane, 0);
      setReg(e, i.rm);
      return;
    }
    guardMem(e, i, 4, true, false);
    f.get(e.c.l.t);
    loadX(e, i.reg);
    f.lane(Simd.i32x4ExtractLane, 0).mem(Op.i32Store, 0);
    return;
  }
  f.v128(0, 0, 0, 0);
  if (i.mod === 3) getReg(e, i.rm);
  else {
    guardMem(e, i, 4, false, false);
    f.get(e.c.l.t).mem(Op.i32Load, 0);
  }
  f.lane(Simd.i32x4ReplaceLane, 0).set(e.s.r);
  storeX(e, i.reg, e.s.r);
}

/** Pushes the lanes of local `v` (0/−1 each) that are 0 or normal: no NaN, infinity or denormal. */
function normal(e: Em, v: number, single: boolean): void {
  const f = e.f;
  const [min, max] = single ? [MIN32, MAX32] : [MIN64, MAX64];
  const S = single
    ? { abs: Simd.f32x4Abs, eq: Simd.f32x4Eq, ge: Simd.f32x4Ge, le: Simd.f32x4Le }
    : { abs: Simd.f64x2Abs, eq: Simd.f64x2Eq, ge: Simd.f64x2Ge, le: Simd.f64x2Le };
  f.get(v).simd(S.abs).set(e.s.t);
  f.get(e.s.t);
  splat(f, 0, single);
  f.simd(S.eq);
  f.get(e.s.t);
  splat(f, min, single);
  f.simd(S.ge);
  f.get(e.s.t);
  splat(f, max, single);
  f.simd(S.le).simd(Simd.v128And).simd(Simd.v128Or);
}

/** The i8x16.bitmask bits of the lanes that count: `n` lanes of `single`/double. */
const laneBits = (n: number, single: boolean): number => (1 << (n * (single ? 4 : 8))) - 1;

/** Leaves for the handler unless every counted lane of the mask on the stack is set. */
function guardLanes(e: Em, bits: number): void {
  e.f.simd(Simd.i8x16Bitmask).i32(bits).op(Op.i32And).i32(bits).op(Op.i32Eq);
  guard(e);
}

/**
 * ADD/SUB/MUL/DIV PS/PD/SS/SD (the scalar forms: lane 0, the rest of the destination kept). Per
 * lane, in the lanes' own precision (correctly rounded, so the value x86 gives on the plain
 * path): inputs 0 or normal, a divisor not 0, the result 0 only where exact (a sum, a zero factor
 * or dividend) and otherwise at least twice the smallest normal and finite; PE where inexact.
 */
function emitFp(e: Em, i: Insn, op: '+' | '-' | '*' | '/', single: boolean, scalar: boolean): void {
  const f = e.f;
  const n = scalar ? 1 : single ? 4 : 2;
  const src = guardSource(e, i, scalar ? (single ? 4 : 8) : 16, true);
  // Products of doubles and quotients: inline only once PE is set (their exactness would need an
  // FMA or a remainder).
  guardPlain(e, (op === '*' && !single) || op === '/');
  const S = single
    ? {
        add: Simd.f32x4Add,
        sub: Simd.f32x4Sub,
        mul: Simd.f32x4Mul,
        div: Simd.f32x4Div,
        eq: Simd.f32x4Eq,
        ne: Simd.f32x4Ne,
        ge: Simd.f32x4Ge,
        le: Simd.f32x4Le,
        abs: Simd.f32x4Abs,
        neg: Simd.f32x4Neg,
      }
    : {
        add: Simd.f64x2Add,
        sub: Simd.f64x2Sub,
        mul: Simd.f64x2Mul,
        div: Simd.f64x2Div,
        eq: Simd.f64x2Eq,
        ne: Simd.f64x2Ne,
        ge: Simd.f64x2Ge,
        le: Simd.f64x2Le,
        abs: Simd.f64x2Abs,
        neg: Simd.f64x2Neg,
      };
  const { a, b, r, t } = e.s;
  const [min, max] = single ? [MIN32, MAX32] : [MIN64, MAX64];
  src();
  f.set(b);
  loadX(e, i.reg);
  f.set(a);
  f.get(a)
    .get(b)
    .simd(op === '+' ? S.add : op === '-' ? S.sub : op === '*' ? S.mul : S.div)
    .set(r);
  // ok = normal(a) & normal(b) [& b ≠ 0] & (r = 0 ? zeroOk : 2·min ≤ |r| ≤ max)
  normal(e, a, single);
  normal(e, b, single);
  f.simd(Simd.v128And);
  if (op === '/') {
    f.get(b);
    splat(f, 0, single);
    f.simd(S.ne).simd(Simd.v128And);
  }
  f.get(r);
  splat(f, 0, single);
  f.simd(S.eq);
  // A zero sum of two plain numbers is exact; a zero product only from a zero factor; a zero
  // quotient only from a zero dividend.
  if (op === '*' || op === '/') {
    f.get(a);
    splat(f, 0, single);
    f.simd(S.eq);
    if (op === '*') {
      f.get(b);
      splat(f, 0, single);
      f.simd(S.eq).simd(Simd.v128Or);
    }
    f.simd(Simd.v128And);
  }
  f.get(r).simd(S.abs).set(t);
  f.get(t);
  splat(f, 2 * min, single);
  f.simd(S.ge);
  f.get(t);
  splat(f, max, single);
  f.simd(S.le).simd(Simd.v128And).simd(Simd.v128Or).simd(Simd.v128And);
  const bits = laneBits(n, single);
  guardLanes(e, bits);
  // PE: the lanes whose result is inexact (mask on the stack), then its counted bits.
  if (op === '+' || op === '-') {
    // TwoSum (Knuth): v = r − a; t = (a − (r − v)) + (b' − v), b' = ±b: exactly r's error.
    f.get(r).get(a).simd(S.sub).set(t); // v
    f.get(a).get(r).get(t).simd(S.sub).simd(S.sub);
    f.get(b);
    if (op === '-') f.simd(S.neg);
    f.get(t).simd(S.sub).simd(S.add);
    splat(f, 0, single);
    f.simd(S.ne);
    f.simd(Simd.i8x16Bitmask).i32(bits).op(Op.i32And);
    setPeIf(e);
  } else if (op === '*' && single) {
    // Products of singles are exact in doubles: compare each with its rounded result.
    const wide = (hi: boolean, v: number): void => {
      f.get(v);
      if (hi) f.get(v).shuffle(dwords([2, 3, 2, 3]));
      f.simd(Simd.f64x2PromoteLowF32x4);
    };
    const half = (hi: boolean): void => {
      wide(hi, a);
      wide(hi, b);
      f.simd(Simd.f64x2Mul);
      wide(hi, r);
      f.simd(Simd.f64x2Ne).simd(Simd.i8x16Bitmask);
    };
    half(false);
    if (!scalar) {
      half(true);
      f.op(Op.i32Or);
    } else f.i32(0xff).op(Op.i32And);
    setPeIf(e);
  }
  if (scalar) {
    f.get(a).get(r);
    if (single) f.lane(Simd.i32x4ExtractLane, 0).lane(Simd.i32x4ReplaceLane, 0);
    else f.lane(Simd.i64x2ExtractLane, 0).lane(Simd.i64x2ReplaceLane, 0);
    f.set(r);
  }
  storeX(e, i.reg, r);
}

/** CVTDQ2PS xmm, xmm/m128: each signed lane rounded to single (PE where inexact). */
function emitCvtdq2ps(e: Em, i: Insn): void {
  const f = e.f;
  const { a, r } = e.s;
  const src = guardSource(e, i, 16, true);
  guardPlain(e, false);
  src();
  f.set(a);
  f.get(a).simd(Simd.f32x4ConvertI32x4S).set(r);
  // Exact where the rounded lane, widened, equals the integer (both exact in doubles).
  for (const hi of [false, true]) {
    f.get(a);
    if (hi) f.get(a).shuffle(dwords([2, 3, 2, 3]));
    f.simd(Simd.f64x2ConvertLowI32x4S);
    f.get(r);
    if (hi) f.get(r).shuffle(dwords([2, 3, 2, 3]));
    f.simd(Simd.f64x2PromoteLowF32x4).simd(Simd.f64x2Ne).simd(Simd.i8x16Bitmask);
  }
  f.op(Op.i32Or);
  setPeIf(e);
  storeX(e, i.reg, r);
}

/**
 * CVTTPS2DQ xmm, xmm/m128: truncation; NaN and out-of-range lanes (the integer indefinite and
 * IE) are the handler's; PE where a fraction was dropped.
 */
function emitCvttps2dq(e: Em, i: Insn): void {
  const f = e.f;
  const { a, r } = e.s;
  const src = guardSource(e, i, 16, true);
  // MXCSR.PM set, DAZ clear (truncation ignores the rounding control: guardTruncating).
  guardTruncating(e);
  src();
  f.set(a);
  f.get(a);
  splat(f, -2147483648, true);
  f.simd(Simd.f32x4Ge).get(a);
  splat(f, 2147483648, true);
  f.simd(Simd.f32x4Lt).simd(Simd.v128And);
  guardLanes(e, 0xffff);
  f.get(a).simd(Simd.i32x4TruncSatF32x4S).set(r);
  // The truncated lane is an integer below 2^31 in magnitude that a single holds: exact back.
  f.get(r).simd(Simd.f32x4ConvertI32x4S).get(a).simd(Simd.f32x4Ne).simd(Simd.v128AnyTrue);
  setPeIf(e);
  storeX(e, i.reg, r);
}

/** CVTTSD2SI r32, xmm/m64: truncation; NaN and out-of-range inputs are the handler's; PE as above. */
function emitCvttsd2si(e: Em, i: Insn): void {
  const f = e.f;
  const { s, d } = e.s;
  const src = guardSource(e, i, 8, false);
  guardTruncating(e);
  src();
  f.lane(Simd.f64x2ExtractLane, 0).set(s);
  f.get(s).op(Op.f64Const);
  f64Imm(f, -2147483649);
  f.op(Op.f64Gt).get(s).op(Op.f64Const);
  f64Imm(f, 2147483648);
  f.op(Op.f64Lt).op(Op.i32And);
  guard(e);
  f.get(s).op(Op.i32TruncF64S).set(d);
  f.get(d).op(Op.f64ConvertI32S).get(s).op(Op.f64Ne);
  setPeIf(e);
  f.get(d);
  setReg(e, i.reg);
}

/** The 8 bytes of an f64.const's immediate. */
function f64Imm(f: FuncWriter, v: number): void {
  F64_BITS[0] = v;
  const b = new Uint8Array(F64_BITS.buffer);
  for (let k = 0; k < 8; k++) f.code.push(b[k]);
}

/** CVTPS2PD xmm, xmm/m64: two singles widened (exact); NaN and denormal inputs are the handler's. */
function emitCvtps2pd(e: Em, i: Insn): void {
  const f = e.f;
  const { a, r } = e.s;
  const src = guardSource(e, i, 8, false);
  src();
  f.set(a);
  normal(e, a, true);
  guardLanes(e, 0xff);
  f.get(a).simd(Simd.f64x2PromoteLowF32x4).set(r);
  storeX(e, i.reg, r);
}

/** CVTSI2SD xmm, r/m32: exact; the upper lane kept. */
function emitCvtsi2sd(e: Em, i: Insn): void {
  const f = e.f;
  guardSok(e);
  if (i.mod !== 3) guardMem(e, i, 4, false, false);
  loadX(e, i.reg);
  if (i.mod === 3) getReg(e, i.rm);
  else f.get(e.c.l.t).mem(Op.i32Load, 0);
  f.op(Op.f64ConvertI32S).lane(Simd.f64x2ReplaceLane, 0).set(e.s.r);
  storeX(e, i.reg, e.s.r);
}

/**
 * CVTSI2SS xmm, r/m32: rounded to single (round to nearest with PE masked: MXCSR's default), PE
 * where inexact; the upper lanes kept.
 */
function emitCvtsi2ss(e: Em, i: Insn): void {
  const f = e.f;
  const { d } = e.s;
  guardSok(e);
  if (i.mod !== 3) guardMem(e, i, 4, false, false);
  guardPlain(e, false);
  if (i.mod === 3) getReg(e, i.rm);
  else f.get(e.c.l.t).mem(Op.i32Load, 0);
  f.set(d);
  loadX(e, i.reg);
  f.get(d).op(Op.f32ConvertI32S).lane(Simd.f32x4ReplaceLane, 0).set(e.s.r);
  // Inexact where the single, widened, is not the integer (both exact in doubles).
  f.get(e.s.r).lane(Simd.f32x4ExtractLane, 0).op(Op.f64PromoteF32).get(d).op(Op.f64ConvertI32S).op(Op.f64Ne);
  setPeIf(e);
  storeX(e, i.reg, e.s.r);
}

type Emitter = (e: Em, i: Insn, row: OpcodeRow) => void;

/** The inlined SIMD forms by mnemonic (XMM forms only: an MMX form is the handler's). */
const EMITTERS: Record<string, Emitter> = {
  MOVAPS: (e, i, row) => emitMove(e, i, row, true),
  MOVAPD: (e, i, row) => emitMove(e, i, row, true),
  MOVDQA: (e, i, row) => emitMove(e, i, row, true),
  MOVUPS: (e, i, row) => emitMove(e, i, row, false),
  MOVUPD: (e, i, row) => emitMove(e, i, row, false),
  MOVDQU: (e, i, row) => emitMove(e, i, row, false),
  MOVSS: (e, i, row) => emitMovScalar(e, i, row, 1, false),
  MOVSD: (e, i, row) => emitMovScalar(e, i, row, 2, false),
  MOVQ_XMM: (e, i, row) => emitMovScalar(e, i, row, 2, true),
  PSHUFD: (e, i) => emitPshufd(e, i),
  PMOVMSKB: (e, i) => emitPmovmskb(e, i),
  MOVD: (e, i, row) => emitMovd(e, i, row),
  CVTDQ2PS: (e, i) => emitCvtdq2ps(e, i),
  CVTTPS2DQ: (e, i) => emitCvttps2dq(e, i),
  CVTTSD2SI: (e, i) => emitCvttsd2si(e, i),
  CVTPS2PD: (e, i) => emitCvtps2pd(e, i),
  CVTSI2SD: (e, i) => emitCvtsi2sd(e, i),
  CVTSI2SS: (e, i) => emitCvtsi2ss(e, i),
};
for (const [m, op] of [
  ['ADD', '+'],
  ['SUB', '-'],
  ['MUL', '*'],
  ['DIV', '/'],
] as const) {
  EMITTERS[`${m}PS`] = (e, i) => emitFp(e, i, op, true, false);
  EMITTERS[`${m}PD`] = (e, i) => emitFp(e, i, op, false, false);
  EMITTERS[`${m}SS`] = (e, i) => emitFp(e, i, op, true, true);
  EMITTERS[`${m}SD`] = (e, i) => emitFp(e, i, op, false, true);
}
for (const m of [...Object.keys(PACKED), 'PANDN', 'ANDNPS', 'ANDNPD', 'PMULUDQ'])
  EMITTERS[m] = (e, i) => emitPacked(e, i, m);
const SHIFTS = ['PSLLD', 'PSRLD', 'PSRAD', 'PSLLQ', 'PSRLQ'];
for (const m of SHIFTS) EMITTERS[m] = (e, i) => emitShiftImm(e, i, m);

/** Whether `emitSseWasm` compiles `i` (row `row`) inline. */
export function sseInline(i: Insn, row: OpcodeRow): boolean {
  if (row.pfx === undefined || i.lock || i.rex !== 0) return false;
  const e = EMITTERS[row.mnemonic];
  if (e === undefined) return false;
  const ops = row.operands;
  // MMX forms (operands P/Q/N) and the shifts' MMX or register-count rows are the handler's.
  if (ops.includes('P') || ops.includes('Q') || ops.includes('N')) return false;
  if (SHIFTS.includes(row.mnemonic) && ops !== 'Udq,Ib') return false;
  // Memory operands: 32-bit addressing, the inline TLB path (16-bit addressing is the handler's).
  if (i.hasModrm && i.mod !== 3 && (i.adSize !== 4 || i.ripRel)) return false;
  return true;
}

/**
 * Whether `emitSseWasm64` compiles `i` in 64-bit mode (compile64.ts): the forms of `sseInline`,
 * XMM8…XMM15 through REX.R/REX.B, memory operands with 64-bit addressing through emit64.ts's
 * probe (`probeHost64`: FS:/GS: and RIP-relative too), a general register operand (PMOVMSKB,
 * MOVD, CVTTSD2SI, CVTSI2SS/SD: 32 bits of it) in the function's i64 locals (`setReg`, `getReg`);
 * REX.W (which turns some of them into other instructions) is the handler's. Debian's kernel runs
 * blake2s (its entropy pool's hash) on them: 6.6 M handler calls on the boot before the register
 * forms, and then 2.4 M of its MOVD xmm, m32 (the message words) and 0.6 M of its PSHUFB (the
 * rotates by 8 and 16) before these; its user space's SSE2 string functions (PCMPEQB, PMOVMSKB,
 * PSUBB, the byte unpacks) 0.6 M more at threshold 5,000 before the byte lanes and the general
 * register forms.
 */
export function sseInline64(i: Insn, row: OpcodeRow): boolean {
  if (row.pfx === undefined || i.lock || (i.rex & 8) !== 0 || !i.hasModrm) return false;
  const mem = i.mod !== 3;
  if (mem && i.adSize !== 8) return false;
  if (EMITTERS[row.mnemonic] === undefined) return false;
  const ops = row.operands;
  if (ops.includes('P') || ops.includes('Q') || ops.includes('N')) return false;
  return !SHIFTS.includes(row.mnemonic) || ops === 'Udq,Ib';
}

/**
 * `emitSseWasm` in a 64-bit function: `slow` emits the handler's call (compile64.ts, which records
 * the site); false, having emitted nothing, for a form `sseInline64` refuses.
 */
export function emitSseWasm64(c: WasmCtx, i: Insn, row: OpcodeRow, slow: () => void): boolean {
  if (!sseInline64(i, row)) return false;
  emitSseBody(c, i, row, slow, true);
  return true;
}

/**
 * Emits `i` (row `row`) inline, the interpreter's handler (call site `site`: the caller records
 * it, handler-call.ts) where the inline path's conditions fail; false, having emitted nothing,
 * for a form it does not compile (`sseInline`).
 */
export function emitSseWasm(c: WasmCtx, i: Insn, row: OpcodeRow, site: number): boolean {
  if (!sseInline(i, row)) return false;
  emitSseBody(c, i, row, () => emitHandlerCall(c, site, false), false);
  return true;
}

/** The form's inline path, and `slow` (its handler's call) where the path's checks fail. */
function emitSseBody(c: WasmCtx, i: Insn, row: OpcodeRow, slow: () => void, long: boolean): void {
  const f = c.f;
  const e: Em = { c, f, s: locals(f), long };
  f.open(Op.block, 'sse_done');
  f.open(Op.block, 'sse_slow');
  EMITTERS[row.mnemonic](e, i, row);
  f.br('sse_done');
  f.end();
  // The handler, from the state the checks found: nothing was written. It writes no flag, so the
  // locals' flag record stays valid (`fp` and `pend` as before the call, which stored it).
  const pend = c.pend;
  f.get(c.l.fp).set(e.s.fp);
  slow();
  f.get(e.s.fp).set(c.l.fp);
  c.pend = pend;
  f.end();
}
