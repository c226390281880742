/**
 * SSE/SSE2 scalar floating-point arithmetic on float32 and float64 bit patterns: ADDSS/SD,
 * SUBSS/SD, MULSS/SD, DIVSS/SD, SQRTSS/SD, MINSS/SD, MAXSS/SD (packed forms apply these per
 * element). MXCSR supplies rounding, DAZ, FTZ and the masks (SDM Vol. 1 10.2.3, 11.5).
 *
 * Operands are (hi, lo) word pairs: a float64 as its high and low words, a float32 in `lo`
 * (`hi` ignored). The result goes to `out` in the same form; the return value is the FE_*
 * flags to OR into MXCSR. If any returned flag is unmasked, the instruction takes #XM (or #UD
 * with CR4.OSXMMEXCPT = 0) and `out` must not be delivered (SDM 11.5.1).
 *
 * SSE differs from the x87 in its NaN rules (SDM Vol. 1 Table 4-7: the first source operand's
 * NaN wins), its default NaN (sign set, as the x87 indefinite) and DAZ/FTZ.
 */
import { addCore } from './add.js';
import { divCore } from './div.js';
import { FE_DENORMAL, FE_DIVBYZERO, FE_INVALID } from './exceptions.js';
import { Ext80 } from './float80.js';
import { mulCore } from './mul.js';
import { MXCSR_DAZ, mxcsrMasks, mxcsrMode, mxcsrRounding } from './mxcsr.js';
import { FMT_F32, FMT_F64, RC_DOWN, roundPack } from './round.js';
import { sqrtCore } from './sqrt.js';
import {
  classify32,
  classify64,
  F32_INDEFINITE,
  F64_INDEFINITE_HI,
  FClass,
  pack32,
  packHi64,
  packLo64,
} from './sse-bits.js';
import { Unpacked, unpack32, unpack64 } from './unpack.js';

/** A float result: float64 as hi:lo, float32 in lo. */
export class SseOut {
  hi = 0;
  lo = 0;
}

export const SSE_ADD = 0;
export const SSE_SUB = 1;
export const SSE_MUL = 2;
export const SSE_DIV = 3;
export const SSE_SQRT = 4;
export const SSE_MIN = 5;
export const SSE_MAX = 6;

const UA = new Unpacked();
const UB = new Unpacked();
const R = new Ext80();

function classOf(wide: boolean, hi: number, lo: number): FClass {
  return wide ? classify64(hi, lo) : classify32(lo);
}

function setSpecial(out: SseOut, wide: boolean, sign: number, inf: boolean): void {
  if (wide) {
    out.hi = ((sign << 31) | (inf ? 0x7ff00000 : 0)) >>> 0;
    out.lo = 0;
  } else {
    out.hi = 0;
    out.lo = ((sign << 31) | (inf ? 0x7f800000 : 0)) >>> 0;
  }
}

function setIndefinite(out: SseOut, wide: boolean): void {
  out.hi = wide ? F64_INDEFINITE_HI : 0;
  out.lo = wide ? 0 : F32_INDEFINITE;
}

/** The quieted NaN operand (quiet bit: float32 bit 22, float64 bit 51). */
function setQuiet(out: SseOut, wide: boolean, hi: number, lo: number): void {
  out.hi = wide ? (hi | 0x80000) >>> 0 : 0;
  out.lo = wide ? lo >>> 0 : (lo | 0x400000) >>> 0;
}

export function sseArith(
  op: number,
  wide: boolean,
  ahi: number,
  alo: number,
  bhi: number,
  blo: number,
  mxcsr: number,
  out: SseOut,
): number {
  // Words may arrive as int32 (see wide.ts): read as unsigned from here on.
  ahi >>>= 0;
  alo >>>= 0;
  bhi >>>= 0;
  blo >>>= 0;
  let ca = op === SSE_SQRT ? FClass.Zero : classOf(wide, ahi, alo);
  let cb = classOf(wide, bhi, blo);
  // DAZ: denormal sources are read as zeros of the same sign, without DE (SDM 10.2.3.4).
  if (mxcsr & MXCSR_DAZ) {
    if (ca === FClass.Denormal) {
      ca = FClass.Zero;
      if (wide) {
        ahi = (ahi & 0x80000000) >>> 0;
        alo = 0;
      } else alo = (alo & 0x80000000) >>> 0;
    }
    if (cb === FClass.Denormal) {
      cb = FClass.Zero;
      if (wide) {
        bhi = (bhi & 0x80000000) >>> 0;
        blo = 0;
      } else blo = (blo & 0x80000000) >>> 0;
    }
  }
  const sa = (wide ? ahi : alo) >>> 31;
  let sb = (wide ? bhi : blo) >>> 31;
  if (op === SSE_MIN || op === SSE_MAX)
    return minMax(op, wide, ahi | 0, alo | 0, ca, bhi | 0, blo | 0, cb, out);
  const nanA = ca === FClass.QNaN || ca === FClass.SNaN;
  const nanB = cb === FClass.QNaN || cb === FClass.SNaN;
  if (nanA || nanB) {
    // Table 4-7: the first source operand if it is a NaN, else the second; SNaN → IE.
    if (nanA) setQuiet(out, wide, ahi, alo);
    else setQuiet(out, wide, bhi, blo);
    return ca === FClass.SNaN || cb === FClass.SNaN ? FE_INVALID : 0;
  }
  const infA = ca === FClass.Infinity;
  const infB = cb === FClass.Infinity;
  const za = ca === FClass.Zero;
  const zb = cb === FClass.Zero;
  if (op === SSE_SUB) sb ^= 1;
  if (op === SSE_SQRT) {
    if (sb && !zb) {
      setIndefinite(out, wide);
      return FE_INVALID;
    }
  } else if (op === SSE_MUL) {
    if ((infA && zb) || (za && infB)) {
      setIndefinite(out, wide);
      return FE_INVALID;
    }
  } else if (op === SSE_DIV) {
    if ((infA && infB) || (za && zb)) {
      setIndefinite(out, wide);
      return FE_INVALID;
    }
  } else if (infA && infB && sa !== sb) {
    setIndefinite(out, wide);
    return FE_INVALID;
  }
  if (op === SSE_DIV && zb && !infA) {
    // Division by zero takes precedence over DE (as on the x87, SDM 8.7).
    setSpecial(out, wide, sa ^ sb, true);
    return FE_DIVBYZERO;
  }
  const flags = ca === FClass.Denormal || cb === FClass.Denormal ? FE_DENORMAL : 0;
  const masks = mxcsrMasks(mxcsr);
  if (flags & ~masks) return flags;
  const rc = mxcsrRounding(mxcsr);
  if (op === SSE_SQRT) {
    if (zb || infB) {
      setSpecial(out, wide, sb, infB);
      return flags;
    }
    unpackOne(UB, wide, bhi, blo);
    return (
      flags |
      finish(
        out,
        wide,
        sqrtCore(R, UB.exp, UB.hi | 0, UB.lo | 0, fmtOf(wide), pOf(wide), rc, mxcsrMode(mxcsr)),
      )
    );
  }
  if (infA || infB) {
    if (op === SSE_ADD || op === SSE_SUB) setSpecial(out, wide, infA ? sa : sb, true);
    else setSpecial(out, wide, sa ^ sb, op === SSE_MUL || infA);
    return flags;
  }
  if (op === SSE_ADD || op === SSE_SUB) {
    if (za && zb) {
      setSpecial(out, wide, sa === sb ? sa : rc === RC_DOWN ? 1 : 0, false);
      return flags;
    }
    if (za || zb) {
      // x ± 0 is x, but a denormal x is still a tiny result: UE, and zero under FTZ.
      const mode = mxcsrMode(mxcsr);
      if (zb) unpackOne(UA, wide, ahi, alo);
      else unpackOne(UA, wide, bhi, blo);
      const f = roundPack(
        R,
        zb ? sa : sb,
        UA.exp,
        UA.hi | 0,
        UA.lo | 0,
        0,
        0,
        fmtOf(wide),
        pOf(wide),
        rc,
        mode,
      );
      return flags | finish(out, wide, f);
    }
  } else if (za || zb) {
    setSpecial(out, wide, sa ^ sb, false);
    return flags;
  }
  unpackOne(UA, wide, ahi, alo);
  unpackOne(UB, wide, bhi, blo);
  const core = op === SSE_MUL ? mulCore : op === SSE_DIV ? divCore : addCore;
  const f = core(
    R,
    sa,
    UA.exp,
    UA.hi | 0,
    UA.lo | 0,
    sb,
    UB.exp,
    UB.hi | 0,
    UB.lo | 0,
    fmtOf(wide),
    pOf(wide),
    rc,
    mxcsrMode(mxcsr),
  );
  return flags | finish(out, wide, f);
}

function fmtOf(wide: boolean) {
  return wide ? FMT_F64 : FMT_F32;
}
function pOf(wide: boolean): number {
  return wide ? 53 : 24;
}

function unpackOne(u: Unpacked, wide: boolean, hi: number, lo: number): void {
  if (wide) unpack64(u, hi, lo);
  else unpack32(u, lo);
}

/** Packs R into out; C1 means nothing to SSE. */
function finish(out: SseOut, wide: boolean, flags: number): number {
  if (wide) {
    out.hi = packHi64(R);
    out.lo = packLo64(R);
  } else {
    out.hi = 0;
    out.lo = pack32(R);
  }
  return flags & 0x3f;
}

/**
 * MINSS/MAXSS…: dest = a < b ? a : b (max: a > b); if either is a NaN (QNaN too: IE) or both
 * are zeros, the second operand is returned unchanged (SDM Vol. 2 MINSS, MAXSS).
 */
function minMax(
  op: number,
  wide: boolean,
  ahi: number,
  alo: number,
  ca: FClass,
  bhi: number,
  blo: number,
  cb: FClass,
  out: SseOut,
): number {
  out.hi = wide ? bhi >>> 0 : 0;
  out.lo = blo >>> 0;
  if (ca >= FClass.QNaN || cb >= FClass.QNaN) return FE_INVALID;
  const flags = ca === FClass.Denormal || cb === FClass.Denormal ? FE_DENORMAL : 0;
  const lt = lessThan(wide, ahi | 0, alo | 0, bhi | 0, blo | 0);
  const gt = lessThan(wide, bhi | 0, blo | 0, ahi | 0, alo | 0);
  if (op === SSE_MIN ? lt : gt) {
    out.hi = wide ? ahi >>> 0 : 0;
    out.lo = alo >>> 0;
  }
  return flags;
}

/** a < b for non-NaN bit patterns (±0 equal). */
export function lessThan(wide: boolean, ahi: number, alo: number, bhi: number, blo: number): boolean {
  ahi >>>= 0;
  alo >>>= 0;
  bhi >>>= 0;
  blo >>>= 0;
  if (!wide) {
    ahi = alo;
    bhi = blo;
    alo = 0;
    blo = 0;
  }
  const sa = ahi >>> 31;
  const sb = bhi >>> 31;
  const ma = (ahi & 0x7fffffff) >>> 0;
  const mb = (bhi & 0x7fffffff) >>> 0;
  if ((ma | alo) === 0 && (mb | blo) === 0) return false;
  if (sa !== sb) return sa === 1;
  const magLess = ma < mb || (ma === mb && alo < blo);
  const magGreater = ma > mb || (ma === mb && alo > blo);
  return sa ? magGreater : magLess;
}
