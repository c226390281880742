/** Exact division of two finite non-zero values, then one rounding (SDM Vol. 1 4.8.4). */
import type { Ext80 } from './float80.js';
import { type FloatFormat, roundPack } from './round.js';

/**
 * out = (-1)^(sa^sb)·(A/B)·2^(ea-eb). Restoring division, one quotient bit per step: 66 bits
 * (64, a guard bit and one more) and the remainder as the sticky bit are all rounding needs.
 */
export function divCore(
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
  let e = ea - eb;
  // Remainder rt:rh:rl (rt is bit 64).
  let rt = 0;
  let rh = ahi;
  let rl = alo;
  if (rh < bhi || (rh === bhi && rl < blo)) {
    // A < B: the quotient is below 1; start from 2A.
    e -= 1;
    rt = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
  }
  let q2 = 0;
  let q1 = 0;
  let q0 = 0;
  for (let i = 0; i < 66; i++) {
    let bit = 0;
    if (rt || rh > bhi || (rh === bhi && rl >= blo)) {
      bit = 1;
      let l = rl - blo;
      let borrow = 0;
      if (l < 0) {
        l += 0x100000000;
        borrow = 1;
      }
      rh = rh - bhi - borrow;
      if (rh < 0) rh += 0x100000000; // the borrow is absorbed by rt
      rl = l;
      rt = 0;
    }
    q2 = ((q2 << 1) | (q1 >>> 31)) >>> 0;
    q1 = ((q1 << 1) | (q0 >>> 31)) >>> 0;
    q0 = ((q0 << 1) | bit) >>> 0;
    rt = rh >>> 31;
    rh = ((rh << 1) | (rl >>> 31)) >>> 0;
    rl = (rl << 1) >>> 0;
  }
  // 66 bits in q2:q1:q0 (low bits of q0): left-align to bit 95.
  const w2 = ((q2 << 30) | (q1 >>> 2)) >>> 0;
  const w1 = ((q1 << 30) | (q0 >>> 2)) >>> 0;
  const w0 = (q0 << 30) >>> 0;
  const sticky = rt | rh | rl ? 1 : 0;
  return roundPack(out, sa ^ sb, e, w2, w1, w0, sticky, fmt, p, rc, mode);
}
