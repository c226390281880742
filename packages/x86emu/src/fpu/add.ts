/**
 * Exact addition of two finite non-zero values on integer significands, then one rounding
 * (SDM Vol. 1 4.8.4: the result is computed as if with infinite precision, then rounded).
 */
import type { Ext80 } from './float80.js';
import { type FloatFormat, RC_DOWN, roundPack } from './round.js';
import { normalize96, shiftRight96, W } from './wide.js';

/**
 * out = (-1)^sa·A·2^ea + (-1)^sb·B·2^eb, where A and B are 64-bit significands (hi:lo, bit 63
 * set, binary point after it). An exact zero difference is +0, or -0 when rounding down
 * (IEEE 754 6.3). Returns roundPack's flags.
 */
export function addCore(
  out: Ext80,
  sa: number,
  ea: number,
  ahi: number,
  alo: number,
  sb: number,
  eb: number,
  bhi: number,
  blo: number,
  fmt: FloatFormat,
  p: number,
  rc: number,
  mode: number,
): number {
  // Significand words may arrive as int32 (see wide.ts).
  ahi >>>= 0;
  alo >>>= 0;
  bhi >>>= 0;
  blo >>>= 0;
  if (eb > ea || (eb === ea && (bhi > ahi || (bhi === ahi && blo > alo)))) {
    let t = sa;
    sa = sb;
    sb = t;
    t = ea;
    ea = eb;
    eb = t;
    t = ahi;
    ahi = bhi;
    bhi = t;
    t = alo;
    alo = blo;
    blo = t;
  }
  shiftRight96(bhi | 0, blo | 0, 0, 0, ea - eb);
  const b2 = W.w2;
  const b1 = W.w1;
  const b0 = W.w0;
  let sticky = W.sticky;
  if (sa === sb) {
    let s1 = alo + b1;
    let s2 = ahi + b2 + (s1 > 0xffffffff ? 1 : 0);
    s1 >>>= 0;
    let s0 = b0;
    if (s2 > 0xffffffff) {
      // Carry out of bit 63: one more integer bit, shift right by one.
      sticky |= s0 & 1;
      s0 = ((s0 >>> 1) | (s1 << 31)) >>> 0;
      s1 = ((s1 >>> 1) | (s2 << 31)) >>> 0;
      s2 = ((s2 >>> 0) >>> 1) | 0x80000000;
      ea += 1;
    }
    return roundPack(out, sa, ea, s2 | 0, s1 | 0, s0 | 0, sticky, fmt, p, rc, mode);
  }
  // |a| ≥ |b|: a − b. Bits of b shifted out below bit 0 (sticky) make the true difference
  // r − 1 + (something in (0,1)), so subtract one more unit and keep sticky set.
  let r0 = -b0 - sticky;
  let borrow = 0;
  if (r0 < 0) {
    r0 += 0x100000000;
    borrow = 1;
  }
  let r1 = alo - b1 - borrow;
  borrow = 0;
  if (r1 < 0) {
    r1 += 0x100000000;
    borrow = 1;
  }
  const r2 = ahi - b2 - borrow;
  if (r2 === 0 && r1 === 0 && r0 === 0 && sticky === 0) {
    out.signExp = rc === RC_DOWN ? 0x8000 : 0;
    out.hi = 0;
    out.lo = 0;
    return 0;
  }
  // Only a cancellation (exponent difference ≤ 1, so sticky = 0) shifts by more than one bit.
  const n = normalize96(r2 | 0, r1 | 0, r0 | 0);
  return roundPack(out, sa, ea - n, W.w2 | 0, W.w1 | 0, W.w0 | 0, sticky, fmt, p, rc, mode);
}
