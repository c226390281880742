/**
 * x87 conversions between the 80-bit format and memory formats (SDM Vol. 2 FLD, FST/FSTP,
 * FILD, FIST/FISTP, FISTTP): float32/float64 loads (exact; SNaN → IE, denormal → DE) and
 * stores (rounded by RC, never by PC; overflow/underflow in the narrow range), integer loads
 * (exact) and stores (rounded by RC or truncated; IE with the integer indefinite when out of
 * range). Return values as elsewhere: FE_* flags | SW_C1; with an unmasked exception the
 * destination must not be written (for stores: nothing reaches memory).
 */
import { FE_DENORMAL, FE_INEXACT, FE_INVALID, SW_C1 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { fitSigned, INT, roundToInteger } from './int-round.js';
import { FMT_F32, FMT_F64, RC_ZERO, roundPack } from './round.js';
import {
  classify32,
  classify64,
  F32_INDEFINITE,
  F64_INDEFINITE_HI,
  FClass,
  pack32,
  packHi64,
  packLo64,
  type WordPair,
} from './sse-bits.js';
import { Unpacked, unpack32, unpack64, unpack80 } from './unpack.js';
import { memoryMode, roundingOf } from './x87-control.js';

const U = new Unpacked();
const T = { signExp: 0, hi: 0, lo: 0 } as Ext80;

/** FLD m32fp. */
export function fld32(bits: number, out: Ext80, cw: number): number {
  const c = classify32(bits);
  const s = (bits >>> 31) << 15;
  switch (c) {
    case FClass.Zero:
      out.set(s, 0, 0);
      return 0;
    case FClass.Infinity:
      out.set(s | 0x7fff, 0x80000000, 0);
      return 0;
    case FClass.QNaN:
    case FClass.SNaN: {
      if (c === FClass.SNaN && !(cw & FE_INVALID)) return FE_INVALID;
      out.set(s | 0x7fff, 0xc0000000 | ((bits & 0x3fffff) << 8), 0);
      return c === FClass.SNaN ? FE_INVALID : 0;
    }
    default: {
      const flags = c === FClass.Denormal ? FE_DENORMAL : 0;
      if (flags & ~cw) return flags;
      unpack32(U, bits);
      out.set(s | (U.exp + 16383), U.hi, U.lo);
      return flags;
    }
  }
}

/** FLD m64fp (hi, lo: the float64's words). */
export function fld64(hi: number, lo: number, out: Ext80, cw: number): number {
  const c = classify64(hi, lo);
  const s = (hi >>> 31) << 15;
  switch (c) {
    case FClass.Zero:
      out.set(s, 0, 0);
      return 0;
    case FClass.Infinity:
      out.set(s | 0x7fff, 0x80000000, 0);
      return 0;
    case FClass.QNaN:
    case FClass.SNaN: {
      if (c === FClass.SNaN && !(cw & FE_INVALID)) return FE_INVALID;
      out.set(s | 0x7fff, 0xc0000000 | ((hi & 0x7ffff) << 11) | (lo >>> 21), lo << 11);
      return c === FClass.SNaN ? FE_INVALID : 0;
    }
    default: {
      const flags = c === FClass.Denormal ? FE_DENORMAL : 0;
      if (flags & ~cw) return flags;
      unpack64(U, hi, lo);
      out.set(s | (U.exp + 16383), U.hi, U.lo);
      return flags;
    }
  }
}

/**
 * FST m32fp / m64fp (`wide`): a rounded to the memory format by RC (SDM 4.8.4: precision
 * control does not apply to stores). Result in out (float32 in lo).
 */
export function fstFloat(a: Ext80, cw: number, wide: boolean, out: WordPair): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  const s = a.signExp >>> 15;
  switch (c) {
    case F80Class.Zero:
    case F80Class.Infinity:
      if (wide) {
        out.hi = ((s << 31) | (c === F80Class.Zero ? 0 : 0x7ff00000)) >>> 0;
        out.lo = 0;
      } else {
        out.hi = 0;
        out.lo = ((s << 31) | (c === F80Class.Zero ? 0 : 0x7f800000)) >>> 0;
      }
      return 0;
    case F80Class.Unsupported:
      if (!(cw & FE_INVALID)) return FE_INVALID;
      out.hi = wide ? F64_INDEFINITE_HI : 0;
      out.lo = wide ? 0 : F32_INDEFINITE;
      return FE_INVALID;
    case F80Class.QNaN:
    case F80Class.SNaN: {
      const flags = c === F80Class.SNaN ? FE_INVALID : 0;
      if (flags & ~cw) return flags;
      // The quieted NaN with its payload truncated to the narrow fraction.
      if (wide) {
        out.hi = ((s << 31) | 0x7ff80000 | ((a.hi >>> 11) & 0x7ffff)) >>> 0;
        out.lo = ((a.hi << 21) | (a.lo >>> 11)) >>> 0;
      } else {
        out.hi = 0;
        out.lo = ((s << 31) | 0x7fc00000 | ((a.hi >>> 8) & 0x3fffff)) >>> 0;
      }
      return flags;
    }
    default: {
      unpack80(U, a.signExp, a.hi, a.lo);
      const fmt = wide ? FMT_F64 : FMT_F32;
      const flags = roundPack(
        T,
        s,
        U.exp,
        U.hi,
        U.lo,
        0,
        0,
        fmt,
        fmt.precision,
        roundingOf(cw),
        memoryMode(cw),
      );
      if (wide) {
        out.hi = packHi64(T);
        out.lo = packLo64(T);
      } else {
        out.hi = 0;
        out.lo = pack32(T);
      }
      return flags;
    }
  }
}

/** FILD m16/m32/m64int: hi:lo is the two's-complement integer (16/32-bit: sign-extended lo). */
export function fild(hi: number, lo: number, bits: number, out: Ext80): void {
  if (bits < 64) {
    lo = bits === 16 ? (lo << 16) >> 16 : lo | 0;
    hi = lo < 0 ? 0xffffffff : 0;
    lo >>>= 0;
  }
  let sign = 0;
  if (hi & 0x80000000) {
    sign = 1;
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  magnitudeToExt80(sign, hi | 0, lo | 0, out); // bit operations only: int32 words do
}

/** The exact 80-bit value of (-1)^sign × the unsigned 64-bit integer hi:lo (±0 for zero). */
export function magnitudeToExt80(sign: number, hi: number, lo: number, out: Ext80): void {
  if ((hi | lo) === 0) {
    out.set(sign << 15, 0, 0);
    return;
  }
  const n = hi ? Math.clz32(hi) : 32 + Math.clz32(lo);
  if (n >= 32) {
    hi = lo << (n - 32);
    lo = 0;
  } else if (n > 0) {
    hi = (hi << n) | (lo >>> (32 - n));
    lo <<= n;
  }
  out.set((sign << 15) | (16383 + 63 - n), hi, lo);
}

/**
 * FIST/FISTP (rounded by RC) and FISTTP (`truncate`) to a `bits`-wide integer in out (16/32:
 * lo). NaN, infinity, unsupported or out of range: IE and the integer indefinite (the most
 * negative integer) when masked.
 */
export function fist(a: Ext80, cw: number, bits: number, truncate: boolean, out: WordPair): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  if (c === F80Class.Zero) {
    out.hi = 0;
    out.lo = 0;
    return 0;
  }
  if (c >= F80Class.Infinity) return integerIndefinite(out, bits, cw);
  unpack80(U, a.signExp, a.hi, a.lo);
  const sign = a.signExp >>> 15;
  roundToInteger(sign, U.exp, U.hi, U.lo, truncate ? RC_ZERO : roundingOf(cw));
  const inexact = INT.inexact;
  const up = INT.up;
  if (!fitSigned(sign, bits)) return integerIndefinite(out, bits, cw);
  out.hi = INT.hi;
  out.lo = INT.lo;
  return inexact ? FE_INEXACT | (up ? SW_C1 : 0) : 0;
}

function integerIndefinite(out: WordPair, bits: number, cw: number): number {
  if (cw & FE_INVALID) {
    out.hi = bits === 64 ? 0x80000000 : 0;
    out.lo = bits === 64 ? 0 : bits === 32 ? 0x80000000 : 0x8000;
  }
  return FE_INVALID;
}
