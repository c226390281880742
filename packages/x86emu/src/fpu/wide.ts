/**
 * Unsigned integer helpers on 32-bit words for the significand arithmetic: a 96-bit value is
 * (w2, w1, w0), most significant first, plus a sticky bit for anything shifted out below.
 * Results land in the exported scratch `W` (no allocation per operation). Word arguments may
 * be passed as int32 (`x | 0`, which V8 passes unboxed); each function reads them as unsigned.
 */
export const W = { w2: 0, w1: 0, w0: 0, sticky: 0 };

/** W = (w2:w1:w0 >> n) with every shifted-out one bit ORed into `sticky`. */
export function shiftRight96(w2: number, w1: number, w0: number, sticky: number, n: number): void {
  w2 >>>= 0;
  w1 >>>= 0;
  w0 >>>= 0;
  if (n >= 96) {
    W.sticky = sticky | (w2 | w1 | w0 ? 1 : 0);
    W.w2 = W.w1 = W.w0 = 0;
    return;
  }
  while (n >= 32) {
    sticky |= w0 ? 1 : 0;
    w0 = w1;
    w1 = w2;
    w2 = 0;
    n -= 32;
  }
  if (n > 0) {
    sticky |= w0 << (32 - n) ? 1 : 0;
    w0 = ((w0 >>> n) | (w1 << (32 - n))) >>> 0;
    w1 = ((w1 >>> n) | (w2 << (32 - n))) >>> 0;
    w2 = w2 >>> n;
  }
  W.w2 = w2;
  W.w1 = w1;
  W.w0 = w0;
  W.sticky = sticky;
}

/** W = w2:w1:w0 shifted left until bit 95 is set; returns the shift (w must be non-zero). */
export function normalize96(w2: number, w1: number, w0: number): number {
  w2 >>>= 0;
  w1 >>>= 0;
  w0 >>>= 0;
  let n = 0;
  while (w2 === 0) {
    w2 = w1;
    w1 = w0;
    w0 = 0;
    n += 32;
  }
  const z = Math.clz32(w2);
  if (z) {
    w2 = ((w2 << z) | (w1 >>> (32 - z))) >>> 0;
    w1 = ((w1 << z) | (w0 >>> (32 - z))) >>> 0;
    w0 = (w0 << z) >>> 0;
  }
  W.w2 = w2;
  W.w1 = w1;
  W.w0 = w0;
  return n + z;
}

/** Number of leading zero bits of the 64-bit hi:lo (64 for zero). */
export function clz64(hi: number, lo: number): number {
  return hi ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

/** W.w2:W.w1 = hi:lo << n (0 ≤ n < 64), W.w0 = 0. */
export function shiftLeft64(hi: number, lo: number, n: number): void {
  if (n >= 32) {
    hi = lo << (n - 32);
    lo = 0;
  } else if (n > 0) {
    hi = (hi << n) | (lo >>> (32 - n));
    lo <<= n;
  }
  W.w2 = hi >>> 0;
  W.w1 = lo >>> 0;
  W.w0 = 0;
}

/**
 * Full 128-bit product of two 64-bit values: M[0] (bits 127-96) … M[3] (bits 31-0). 16-bit
 * limbs keep every partial product and column sum below 2^53, so plain numbers stay exact.
 */
export const M = new Uint32Array(4);
export function mul64(ahi: number, alo: number, bhi: number, blo: number): void {
  const a0 = alo & 0xffff;
  const a1 = alo >>> 16;
  const a2 = ahi & 0xffff;
  const a3 = ahi >>> 16;
  const b0 = blo & 0xffff;
  const b1 = blo >>> 16;
  const b2 = bhi & 0xffff;
  const b3 = bhi >>> 16;
  // Column sums stay below 2^35; `& 0xffff` is exact on them (ToInt32 is mod 2^32) and the
  // carry is an exact division by 2^16.
  let v = a0 * b0;
  const l0 = v & 0xffff;
  v = (v - l0) / 65536 + a0 * b1 + a1 * b0;
  const l1 = v & 0xffff;
  v = (v - l1) / 65536 + a0 * b2 + a1 * b1 + a2 * b0;
  const l2 = v & 0xffff;
  v = (v - l2) / 65536 + a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
  const l3 = v & 0xffff;
  v = (v - l3) / 65536 + a1 * b3 + a2 * b2 + a3 * b1;
  const l4 = v & 0xffff;
  v = (v - l4) / 65536 + a2 * b3 + a3 * b2;
  const l5 = v & 0xffff;
  v = (v - l5) / 65536 + a3 * b3;
  const l6 = v & 0xffff;
  const l7 = (v - l6) / 65536;
  M[3] = ((l1 << 16) | l0) >>> 0;
  M[2] = ((l3 << 16) | l2) >>> 0;
  M[1] = ((l5 << 16) | l4) >>> 0;
  M[0] = ((l7 << 16) | l6) >>> 0;
}
