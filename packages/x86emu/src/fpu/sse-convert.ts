/**
 * SSE/SSE2 scalar conversions (SDM Vol. 2 CVTSS2SD, CVTSD2SS, CVTSI2SS/SD, CVT(T)SS2SI,
 * CVT(T)SD2SI; packed forms apply them per element): float widths rounded by MXCSR.RC with
 * DAZ/FTZ, integers rounded by RC or truncated, the integer indefinite (most negative value)
 * with IE for a NaN or out-of-range source. Operands and results as in sse-float.ts; the
 * return value is FE_* flags (an unmasked one means #XM and no result).
 */
import { fild } from './convert.js';
import { FE_DENORMAL, FE_INEXACT, FE_INVALID } from './exceptions.js';
import { Ext80 } from './float80.js';
import { fitSigned, INT, roundToInteger } from './int-round.js';
import { MXCSR_DAZ, mxcsrMasks, mxcsrMode, mxcsrRounding } from './mxcsr.js';
import { FMT_F32, FMT_F64, RC_ZERO, roundPack } from './round.js';
import { classify32, classify64, FClass, pack32, packHi64, packLo64, type WordPair } from './sse-bits.js';
import { Unpacked, unpack32, unpack64, unpack80 } from './unpack.js';

const U = new Unpacked();
const R = new Ext80();

/** CVTSS2SD: exact, except that an SNaN is quieted (IE) and a denormal reports DE. */
export function cvtss2sd(bits: number, mxcsr: number, out: WordPair): number {
  const c = classify32(bits);
  const s = (bits & 0x80000000) >>> 0;
  if (c === FClass.Zero || (c === FClass.Denormal && mxcsr & MXCSR_DAZ)) {
    out.hi = s;
    out.lo = 0;
    return 0;
  }
  if (c === FClass.Infinity) {
    out.hi = (s | 0x7ff00000) >>> 0;
    out.lo = 0;
    return 0;
  }
  if (c >= FClass.QNaN) {
    out.hi = (s | 0x7ff80000 | ((bits & 0x3fffff) >>> 3)) >>> 0;
    out.lo = (bits << 29) >>> 0;
    return c === FClass.SNaN ? FE_INVALID : 0;
  }
  unpack32(U, bits);
  out.hi = (s | ((U.exp + 1023) << 20) | ((U.hi >>> 11) & 0xfffff)) >>> 0;
  out.lo = ((U.hi << 21) | (U.lo >>> 11)) >>> 0;
  return c === FClass.Denormal ? FE_DENORMAL : 0;
}

/** CVTSD2SS: rounded to float32 (overflow, underflow, FTZ as for arithmetic). */
export function cvtsd2ss(hi: number, lo: number, mxcsr: number, out: WordPair): number {
  const c = classify64(hi, lo);
  const s = (hi & 0x80000000) >>> 0;
  out.hi = 0;
  if (c === FClass.Zero || (c === FClass.Denormal && mxcsr & MXCSR_DAZ)) {
    out.lo = s;
    return 0;
  }
  if (c === FClass.Infinity) {
    out.lo = (s | 0x7f800000) >>> 0;
    return 0;
  }
  if (c >= FClass.QNaN) {
    out.lo = (s | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29)) >>> 0;
    return c === FClass.SNaN ? FE_INVALID : 0;
  }
  const de = c === FClass.Denormal ? FE_DENORMAL : 0;
  if (de & ~mxcsrMasks(mxcsr)) return de; // DE is detected before the computation
  unpack64(U, hi, lo);
  const flags = roundPack(
    R,
    s >>> 31,
    U.exp,
    U.hi | 0,
    U.lo | 0,
    0,
    0,
    FMT_F32,
    24,
    mxcsrRounding(mxcsr),
    mxcsrMode(mxcsr),
  );
  out.lo = pack32(R);
  return de | (flags & 0x3f);
}

/** CVTSI2SS/CVTSI2SD: a 32- or 64-bit signed integer (hi:lo; 32-bit in lo) rounded by RC. */
export function cvtsi2f(
  hi: number,
  lo: number,
  bits: number,
  wide: boolean,
  mxcsr: number,
  out: WordPair,
): number {
  fild(hi, lo, bits, R);
  if ((R.hi | R.lo) === 0) {
    out.hi = 0;
    out.lo = 0;
    return 0;
  }
  unpack80(U, R.signExp, R.hi | 0, R.lo | 0);
  const fmt = wide ? FMT_F64 : FMT_F32;
  const flags = roundPack(
    R,
    U.sign,
    U.exp,
    U.hi | 0,
    U.lo | 0,
    0,
    0,
    fmt,
    fmt.precision,
    mxcsrRounding(mxcsr),
    mxcsrMode(mxcsr),
  );
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
 * CVTSS2SI/CVTSD2SI (rounded by RC) and CVTTSS2SI/CVTTSD2SI (`truncate`) to a 32- or 64-bit
 * integer (`bits`); the source is a float64 (hi:lo) when `wide`, else a float32 in lo.
 */
export function cvtf2si(
  wide: boolean,
  hi: number,
  lo: number,
  bits: number,
  truncate: boolean,
  mxcsr: number,
  out: WordPair,
): number {
  const c = wide ? classify64(hi, lo) : classify32(lo);
  if (c === FClass.Zero || (c === FClass.Denormal && mxcsr & MXCSR_DAZ)) {
    out.hi = 0;
    out.lo = 0;
    return 0;
  }
  if (c >= FClass.Infinity) return indefinite(out, bits);
  if (wide) unpack64(U, hi, lo);
  else unpack32(U, lo);
  roundToInteger(U.sign, U.exp, U.hi | 0, U.lo | 0, truncate ? RC_ZERO : mxcsrRounding(mxcsr));
  const inexact = INT.inexact;
  if (!fitSigned(U.sign, bits)) return indefinite(out, bits);
  out.hi = INT.hi;
  out.lo = INT.lo;
  return inexact ? FE_INEXACT : 0;
}

function indefinite(out: WordPair, bits: number): number {
  out.hi = bits === 64 ? 0x80000000 : 0;
  out.lo = bits === 64 ? 0 : 0x80000000;
  return FE_INVALID;
}
