/**
 * Rounding and packing of an exact intermediate result (SDM Vol. 1 4.8.4, 8.1.5.2, 4.9.1.4-5):
 * the one place where precision control, the rounding mode, denormalisation, overflow and
 * underflow are decided, for the x87's 80-bit registers and for float32/float64 alike.
 */
import { FE_INEXACT, FE_OVERFLOW, FE_UNDERFLOW, SW_C1 } from './exceptions.js';
import type { Ext80 } from './float80.js';
import { shiftRight96, W } from './wide.js';

/** An IEEE binary format's exponent range (unbiased emin/emax of normal numbers). */
export interface FloatFormat {
  readonly bias: number;
  readonly emin: number;
  readonly emax: number;
  /** Significand bits including the integer bit. */
  readonly precision: number;
  /**
   * Exponent wrap of a trapped overflow/underflow (IEEE 754-1985 7.3-7.4): 3·2^(k-2) for a
   * k-bit exponent. Only the x87's is ever delivered (X87_BIAS_ADJUST); for the others it
   * keeps the unbounded-exponent rounding in range while the flags are computed.
   */
  readonly biasAdjust: number;
}
export const FMT_EXT80: FloatFormat = {
  bias: 16383,
  emin: -16382,
  emax: 16383,
  precision: 64,
  biasAdjust: 24576,
};
export const FMT_F64: FloatFormat = { bias: 1023, emin: -1022, emax: 1023, precision: 53, biasAdjust: 1536 };
export const FMT_F32: FloatFormat = { bias: 127, emin: -126, emax: 127, precision: 24, biasAdjust: 192 };

/** Rounding control: the encoding of x87 CW bits 11-10 and MXCSR bits 14-13 (SDM Table 4-8). */
export const RC_NEAREST = 0;
export const RC_DOWN = 1;
export const RC_UP = 2;
export const RC_ZERO = 3;

/** `mode` bits of roundPack: OE/UE masks at their CW/MXCSR-flag positions, then ours. */
export const MODE_MASK_OE = 0x08;
export const MODE_MASK_UE = 0x10;
/** MXCSR.FTZ: a masked tiny result becomes zero (SDM Vol. 1 10.2.3.3). */
export const MODE_FTZ = 0x8000;
/**
 * An x87 register destination: unmasked overflow/underflow deliver the result with the exponent
 * wrapped by 24576 (SDM Vol. 1 8.4.1, 8.5.4-5). Without it the result is not delivered.
 */
export const MODE_BIAS_ADJUST = 0x10000;

/**
 * An x87 store to memory: an unmasked overflow/underflow stores nothing and reports OE/UE
 * alone, without PE or C1 (what the CPU does; SSE reports PE from the unbounded rounding).
 */
export const MODE_TRAP_BARE = 0x20000;

/** The exponent bias adjustment of the x87 for unmasked overflow/underflow (SDM Vol. 1 8.5.4). */
export const X87_BIAS_ADJUST = 24576;

/**
 * Rounds sign × 1.f × 2^exp, where the significand is the 96-bit w2:w1:w0 (bit 95 set, the
 * binary point after it) plus `sticky`, to `p` significant bits in `fmt`'s exponent range and
 * writes it to `out` as an 80-bit-style triple: biased exponent of `fmt` with the sign in bit
 * 15, significand left-aligned with its integer bit at bit 63 (clear for denormals).
 * Returns the FE_* flags raised, plus SW_C1 when the magnitude was rounded up. When OE/UE is
 * unmasked and MODE_BIAS_ADJUST is clear, `out` holds a value the caller must not deliver.
 */
export function roundPack(
  out: Ext80,
  sign: number,
  exp: number,
  w2: number,
  w1: number,
  w0: number,
  sticky: number,
  fmt: FloatFormat,
  p: number,
  rc: number,
  mode: number,
): number {
  // Words may arrive as int32 (`x | 0`): V8 passes those unboxed, where an unsigned word
  // ≥ 2^31 is a heap number at every call that is not inlined.
  w2 >>>= 0;
  w1 >>>= 0;
  w0 >>>= 0;
  let flags = 0;
  let tiny = false;
  if (exp < fmt.emin) {
    // Tininess is detected after rounding, with an unbounded exponent and p bits (SDM Vol. 1
    // 4.9.1.5): only a value just below 2^emin that rounds up to it is not tiny.
    tiny = !(exp === fmt.emin - 1 && roundsToCarry(sign, w2 | 0, w1 | 0, w0 | 0, sticky, p, rc));
    if (!tiny) {
      // Rounds to the smallest normal: the ordinary path below carries into 2^emin.
    } else if (!(mode & MODE_MASK_UE)) {
      // Unmasked underflow: the result is rounded as if the exponent were unbounded (PE and C1
      // from that); an x87 register receives it scaled by 2^24576 (SDM 8.5.5), any other
      // destination nothing (#XM, SDM 11.5.2.4), but the flags are the same.
      if (mode & MODE_TRAP_BARE) return FE_UNDERFLOW;
      exp += fmt.biasAdjust;
      flags |= FE_UNDERFLOW;
      tiny = false;
    } else {
      if (mode & MODE_FTZ && mode & MODE_MASK_UE) {
        out.signExp = sign << 15;
        out.hi = 0;
        out.lo = 0;
        return FE_UNDERFLOW | FE_INEXACT;
      }
      shiftRight96(w2 | 0, w1 | 0, w0 | 0, sticky, fmt.emin - exp);
      w2 = W.w2;
      w1 = W.w1;
      w0 = W.w0;
      sticky = W.sticky;
      exp = fmt.emin;
    }
  }
  // The rounding position: ulp at bit (64 - p) of the 64-bit w2:w1.
  const up = roundUp(sign, w2 | 0, w1 | 0, w0 | 0, sticky, p, rc);
  if (R.inexact) {
    flags |= FE_INEXACT;
    if (tiny) flags |= FE_UNDERFLOW;
  }
  // Truncate to p bits.
  if (p <= 32) {
    w2 = p === 32 ? w2 : (w2 & ~((1 << (32 - p)) - 1)) >>> 0;
    w1 = 0;
  } else if (p < 64) {
    w1 = (w1 & ~((1 << (64 - p)) - 1)) >>> 0;
  }
  if (up) {
    flags |= SW_C1;
    if (p > 32) {
      const s = w1 + 2 ** (64 - p);
      w1 = s >>> 0;
      if (s > 0xffffffff) w2 += 1;
    } else {
      w2 += 2 ** (32 - p);
    }
    if (w2 > 0xffffffff) {
      w2 = 0x80000000;
      exp += 1;
    }
  }
  if (exp > fmt.emax) {
    if (mode & MODE_MASK_OE) {
      flags |= FE_OVERFLOW | FE_INEXACT;
      const toInfinity = rc === RC_NEAREST || (rc === RC_UP && sign === 0) || (rc === RC_DOWN && sign !== 0);
      if (toInfinity) {
        out.signExp = (sign << 15) | (fmt.emax + fmt.bias + 1);
        out.hi = 0x80000000;
        out.lo = 0;
        return flags | SW_C1;
      }
      // Largest finite number of p bits (SDM Table 4-9).
      out.signExp = (sign << 15) | (fmt.emax + fmt.bias);
      if (p > 32) {
        out.hi = 0xffffffff;
        out.lo = (0xffffffff << (64 - p)) >>> 0;
        if (p === 64) out.lo = 0xffffffff;
      } else {
        out.hi = p === 32 ? 0xffffffff : (0xffffffff << (32 - p)) >>> 0;
        out.lo = 0;
      }
      return flags & ~SW_C1;
    }
    // Unmasked: an x87 register gets the wrapped result (with PE and C1 as rounded); any
    // other destination gets nothing, with the same flags.
    if (mode & MODE_TRAP_BARE) return FE_OVERFLOW;
    flags |= FE_OVERFLOW;
    exp -= fmt.biasAdjust;
  }
  const biased = w2 & 0x80000000 ? exp + fmt.bias : 0;
  out.signExp = (sign << 15) | (biased & 0x7fff);
  out.hi = w2 >>> 0;
  out.lo = w1 >>> 0;
  return flags;
}

const R = { inexact: false };

/** Whether w2:w1:w0 + sticky rounds up in magnitude at p bits under rc; sets R.inexact. */
function roundUp(
  sign: number,
  w2: number,
  w1: number,
  w0: number,
  sticky: number,
  p: number,
  rc: number,
): boolean {
  w2 >>>= 0;
  w1 >>>= 0;
  w0 >>>= 0;
  let guard: number;
  let rest: number;
  let lsb: number;
  if (p === 64) {
    guard = w0 >>> 31;
    rest = (w0 & 0x7fffffff) | sticky;
    lsb = w1 & 1;
  } else if (p > 32) {
    const sh = 64 - p;
    guard = (w1 >>> (sh - 1)) & 1;
    rest = (w1 & ((1 << (sh - 1)) - 1)) | w0 | sticky;
    lsb = (w1 >>> sh) & 1;
  } else if (p === 32) {
    guard = w1 >>> 31;
    rest = (w1 & 0x7fffffff) | w0 | sticky;
    lsb = w2 & 1;
  } else {
    const sh = 32 - p;
    guard = (w2 >>> (sh - 1)) & 1;
    rest = (w2 & ((1 << (sh - 1)) - 1)) | w1 | w0 | sticky;
    lsb = (w2 >>> sh) & 1;
  }
  R.inexact = guard !== 0 || rest !== 0;
  if (!R.inexact) return false;
  if (rc === RC_NEAREST) return guard !== 0 && (rest !== 0 || lsb !== 0);
  if (rc === RC_UP) return sign === 0;
  if (rc === RC_DOWN) return sign !== 0;
  return false;
}

/** Whether rounding the normalised w2:w1:w0 to p bits carries out of bit 95 (all p bits one). */
function roundsToCarry(
  sign: number,
  w2: number,
  w1: number,
  w0: number,
  sticky: number,
  p: number,
  rc: number,
): boolean {
  w2 >>>= 0;
  w1 >>>= 0;
  const allOnes =
    p <= 32
      ? w2 >>> (32 - p) === 2 ** p - 1
      : w2 === 0xffffffff && (p === 64 ? w1 === 0xffffffff : w1 >>> (64 - p) === 2 ** (p - 32) - 1);
  return allOnes && roundUp(sign, w2 | 0, w1 | 0, w0 | 0, sticky, p, rc);
}
