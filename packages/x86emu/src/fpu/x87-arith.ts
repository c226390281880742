/**
 * The x87 arithmetic instructions on 80-bit values: FADD/FSUB/FMUL/FDIV (and their reversed
 * forms, by swapping operands) and FSQRT, with the x87's operand checks in the order of SDM
 * Vol. 1 8.7 ("exception priority"): unsupported formats and SNaNs (IE), QNaN operands,
 * invalid combinations (IE) and division by zero (ZE), denormal operands (DE), then the
 * rounded result's overflow, underflow and precision.
 *
 * Every function writes `out` (which may alias an operand) and returns FE_* flags | SW_C1.
 * When an unmasked IE, DE or ZE is returned, `out` is not written: the instruction does not
 * complete and the destination keeps its value (SDM 8.5.1-8.5.3).
 */
import { addCore } from './add.js';
import { divCore } from './div.js';
import { FE_DENORMAL, FE_DIVBYZERO } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { mulCore } from './mul.js';
import { FMT_EXT80, RC_DOWN, roundPack } from './round.js';
import { sqrtCore } from './sqrt.js';
import { Unpacked, unpack80 } from './unpack.js';
import { precisionOf, registerMode, roundingOf } from './x87-control.js';
import { invalidResult80, propagateNaN80 } from './x87-nan.js';

const UA = new Unpacked();
const UB = new Unpacked();

const OP_ADD = 0;
const OP_MUL = 1;
const OP_DIV = 2;

export function fadd80(a: Ext80, b: Ext80, out: Ext80, cw: number): number {
  return binary(OP_ADD, a, b, 0, out, cw);
}

/** a − b (FSUBR is fsub80(b, a)). */
export function fsub80(a: Ext80, b: Ext80, out: Ext80, cw: number): number {
  return binary(OP_ADD, a, b, 0x8000, out, cw);
}

export function fmul80(a: Ext80, b: Ext80, out: Ext80, cw: number): number {
  return binary(OP_MUL, a, b, 0, out, cw);
}

/** a / b (FDIVR is fdiv80(b, a)). */
export function fdiv80(a: Ext80, b: Ext80, out: Ext80, cw: number): number {
  return binary(OP_DIV, a, b, 0, out, cw);
}

function isDenormal(c: F80Class): boolean {
  return c === F80Class.Denormal || c === F80Class.PseudoDenormal;
}

/** Writes ±0 or ±∞. */
function special(out: Ext80, sign: number, inf: boolean): void {
  out.signExp = (sign << 15) | (inf ? 0x7fff : 0);
  out.hi = inf ? 0x80000000 : 0;
  out.lo = 0;
}

function binary(op: number, a: Ext80, b: Ext80, negB: number, out: Ext80, cw: number): number {
  const ca = classify80(a.signExp, a.hi, a.lo);
  const cb = classify80(b.signExp, b.hi, b.lo);
  const masks = cw & 0x3f;
  if (ca >= F80Class.QNaN || cb >= F80Class.QNaN) {
    // NaN or unsupported operand (classes 5-7).
    return propagateNaN80(a, ca, b, cb, out, masks);
  }
  const sa = a.signExp >>> 15;
  const sb = (b.signExp ^ negB) >>> 15;
  const infA = ca === F80Class.Infinity;
  const infB = cb === F80Class.Infinity;
  const za = ca === F80Class.Zero;
  const zb = cb === F80Class.Zero;
  // SDM 8.7: invalid combinations and division by zero take precedence over DE.
  if (op === OP_ADD) {
    if (infA && infB && sa !== sb) return invalidResult80(out, masks);
  } else if (op === OP_MUL) {
    if ((infA && zb) || (za && infB)) return invalidResult80(out, masks);
  } else {
    if ((infA && infB) || (za && zb)) return invalidResult80(out, masks);
    if (zb && !infA) {
      // ∞/0 is an exact ∞ (SDM FDIV Table 3-29): no ZE.
      if (masks & FE_DIVBYZERO) special(out, sa ^ sb, true);
      return FE_DIVBYZERO;
    }
  }
  let flags = 0;
  if (isDenormal(ca) || isDenormal(cb)) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  if (infA || infB) {
    if (op === OP_ADD) special(out, infA ? sa : sb, true);
    else special(out, sa ^ sb, op === OP_MUL || infA);
    return flags;
  }
  const p = precisionOf(cw);
  const rc = roundingOf(cw);
  const mode = registerMode(cw);
  if (op === OP_ADD) {
    if (za && zb) {
      special(out, sa === sb ? sa : rc === RC_DOWN ? 1 : 0, false);
      return flags;
    }
    // x ± 0 is x, but still rounded to the precision control (and denormal checks).
    if (za || zb) {
      const src = za ? b : a;
      unpack80(UA, src.signExp, src.hi, src.lo);
      return flags | roundPack(out, za ? sb : sa, UA.exp, UA.hi, UA.lo, 0, 0, FMT_EXT80, p, rc, mode);
    }
    unpack80(UA, a.signExp, a.hi, a.lo);
    unpack80(UB, b.signExp, b.hi, b.lo);
    return flags | addCore(out, sa, UA.exp, UA.hi, UA.lo, sb, UB.exp, UB.hi, UB.lo, FMT_EXT80, p, rc, mode);
  }
  if (za || zb) {
    special(out, sa ^ sb, false);
    return flags;
  }
  unpack80(UA, a.signExp, a.hi, a.lo);
  unpack80(UB, b.signExp, b.hi, b.lo);
  const core = op === OP_MUL ? mulCore : divCore;
  return flags | core(out, sa, UA.exp, UA.hi, UA.lo, sb, UB.exp, UB.hi, UB.lo, FMT_EXT80, p, rc, mode);
}

/** FSQRT (SDM Vol. 2 FSQRT): −0 stays −0, any other negative operand is invalid. */
export function fsqrt80(a: Ext80, out: Ext80, cw: number): number {
  const ca = classify80(a.signExp, a.hi, a.lo);
  const masks = cw & 0x3f;
  if (ca >= F80Class.QNaN) return propagateNaN80(a, ca, a, ca, out, masks);
  const sign = a.signExp >>> 15;
  if (ca === F80Class.Zero) {
    special(out, sign, false);
    return 0;
  }
  if (sign) return invalidResult80(out, masks);
  if (ca === F80Class.Infinity) {
    special(out, 0, true);
    return 0;
  }
  let flags = 0;
  if (isDenormal(ca)) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  unpack80(UA, a.signExp, a.hi, a.lo);
  return (
    flags | sqrtCore(out, UA.exp, UA.hi, UA.lo, FMT_EXT80, precisionOf(cw), roundingOf(cw), registerMode(cw))
  );
}
