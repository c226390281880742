/** Exact square root of a finite positive value, then one rounding (SDM Vol. 1 4.8.4). */
import { divStep, setRemainder } from './div.js';
import type { Ext80 } from './float80.js';
import { type FloatFormat, roundPack } from './round.js';
import { M, mul64 } from './wide.js';

/**
 * out = sqrt(A·2^e) for a 64-bit normalised A. With X = A·2^s (s = 63 or 64, so that the
 * exponent left over is even) the root R = floor(sqrt(X)) has exactly 64 bits. R comes from a
 * double-precision estimate, one Newton step in integer arithmetic (R + X/R)/2 — from above,
 * so it lands on R or R+1 — and an exact check of R² ≤ X. The remainder X − R² then gives the
 * guard bit (the next root bit is 1 iff X − R² > R) and the sticky bit.
 */
export function sqrtCore(
  out: Ext80,
  e: number,
  ahi: number,
  alo: number,
  fmt: FloatFormat,
  p: number,
  rc: number,
  mode: number,
): number {
  ahi >>>= 0; // int32 words accepted (see wide.ts)
  alo >>>= 0;
  const odd = e & 1;
  const s = odd ? 64 : 63;
  const re = (e - odd) / 2;
  // X = x0:x1:x2:x3 (128 bits, x3 = 0).
  const x0 = s === 64 ? ahi : ahi >>> 1;
  const x1 = s === 64 ? alo : ((ahi << 31) | (alo >>> 1)) >>> 0;
  const x2 = s === 64 ? 0 : (alo << 31) >>> 0;
  // Estimate (53 bits good) and clamp into [2^63, 2^64).
  const est = Math.sqrt((ahi * 4294967296 + alo) * (s === 64 ? 1 : 0.5)) * 4294967296;
  let rh = Math.floor(est / 4294967296);
  let rl = est - rh * 4294967296;
  if (rh > 0xffffffff) {
    rh = 0xffffffff;
    rl = 0xfffff800;
  } else if (rh < 0x80000000) {
    rh = 0x80000000;
    rl = 0;
  }
  // Q = floor(X / R): the top 64 bits first (they may exceed R once), then four digits.
  let qTop = 0;
  let th = x0;
  let tl = x1;
  while (th > rh || (th === rh && tl >= rl)) {
    let l = tl - rl;
    let b = 0;
    if (l < 0) {
      l += 0x100000000;
      b = 1;
    }
    th = th - rh - b;
    tl = l;
    qTop++;
  }
  setRemainder(th | 0, tl | 0);
  const q0 = divStep(rh | 0, rl | 0, x2 >>> 16);
  const q1 = divStep(rh | 0, rl | 0, x2 & 0xffff);
  const q2 = divStep(rh | 0, rl | 0, 0);
  const q3 = divStep(rh | 0, rl | 0, 0);
  // R' = floor((R + Q) / 2), Q = qTop·2^64 + q0:q1:q2:q3.
  let sl = rl + (((q2 << 16) | q3) >>> 0);
  const sh = rh + (((q0 << 16) | q1) >>> 0) + (sl > 0xffffffff ? 1 : 0) + qTop * 0x100000000;
  sl >>>= 0;
  // sh may reach 2^33: halve the 97-bit sum.
  rl = ((sl >>> 1) | ((sh % 2) << 31)) >>> 0;
  rh = Math.floor(sh / 2);
  if (rh > 0xffffffff) {
    rh = 0xffffffff;
    rl = 0xffffffff;
  }
  // Exact correction: while R² > X, R − 1; then the remainder X − R².
  for (;;) {
    mul64(rh | 0, rl | 0, rh | 0, rl | 0);
    if (
      M[0] > x0 ||
      (M[0] === x0 && (M[1] > x1 || (M[1] === x1 && (M[2] > x2 || (M[2] === x2 && M[3] !== 0)))))
    ) {
      if (rl === 0) {
        rl = 0xffffffff;
        rh -= 1;
      } else rl -= 1;
      continue;
    }
    break;
  }
  // rem = X − R² (fits in 65 bits as R² ≤ X < (R+1)²).
  let d3 = 0 - M[3];
  let br = d3 < 0 ? 1 : 0;
  d3 = d3 >>> 0;
  let d2 = x2 - M[2] - br;
  br = d2 < 0 ? 1 : 0;
  d2 = d2 >>> 0;
  let d1 = x1 - M[1] - br;
  br = d1 < 0 ? 1 : 0;
  d1 = d1 >>> 0;
  const d0 = (x0 - M[0] - br) >>> 0;
  // (R+1)² ≤ X would mean R was too small: the Newton step from above rules it out, but check.
  const remGtR = d0 !== 0 || d1 !== 0 || d2 > rh || (d2 === rh && d3 > rl);
  const remZero = (d0 | d1 | d2 | d3) === 0;
  const w0 = remGtR ? 0x80000000 : 0;
  const sticky = remZero ? 0 : 1;
  return roundPack(out, 0, re, rh | 0, rl | 0, w0 | 0, sticky, fmt, p, rc, mode);
}
