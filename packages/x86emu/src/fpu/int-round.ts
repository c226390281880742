/**
 * Rounding a finite value to an integer (FIST/FISTP, FISTTP, FRNDINT, CVTSS2SI, CVTTSD2SI, …):
 * the integer magnitude as a 64-bit hi:lo, whether it was inexact, rounded up, or too large.
 */
import { RC_DOWN, RC_NEAREST, RC_UP } from './round.js';
import { shiftRight96, W } from './wide.js';

/** Result of roundToInteger. */
export const INT = { hi: 0, lo: 0, inexact: false, up: false, tooBig: false };

/**
 * |value| rounded by rc where value = (-1)^sign × 1.f × 2^exp (hi:lo normalised, bit 63 set).
 * tooBig: the rounded magnitude needs more than 64 bits.
 */
export function roundToInteger(sign: number, exp: number, hi: number, lo: number, rc: number): void {
  hi >>>= 0; // int32 words accepted (see wide.ts)
  lo >>>= 0;
  INT.tooBig = false;
  INT.up = false;
  if (exp >= 64) {
    INT.tooBig = true;
    INT.inexact = false;
    INT.hi = hi;
    INT.lo = lo;
    return;
  }
  // Integer part in W.w2:W.w1, fraction in W.w0 (+ sticky).
  shiftRight96(hi | 0, lo | 0, 0, 0, 63 - exp);
  let ih = W.w2;
  let il = W.w1;
  const guard = W.w0 >>> 31;
  const rest = (W.w0 & 0x7fffffff) | W.sticky;
  INT.inexact = guard !== 0 || rest !== 0;
  let up = false;
  if (INT.inexact) {
    if (rc === RC_NEAREST) up = guard !== 0 && (rest !== 0 || (il & 1) !== 0);
    else if (rc === RC_UP) up = sign === 0;
    else if (rc === RC_DOWN) up = sign !== 0;
  }
  if (up) {
    INT.up = true;
    il += 1;
    if (il > 0xffffffff) {
      il = 0;
      ih += 1;
      if (ih > 0xffffffff) {
        ih = 0;
        INT.tooBig = true;
      }
    }
  }
  INT.hi = ih >>> 0;
  INT.lo = il >>> 0;
}

/**
 * Whether INT's magnitude with `sign` fits a signed `bits`-wide integer (16, 32 or 64), and if
 * so its two's-complement value in INT.hi:INT.lo (16/32-bit results in INT.lo).
 */
export function fitSigned(sign: number, bits: number): boolean {
  if (INT.tooBig) return false;
  const { hi, lo } = INT;
  if (bits === 64) {
    if (hi > 0x80000000 || (hi === 0x80000000 && (lo !== 0 || !sign))) return false;
  } else {
    const limit = 2 ** (bits - 1); // |min|
    if (hi !== 0 || lo > limit || (lo === limit && !sign)) return false;
  }
  if (sign && (hi | lo) !== 0) {
    // Negate the 64-bit magnitude.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    INT.lo = bits === 64 || bits === 32 ? nlo : nlo & (2 ** bits - 1);
    INT.hi = bits === 64 ? nhi : 0;
  }
  return true;
}
