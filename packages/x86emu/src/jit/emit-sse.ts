/**
 * JavaScript source for the SSE/SSE2 instructions the block compiler inlines: moves, packed
 * integer and logic, shifts and shuffles, PMOVMSKB, MOVD, packed and scalar single/double
 * arithmetic and the common conversions, each as its interpreter handler computes it
 * (exec/sse/*, exec/sse-fp/*). XMM registers are the interpreter's own bytes (`state.xmm`,
 * XMMn at byte 16n) seen through typed views made once per register file (`xmmViews`), so an
 * instruction is a few typed-array loads and stores; memory operands go through the TLB fast
 * path inline (flat segment, hit, inside one page).
 *
 * Exactness by bailing out: each emitted instruction first checks everything that could make it
 * differ from the plain case — SSE unusable (CR0.EM/TS, CR4.OSFXSR: #UD/#NM), a memory operand
 * off the fast path or misaligned for an aligned form (#GP, #PF, MMIO, page splits), an MXCSR
 * other than "all exceptions masked, round to nearest, no DAZ/FTZ", an input or result that is a
 * NaN, an infinity, a denormal or near the overflow/underflow thresholds (flags other than PE,
 * or #XM when unmasked) — and if any holds, writes nothing and leaves the block at this
 * instruction (`/*BAIL*\/`, which compile.ts fills with the register stores, the flag flush,
 * RIP and the instruction count), so the interpreter runs it from the start: every fault,
 * flag and NaN rule stays the interpreter's. PE (precision, bit 5 of MXCSR) is computed here:
 * error-free sums (TwoSum) for additions, exact products of singles in doubles; MULPD/MULSD run
 * inline only once PE is already set (its sticky bit needs no new computation).
 */
import { TLB_MASK } from '../cpu/consts.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { type EmitCtx, type Emitted, ea32, memOk, memRead, memWrite, setReg32 } from './emit.js';
import { ea64, memHit64, memOk64, memSlot64 } from './mem64.js';

/** Typed views of one XMM register file and a 16-byte scratch operand (`T*`). */
export interface XmmViews {
  x8: Uint8Array;
  x32: Uint32Array;
  xi32: Int32Array;
  xf32: Float32Array;
  xf64: Float64Array;
  t8: Uint8Array;
  t32: Uint32Array;
  ti32: Int32Array;
  tf32: Float32Array;
  tf64: Float64Array;
}

const views = new WeakMap<Uint8Array, XmmViews>();
/** The last register file asked for and its views: a compiled function asks at every call. */
let lastXmm: Uint8Array | null = null;
let lastViews: XmmViews | null = null;

/** The views of `xmm` (a Cpu's `state.xmm`), made at its first use and kept with it. */
export function xmmViews(xmm: Uint8Array): XmmViews {
  if (xmm === lastXmm) return lastViews as XmmViews;
  let v = views.get(xmm);
  if (v === undefined) {
    const b = xmm.buffer as ArrayBuffer;
    const o = xmm.byteOffset;
    const t = new ArrayBuffer(16);
    v = {
      x8: xmm,
      x32: new Uint32Array(b, o, 64),
      xi32: new Int32Array(b, o, 64),
      xf32: new Float32Array(b, o, 64),
      xf64: new Float64Array(b, o, 32),
      t8: new Uint8Array(t),
      t32: new Uint32Array(t),
      ti32: new Int32Array(t),
      tf32: new Float32Array(t),
      tf64: new Float64Array(t),
    };
    views.set(xmm, v);
  }
  lastXmm = xmm;
  lastViews = v;
  return v;
}

/** The function's constants the SSE code uses (compile.ts puts them in its preamble). */
export function sseConsts(body: string): string {
  if (!body.includes('SOK')) return '';
  let c = 'const XV = XMMV(s.xmm); ';
  for (const [name, field] of VIEW_CONSTS)
    if (body.includes(`${name}[`)) c += `const ${name} = XV.${field}; `;
  if (body.includes('MX[')) c += 'const MX = s.mxcsr; ';
  // CR0.EM, CR0.TS clear and CR4.OSFXSR set (exec/x87/fpu-checks.ts checkSse): no instruction a
  // block may hold changes CR0 or CR4, so this holds for the whole call.
  return `${c}const SOK = (s.cr[0] & 12) === 0 && (s.cr[4] & 512) !== 0;\n`;
}
const VIEW_CONSTS: readonly [string, keyof XmmViews][] = [
  ['X8', 'x8'],
  ['X32', 'x32'],
  ['XI32', 'xi32'],
  ['XF32', 'xf32'],
  ['XF64', 'xf64'],
  ['T8', 't8'],
  ['T32', 't32'],
  ['TI32', 'ti32'],
  ['TF32', 'tf32'],
  ['TF64', 'tf64'],
];

const BAIL = '/*BAIL*/';
/**
 * MXCSR: round to nearest and PE masked. The inline paths take only plain inputs and results (no
 * NaN, infinity, denormal, overflow or underflow), so the other masks, DAZ and FTZ cannot matter
 * there and PE is the only flag they can raise.
 */
const MX_PLAIN = '(MX[0] & 0x7000) === 0x1000';
/**
 * MXCSR.PM set and DAZ clear, for the truncating conversions: they ignore the rounding control
 * but take denormal inputs, which DAZ reads as zeros (exact: no PE) where truncation drops them
 * (PE). The real CPU raises no PE for CVTTSD2SI of a denormal under DAZ (the long64 x87/SSE
 * difftest, seed 424242).
 */
const MX_TRUNCATING = '(MX[0] & 0x1040) === 0x1000';
const MIN32 = '1.1754943508222875e-38';
const MAX32 = '3.4028234663852886e+38';
const MIN64 = '2.2250738585072014e-308';
const MAX64 = '1.7976931348623157e+308';

/**
 * A memory operand of `size` bytes read into T (or, `store`, written from the lanes `from`): the
 * TLB fast path only; off it, the block leaves. [statements before the check, the check, the copy].
 */
function memAccess(
  i: Insn,
  ctx: EmitCtx,
  size: number,
  write: boolean,
  align: boolean,
): [string, string] | null {
  const seg = i.memSeg;
  const right = write ? 'WP' : 'RP';
  if (ctx.long) {
    if (!memOk64(i) || seg === 4 || seg === 5) return null;
    const pre = `${ea64(i, 'm', ctx.next, ctx.hi)} ${memSlot64('a_m', 'l', 'x', 'o', 'w')}`;
    const cond = `${memHit64(seg, size, 'a_m', 'l', 'x', 'o', 'w', write)}${align ? ' && (l & 15) === 0' : ''}`;
    return [pre, cond];
  }
  if (i.adSize !== 4 || i.ripRel) return null;
  const pre = `const a = ${ea32(i)}; const x = (a >>> 12) & ${TLB_MASK}; const o = a & 0xfff; const w = tv[x];`;
  const flat = write ? `SW${seg} ` : `SR${seg} `;
  const cond = `${flat}&& tt[x] === (a >>> 24) && o <= ${4096 - size} && (tp[x] & ${right}) !== 0 && w !== null${align ? ' && (a & 15) === 0' : ''}`;
  return [pre, cond];
}

/** Copies `n` bytes from the page view at `o` into T8. */
const toT = (n: number) => `for (let q = 0; q < ${n}; q++) T8[q] = w[o + q];`;

/**
 * The xmm/m source of `i` (`n` bytes, aligned if `align` and n = 16): [statements, condition,
 * typed-array prefix ('X' or 'T'), its base index in 32-bit lanes]. Statements load T after
 * the condition held; callers emit `if (!(cond)) BAIL` first.
 */
function source(
  i: Insn,
  ctx: EmitCtx,
  n: number,
  align: boolean,
): { pre: string; cond: string; load: string; arr: string; b: number } | null {
  if (i.mod === 3) return { pre: '', cond: 'SOK', load: '', arr: 'X', b: i.rm * 4 };
  const m = memAccess(i, ctx, n, false, align && n === 16);
  if (m === null) return null;
  return { pre: m[0], cond: `SOK && ${m[1]}`, load: toT(n), arr: 'T', b: 0 };
}

const emitted = (code: string): Emitted => ({ code, memory: false, branch: false });

/** `{ pre; if (!(cond)) BAIL; body }` */
const guarded = (pre: string, cond: string, body: string): Emitted =>
  emitted(`{ ${pre} if (!(${cond})) { ${BAIL} } ${body} }`);

/** MOVAPS/MOVAPD/MOVDQA (aligned), MOVUPS/MOVUPD/MOVDQU: xmm ← xmm/m128, or xmm/m128 ← xmm. */
function emitMove(i: Insn, row: OpcodeRow, ctx: EmitCtx, align: boolean): Emitted | null {
  const store = row.operands.startsWith('W');
  const r = i.reg * 4;
  if (i.mod === 3) {
    const [d, s] = store ? [i.rm * 4, r] : [r, i.rm * 4];
    return guarded(
      '',
      'SOK',
      `X32[${d}] = X32[${s}]; X32[${d + 1}] = X32[${s + 1}]; X32[${d + 2}] = X32[${s + 2}]; X32[${d + 3}] = X32[${s + 3}];`,
    );
  }
  const m = memAccess(i, ctx, 16, store, align);
  if (m === null) return null;
  const b = i.reg * 16;
  return guarded(
    m[0],
    `SOK && ${m[1]}`,
    store
      ? `for (let q = 0; q < 16; q++) w[o + q] = X8[${b} + q];`
      : `for (let q = 0; q < 16; q++) X8[${b} + q] = w[o + q];`,
  );
}

/**
 * MOVSS/MOVSD (`n` = 1 or 2 dwords) and MOVQ xmm (`n` = 2, `zero`: the upper half cleared from a
 * register too): a load from memory clears the rest of the register, a register-to-register move
 * keeps it (MOVSS/MOVSD) or clears it (MOVQ); a store writes `n` dwords.
 */
function emitMovScalar(i: Insn, row: OpcodeRow, ctx: EmitCtx, n: number, zero: boolean): Emitted | null {
  const store = row.operands.startsWith('W');
  const r = i.reg * 4;
  if (i.mod === 3) {
    const [d, s] = store ? [i.rm * 4, r] : [r, i.rm * 4];
    let c = '';
    for (let k = 0; k < n; k++) c += `X32[${d + k}] = X32[${s + k}]; `;
    if (zero) for (let k = n; k < 4; k++) c += `X32[${d + k}] = 0; `;
    return guarded('', 'SOK', c);
  }
  const m = memAccess(i, ctx, 4 * n, store, false);
  if (m === null) return null;
  const b = i.reg * 16;
  let c = store
    ? `for (let q = 0; q < ${4 * n}; q++) w[o + q] = X8[${b} + q];`
    : `for (let q = 0; q < ${4 * n}; q++) X8[${b} + q] = w[o + q]; `;
  if (!store) for (let k = n; k < 4; k++) c += `X32[${r + k}] = 0; `;
  return guarded(m[0], `SOK && ${m[1]}`, c);
}

/**
 * Packed operations on 32-bit lanes: the four results (`r0`…`r3`) from the destination's lanes
 * `x0`…`x3` and the source's `y0`…`y3`, all read before any is written (the two may be one
 * register).
 */
const LANES32: Record<string, (k: number) => string> = {
  PXOR: (k) => `x${k} ^ y${k}`,
  PAND: (k) => `x${k} & y${k}`,
  POR: (k) => `x${k} | y${k}`,
  PANDN: (k) => `~x${k} & y${k}`,
  PADDD: (k) => `x${k} + y${k}`,
  PSUBD: (k) => `x${k} - y${k}`,
  PCMPEQD: (k) => `x${k} === y${k} ? 0xffffffff : 0`,
  // Each byte: 0xff where equal (exec/sse/arith.ts PCMPEQB).
  PCMPEQB: (k) =>
    `((x${k} ^ y${k}) & 0xff ? 0 : 0xff) | ((x${k} ^ y${k}) & 0xff00 ? 0 : 0xff00) | ((x${k} ^ y${k}) & 0xff0000 ? 0 : 0xff0000) | ((x${k} ^ y${k}) >>> 24 ? 0 : 0xff000000)`,
};
for (const [alias, op] of [
  ['XORPS', 'PXOR'],
  ['XORPD', 'PXOR'],
  ['ANDPS', 'PAND'],
  ['ANDPD', 'PAND'],
  ['ORPS', 'POR'],
  ['ORPD', 'POR'],
  ['ANDNPS', 'PANDN'],
  ['ANDNPD', 'PANDN'],
])
  LANES32[alias] = LANES32[op];

/** The 64-bit product of two unsigned 32-bit numbers as `${lo}`/`${hi}` consts (16-bit pieces: exact). */
const mulU32 = (a: string, b: string, lo: string, hi: string): string =>
  `const ${lo} = Math.imul(${a}, ${b}) >>> 0; const p1${lo} = (${a} & 0xffff) * (${b} >>> 16); const p2${lo} = (${a} >>> 16) * (${b} & 0xffff); ` +
  `const ${hi} = ((${a} >>> 16) * (${b} >>> 16) + Math.floor(p1${lo} / 65536) + Math.floor(p2${lo} / 65536) + Math.floor((((${a} & 0xffff) * (${b} & 0xffff)) / 65536 + (p1${lo} & 0xffff) + (p2${lo} & 0xffff)) / 65536)) >>> 0;`;

/** Results of the 64-bit-lane and whole-register forms, as statements defining r0…r3. */
const WHOLE: Record<string, string> = {
  PADDQ:
    'const l0 = x0 + y0; const c0 = l0 > 4294967295 ? 1 : 0; const l1 = x2 + y2; const c1 = l1 > 4294967295 ? 1 : 0; const r0 = l0; const r1 = x1 + y1 + c0; const r2 = l1; const r3 = x3 + y3 + c1;',
  PSUBQ:
    'const r0 = x0 - y0; const r1 = x1 - y1 - (x0 < y0 ? 1 : 0); const r2 = x2 - y2; const r3 = x3 - y3 - (x2 < y2 ? 1 : 0);',
  PMULUDQ: `${mulU32('x0', 'y0', 'r0', 'r1')} ${mulU32('x2', 'y2', 'r2', 'r3')}`,
  PUNPCKLQDQ: 'const r0 = x0; const r1 = x1; const r2 = y0; const r3 = y1;',
  PUNPCKHQDQ: 'const r0 = x2; const r1 = x3; const r2 = y2; const r3 = y3;',
  PUNPCKLDQ: 'const r0 = x0; const r1 = y0; const r2 = x1; const r3 = y1;',
  PUNPCKHDQ: 'const r0 = x2; const r1 = y2; const r2 = x3; const r3 = y3;',
};
WHOLE.UNPCKLPS = WHOLE.PUNPCKLDQ;
WHOLE.UNPCKHPS = WHOLE.PUNPCKHDQ;
WHOLE.UNPCKLPD = WHOLE.PUNPCKLQDQ;
WHOLE.UNPCKHPD = WHOLE.PUNPCKHQDQ;

/** A packed form `Vdq,Wdq` (or `Vps,Wps`…) over 32-bit lanes, the source aligned in memory. */
function emitPacked(i: Insn, ctx: EmitCtx, m: string): Emitted | null {
  const src = source(i, ctx, 16, true);
  if (src === null) return null;
  const d = i.reg * 4;
  const { arr, b } = src;
  let c = `${src.load} const x0 = X32[${d}], x1 = X32[${d + 1}], x2 = X32[${d + 2}], x3 = X32[${d + 3}]; `;
  c += `const y0 = ${arr}32[${b}], y1 = ${arr}32[${b + 1}], y2 = ${arr}32[${b + 2}], y3 = ${arr}32[${b + 3}]; `;
  const lanes = LANES32[m];
  if (lanes !== undefined) for (let k = 0; k < 4; k++) c += `const r${k} = ${lanes(k)}; `;
  else c += WHOLE[m];
  c += ` X32[${d}] = r0; X32[${d + 1}] = r1; X32[${d + 2}] = r2; X32[${d + 3}] = r3;`;
  return guarded(src.pre, src.cond, c);
}

/** PSLLD/PSRLD/PSRAD/PSLLQ/PSRLQ xmm, imm8 (`Udq,Ib`): counts past the width give 0 (PSRAD: sign). */
function emitShiftImm(i: Insn, m: string): Emitted {
  const r = i.rm * 4;
  const c = i.imm & 0xff;
  let body = '';
  if (m === 'PSLLD' || m === 'PSRLD' || m === 'PSRAD') {
    for (let k = 0; k < 4; k++) {
      const v = `X32[${r + k}]`;
      body +=
        m === 'PSRAD'
          ? `XI32[${r + k}] = XI32[${r + k}] >> ${Math.min(c, 31)}; `
          : c > 31
            ? `${v} = 0; `
            : `${v} = ${m === 'PSLLD' ? `${v} << ${c}` : `${v} >>> ${c}`}; `;
    }
  } else {
    for (const k of [0, 2]) {
      const lo = `X32[${r + k}]`;
      const hi = `X32[${r + k + 1}]`;
      if (c > 63) body += `${lo} = 0; ${hi} = 0; `;
      else if (c === 0) body += '';
      else if (m === 'PSLLQ')
        body +=
          c >= 32
            ? `${hi} = ${lo} << ${c - 32}; ${lo} = 0; `
            : `${hi} = (${hi} << ${c}) | (${lo} >>> ${32 - c}); ${lo} = ${lo} << ${c}; `;
      else
        body +=
          c >= 32
            ? `${lo} = ${hi} >>> ${c - 32}; ${hi} = 0; `
            : `${lo} = (${lo} >>> ${c}) | (${hi} << ${32 - c}); ${hi} = ${hi} >>> ${c}; `;
    }
  }
  return guarded('', 'SOK', body);
}

/** PSHUFD xmm, xmm/m128, imm8: result lane k = source lane imm[2k+1:2k]. */
function emitPshufd(i: Insn, ctx: EmitCtx): Emitted | null {
  const src = source(i, ctx, 16, true);
  if (src === null) return null;
  const d = i.reg * 4;
  let c = `${src.load} `;
  for (let k = 0; k < 4; k++) c += `const r${k} = ${src.arr}32[${src.b + ((i.imm >> (2 * k)) & 3)}]; `;
  c += `X32[${d}] = r0; X32[${d + 1}] = r1; X32[${d + 2}] = r2; X32[${d + 3}] = r3;`;
  return guarded(src.pre, src.cond, c);
}

/** PMOVMSKB r32, xmm: bit k = bit 7 of byte k; the upper half of a 64-bit register cleared. */
function emitPmovmskb(i: Insn): Emitted {
  const s = i.rm * 4;
  let e = '';
  for (let k = 0; k < 4; k++) {
    const v = `X32[${s + k}]`;
    e += `${k ? ' | ' : ''}((((${v} >>> 7) & 1) | ((${v} >>> 14) & 2) | ((${v} >>> 21) & 4) | ((${v} >>> 28) & 8)) << ${4 * k})`;
  }
  return guarded('', 'SOK', `const v = ${e}; ${setReg32(i.reg, 'v')}`);
}

/** MOVD xmm, r/m32 (the rest zeroed) and MOVD r/m32, xmm; REX.W (MOVQ) is the handler's. */
function emitMovd(i: Insn, row: OpcodeRow, ctx: EmitCtx): Emitted | null {
  // REX.W, and memory operands the inline TLB path does not take (16-bit or 32-bit addressing
  // where it expects the other, RIP-relative outside 64-bit mode): the handler.
  if (i.rex & 8 || (i.mod !== 3 && !memOk(i, ctx.long))) return null;
  const x = i.reg * 4;
  if (row.operands.startsWith('E')) {
    if (i.mod === 3) return guarded('', 'SOK', `const v = X32[${x}]; ${setReg32(i.rm, 'v')}`);
    return { code: `{ if (!SOK) { ${BAIL} } ${memWrite(i, 4, `X32[${x}]`)} }`, memory: true, branch: false };
  }
  if (i.mod === 3)
    return guarded(
      '',
      'SOK',
      `X32[${x}] = rg${i.rm}; X32[${x + 1}] = 0; X32[${x + 2}] = 0; X32[${x + 3}] = 0;`,
    );
  return {
    code: `{ if (!SOK) { ${BAIL} } ${memRead(i, 4, 'v')} X32[${x}] = v; X32[${x + 1}] = 0; X32[${x + 2}] = 0; X32[${x + 3}] = 0; }`,
    memory: true,
    branch: false,
  };
}

/** A single or double in the plain range: zero, or normal (no NaN, infinity or denormal). */
const normal = (v: string, min: string, max: string) =>
  `(${v} === 0 || (Math.abs(${v}) >= ${min} && Math.abs(${v}) <= ${max}))`;
/**
 * A result clear of both thresholds: zero only when exact (`zeroOk`), else at least twice the
 * smallest normal (so tininess before or after rounding cannot matter) and finite.
 */
const safe = (v: string, zeroOk: string, min: string, max: string) =>
  `(${v} === 0 ? ${zeroOk} : Math.abs(${v}) >= 2 * ${min} && Math.abs(${v}) <= ${max})`;

/**
 * ADDPS/SUBPS/MULPS, ADDPD/SUBPD/MULPD, ADDSS/… and ADDSD/SUBSD/MULSD (the scalar forms: lane 0,
 * the rest of the destination kept). Per lane: `a` op `b` in doubles (exact for a product of
 * singles; TwoSum's error term for a sum), rounded to single with Math.fround for the PS forms
 * (double rounding is innocuous: 53 ≥ 2·24 + 2); PE where the result is inexact.
 */
function emitFp(
  i: Insn,
  ctx: EmitCtx,
  op: '+' | '-' | '*' | '/',
  single: boolean,
  scalar: boolean,
): Emitted | null {
  const n = scalar ? 1 : single ? 4 : 2;
  const bytes = scalar ? (single ? 4 : 8) : 16;
  const src = source(i, ctx, bytes, true);
  if (src === null) return null;
  const [min, max, arr] = single ? [MIN32, MAX32, 'F32'] : [MIN64, MAX64, 'F64'];
  const d = single ? i.reg * 4 : i.reg * 2;
  const b = single ? src.b : src.b / 2;
  let pre = `${src.load} `;
  let cond = '';
  let store = '';
  let inexact = '';
  for (let k = 0; k < n; k++) {
    pre += `const a${k} = X${arr}[${d + k}]; const b${k} = ${src.arr}${arr}[${b + k}]; const e${k} = a${k} ${op} b${k}; `;
    if (single) pre += `const r${k} = Math.fround(e${k}); `;
    const r = single ? `r${k}` : `e${k}`;
    // The rounded result alone decides (for singles too: |r| ≥ 2·MIN32 bounds the unrounded one
    // away from tininess, and a finite r is no overflow; fround gives 0 only for an exact 0 sum, a
    // zero factor or dividend, or an underflow that zeroOk then rejects).
    // A zero sum of two plain numbers is exact; a zero product only from a zero factor.
    // A zero quotient only from a zero dividend; a zero divisor (ZE, or IE for 0/0) is the handler's.
    const zeroOk = op === '*' ? `(a${k} === 0 || b${k} === 0)` : op === '/' ? `a${k} === 0` : 'true';
    cond += `${k ? ' && ' : ''}${normal(`a${k}`, min, max)} && ${normal(`b${k}`, min, max)}${op === '/' ? ` && b${k} !== 0` : ''} && ${safe(r, zeroOk, min, max)}`;
    store += `X${arr}[${d + k}] = ${r}; `;
    if (op === '*') inexact += single ? `${k ? ' || ' : ''}r${k} !== e${k}` : '';
    else if (op === '/') inexact += '';
    else {
      // TwoSum (Knuth): the rounding error of e = a + b, exactly (b negated for a difference).
      const bb = op === '-' ? `-b${k}` : `b${k}`;
      pre += `const v${k} = e${k} - a${k}; const t${k} = (a${k} - (e${k} - v${k})) + (${bb} - v${k}); `;
      inexact += `${k ? ' || ' : ''}t${k} !== 0${single ? ` || r${k} !== e${k}` : ''}`;
    }
  }
  // Products of doubles and quotients: inline only once PE is set (their exactness would need an
  // FMA or a remainder).
  const pe = (op === '*' && !single) || op === '/' ? ' && (MX[0] & 32) !== 0' : '';
  const setPe = inexact === '' ? '' : `if (${inexact}) MX[0] |= 32;`;
  return emitted(
    `{ ${src.pre} if (!(${src.cond} && ${MX_PLAIN}${pe})) { ${BAIL} } ${pre} if (!(${cond})) { ${BAIL} } ${setPe} ${store}}`,
  );
}

/** CVTDQ2PS xmm, xmm/m128: each signed lane rounded to single (PE where inexact). */
function emitCvtdq2ps(i: Insn, ctx: EmitCtx): Emitted | null {
  const src = source(i, ctx, 16, true);
  if (src === null) return null;
  const d = i.reg * 4;
  let c = `${src.load} `;
  for (let k = 0; k < 4; k++)
    c += `const a${k} = ${src.arr}I32[${src.b + k}]; const r${k} = Math.fround(a${k}); `;
  c += 'if (r0 !== a0 || r1 !== a1 || r2 !== a2 || r3 !== a3) MX[0] |= 32; ';
  for (let k = 0; k < 4; k++) c += `XF32[${d + k}] = r${k}; `;
  return guarded(src.pre, `${src.cond} && ${MX_PLAIN}`, c);
}

/**
 * CVTTPS2DQ xmm, xmm/m128 and CVTTSD2SI r32, xmm/m64: truncation; NaN and out-of-range inputs
 * (the integer indefinite and IE) are the handler's; PE where a fraction was dropped.
 */
function emitCvtt(i: Insn, ctx: EmitCtx, scalar: boolean): Emitted | null {
  if (scalar && i.rex & 8) return null;
  const n = scalar ? 1 : 4;
  const src = source(i, ctx, scalar ? 8 : 16, true);
  if (src === null) return null;
  const arr = scalar ? `${src.arr}F64` : `${src.arr}F32`;
  const b = scalar ? src.b / 2 : src.b;
  let pre = `${src.load} `;
  let cond = '';
  let inexact = '';
  for (let k = 0; k < n; k++) {
    pre += `const a${k} = ${arr}[${b + k}]; const r${k} = Math.trunc(a${k}); `;
    cond += `${k ? ' && ' : ''}a${k} > -2147483649 && a${k} < 2147483648`;
    inexact += `${k ? ' || ' : ''}r${k} !== a${k}`;
  }
  let store = '';
  if (scalar) store = `const v = r0 >>> 0; ${setReg32(i.reg, 'v')}`;
  else for (let k = 0; k < 4; k++) store += `XI32[${i.reg * 4 + k}] = r${k}; `;
  return emitted(
    `{ ${src.pre} if (!(${src.cond} && ${MX_TRUNCATING})) { ${BAIL} } ${pre} if (!(${cond})) { ${BAIL} } if (${inexact}) MX[0] |= 32; ${store} }`,
  );
}

/** CVTPS2PD xmm, xmm/m64: two singles widened (exact); NaN and denormal inputs are the handler's. */
function emitCvtps2pd(i: Insn, ctx: EmitCtx): Emitted | null {
  const src = source(i, ctx, 8, false);
  if (src === null) return null;
  const d = i.reg * 2;
  const c = `${src.load} const a0 = ${src.arr}F32[${src.b}]; const a1 = ${src.arr}F32[${src.b + 1}];`;
  return emitted(
    `{ ${src.pre} if (!(${src.cond})) { ${BAIL} } ${c} if (!(${normal('a0', MIN32, MAX32)} && ${normal('a1', MIN32, MAX32)})) { ${BAIL} } XF64[${d}] = a0; XF64[${d + 1}] = a1; }`,
  );
}

/** CVTSI2SD xmm, r/m32: exact; the upper lane kept. REX.W (a 64-bit source) is the handler's. */
function emitCvtsi2sd(i: Insn, ctx: EmitCtx): Emitted | null {
  if (i.rex & 8 || (i.mod !== 3 && !memOk(i, ctx.long))) return null;
  const d = i.reg * 2;
  if (i.mod === 3) return guarded('', 'SOK', `XF64[${d}] = rg${i.rm} | 0;`);
  return {
    code: `{ if (!SOK) { ${BAIL} } ${memRead(i, 4, 'v')} XF64[${d}] = v | 0; }`,
    memory: true,
    branch: false,
  };
}

type SseEmitter = (i: Insn, row: OpcodeRow, ctx: EmitCtx) => Emitted | null;

/** The inlined SIMD forms by mnemonic (XMM forms only: an MMX form is the handler's). */
const SSE_EMITTERS: Record<string, SseEmitter> = {
  MOVAPS: (i, row, ctx) => emitMove(i, row, ctx, true),
  MOVAPD: (i, row, ctx) => emitMove(i, row, ctx, true),
  MOVDQA: (i, row, ctx) => emitMove(i, row, ctx, true),
  MOVUPS: (i, row, ctx) => emitMove(i, row, ctx, false),
  MOVUPD: (i, row, ctx) => emitMove(i, row, ctx, false),
  MOVDQU: (i, row, ctx) => emitMove(i, row, ctx, false),
  PSHUFD: (i, _row, ctx) => emitPshufd(i, ctx),
  PMOVMSKB: (i) => emitPmovmskb(i),
  MOVD: (i, row, ctx) => emitMovd(i, row, ctx),
  ADDPS: (i, _row, ctx) => emitFp(i, ctx, '+', true, false),
  SUBPS: (i, _row, ctx) => emitFp(i, ctx, '-', true, false),
  MULPS: (i, _row, ctx) => emitFp(i, ctx, '*', true, false),
  ADDPD: (i, _row, ctx) => emitFp(i, ctx, '+', false, false),
  SUBPD: (i, _row, ctx) => emitFp(i, ctx, '-', false, false),
  MULPD: (i, _row, ctx) => emitFp(i, ctx, '*', false, false),
  ADDSS: (i, _row, ctx) => emitFp(i, ctx, '+', true, true),
  SUBSS: (i, _row, ctx) => emitFp(i, ctx, '-', true, true),
  MULSS: (i, _row, ctx) => emitFp(i, ctx, '*', true, true),
  ADDSD: (i, _row, ctx) => emitFp(i, ctx, '+', false, true),
  SUBSD: (i, _row, ctx) => emitFp(i, ctx, '-', false, true),
  MULSD: (i, _row, ctx) => emitFp(i, ctx, '*', false, true),
  DIVPS: (i, _row, ctx) => emitFp(i, ctx, '/', true, false),
  DIVPD: (i, _row, ctx) => emitFp(i, ctx, '/', false, false),
  DIVSS: (i, _row, ctx) => emitFp(i, ctx, '/', true, true),
  DIVSD: (i, _row, ctx) => emitFp(i, ctx, '/', false, true),
  MOVSS: (i, row, ctx) => emitMovScalar(i, row, ctx, 1, false),
  MOVSD: (i, row, ctx) => emitMovScalar(i, row, ctx, 2, false),
  MOVQ_XMM: (i, row, ctx) => emitMovScalar(i, row, ctx, 2, true),
  CVTDQ2PS: (i, _row, ctx) => emitCvtdq2ps(i, ctx),
  CVTTPS2DQ: (i, _row, ctx) => emitCvtt(i, ctx, false),
  CVTTSD2SI: (i, _row, ctx) => emitCvtt(i, ctx, true),
  CVTPS2PD: (i, _row, ctx) => emitCvtps2pd(i, ctx),
  CVTSI2SD: (i, _row, ctx) => emitCvtsi2sd(i, ctx),
};
for (const m of [...Object.keys(LANES32), ...Object.keys(WHOLE)])
  SSE_EMITTERS[m] = (i, _row, ctx) => emitPacked(i, ctx, m);
for (const m of ['PSLLD', 'PSRLD', 'PSRAD', 'PSLLQ', 'PSRLQ'])
  SSE_EMITTERS[m] = (i, row) => (row.operands === 'Udq,Ib' ? emitShiftImm(i, m) : null);

/** Mnemonics with an inline form (for the compiler's mnemonic check, rows.ts). */
export const SSE_INLINE_MNEMONICS: readonly string[] = Object.keys(SSE_EMITTERS);

/**
 * The source of a SIMD row's instruction (a row with a mandatory prefix), or null for the
 * interpreter's handler: MMX forms (their operands P/Q/N), REX.W forms not listed, the rest.
 * The code may hold `/*BAIL*\/` (compile.ts: leave the block before this instruction).
 */
export function emitSse(i: Insn, row: OpcodeRow, ctx: EmitCtx): Emitted | null {
  const e = SSE_EMITTERS[row.mnemonic];
  if (e === undefined || i.lock) return null;
  const ops = row.operands;
  if (ops.includes('P') || ops.includes('Q') || ops.includes('N')) return null;
  return e(i, row, ctx);
}
