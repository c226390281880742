/**
 * Operands in the form the exact cores take: sign, unbiased exponent and a 64-bit significand
 * normalised so that bit 63 is set (value = 1.f × 2^exp), whatever the source format.
 */
import { EXP_BIAS, EXP_MAX } from './float80.js';
import { clz64, shiftLeft64, W } from './wide.js';

export class Unpacked {
  sign = 0;
  exp = 0;
  hi = 0;
  lo = 0;
}

/** A finite non-zero 80-bit value (normal, denormal or pseudo-denormal, SDM 8.2.2). */
export function unpack80(u: Unpacked, signExp: number, hi: number, lo: number): void {
  u.sign = signExp >>> 15;
  const e = signExp & EXP_MAX;
  if (e === 0) {
    // 0.f × 2^-16382 (a pseudo-denormal has its integer bit set: 1.f × 2^-16382).
    const n = clz64(hi, lo);
    shiftLeft64(hi, lo, n);
    u.hi = W.w2;
    u.lo = W.w1;
    u.exp = 1 - EXP_BIAS - n;
    return;
  }
  u.hi = hi >>> 0;
  u.lo = lo >>> 0;
  u.exp = e - EXP_BIAS;
}

/** A finite non-zero float64 given as its high and low words. */
export function unpack64(u: Unpacked, hi: number, lo: number): void {
  u.sign = hi >>> 31;
  const e = (hi >>> 20) & 0x7ff;
  const fhi = hi & 0xfffff;
  if (e === 0) {
    const n = clz64(fhi, lo);
    shiftLeft64(fhi, lo, n);
    u.hi = W.w2;
    u.lo = W.w1;
    u.exp = -1022 + 11 - n;
    return;
  }
  u.hi = (0x80000000 | (fhi << 11) | (lo >>> 21)) >>> 0;
  u.lo = (lo << 11) >>> 0;
  u.exp = e - 1023;
}

/** A finite non-zero float32. */
export function unpack32(u: Unpacked, bits: number): void {
  u.sign = bits >>> 31;
  const e = (bits >>> 23) & 0xff;
  const f = bits & 0x7fffff;
  u.lo = 0;
  if (e === 0) {
    const n = Math.clz32(f);
    u.hi = (f << n) >>> 0;
    u.exp = -126 + 8 - n;
    return;
  }
  u.hi = (0x80000000 | (f << 8)) >>> 0;
  u.exp = e - 127;
}
