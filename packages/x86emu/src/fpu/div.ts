/** Exact division of two finite non-zero values, then one rounding (SDM Vol. 1 4.8.4). */
import type { Ext80 } from './float80.js';
import { type FloatFormat, roundPack } from './round.js';

/** The partial remainder as five 16-bit limbs (least significant first) during a step. */
const NL = new Int32Array(5);
/**
 * The partial remainder R as [high, low] words: a typed array, since a module variable holding
 * a word ≥ 2^31 is a heap number allocated at every store.
 */
const REM = new Uint32Array(2);

/**
 * One radix-2^16 long-division step: R = R·2^16 + inLimb − q·B with the quotient digit q, for
 * R < B (R is set with setRemainder and read with remainderHi/Lo).
 * q is estimated from doubles (off by at most one, since R·2^16/B < 2^16 and the estimate's
 * error is far below 1) and then corrected exactly on the limbs, so the result is exact.
 */
export function divStep(bhi: number, blo: number, inLimb: number): number {
  bhi >>>= 0; // int32 words accepted (see wide.ts)
  blo >>>= 0;
  const rh = REM[0];
  const rl = REM[1];
  let q = Math.floor(((rh * 4294967296 + rl) * 65536) / (bhi * 4294967296 + blo));
  if (q > 65535) q = 65535;
  const b0 = blo & 0xffff;
  const b1 = blo >>> 16;
  const b2 = bhi & 0xffff;
  const b3 = bhi >>> 16;
  // N = R·2^16 − q·B, limb by limb; `& 0xffff` is the exact residue (ToInt32 is mod 2^32).
  let t = inLimb - q * b0;
  NL[0] = t & 0xffff;
  let c = (t - NL[0]) / 65536;
  t = (rl & 0xffff) - q * b1 + c;
  NL[1] = t & 0xffff;
  c = (t - NL[1]) / 65536;
  t = (rl >>> 16) - q * b2 + c;
  NL[2] = t & 0xffff;
  c = (t - NL[2]) / 65536;
  t = (rh & 0xffff) - q * b3 + c;
  NL[3] = t & 0xffff;
  c = (t - NL[3]) / 65536;
  t = (rh >>> 16) + c;
  NL[4] = t & 0xffff;
  c = (t - NL[4]) / 65536; // −1 when the estimate was one too large
  while (c < 0) {
    q -= 1;
    c += addB(b0, b1, b2, b3);
  }
  while (NL[4] !== 0 || geB(bhi | 0, blo | 0)) {
    q += 1;
    subB(b0, b1, b2, b3);
  }
  REM[0] = (NL[3] << 16) | NL[2];
  REM[1] = (NL[1] << 16) | NL[0];
  return q;
}

export function setRemainder(hi: number, lo: number): void {
  REM[0] = hi;
  REM[1] = lo;
}

/** NL += B; returns the carry out of limb 4. */
function addB(b0: number, b1: number, b2: number, b3: number): number {
  let t = NL[0] + b0;
  NL[0] = t & 0xffff;
  t = NL[1] + b1 + (t >>> 16);
  NL[1] = t & 0xffff;
  t = NL[2] + b2 + (t >>> 16);
  NL[2] = t & 0xffff;
  t = NL[3] + b3 + (t >>> 16);
  NL[3] = t & 0xffff;
  t = NL[4] + (t >>> 16);
  NL[4] = t & 0xffff;
  return t >>> 16;
}

function subB(b0: number, b1: number, b2: number, b3: number): void {
  let t = NL[0] - b0;
  NL[0] = t & 0xffff;
  t = NL[1] - b1 + (t >> 16);
  NL[1] = t & 0xffff;
  t = NL[2] - b2 + (t >> 16);
  NL[2] = t & 0xffff;
  t = NL[3] - b3 + (t >> 16);
  NL[3] = t & 0xffff;
  NL[4] = (NL[4] + (t >> 16)) & 0xffff;
}

function geB(bhi: number, blo: number): boolean {
  bhi >>>= 0;
  blo >>>= 0;
  const h = ((NL[3] << 16) | NL[2]) >>> 0;
  const l = ((NL[1] << 16) | NL[0]) >>> 0;
  return h > bhi || (h === bhi && l >= blo);
}

/**
 * out = (-1)^(sa^sb)·(A/B)·2^(ea-eb): the integer bit, then five 16-bit quotient digits (81
 * bits in all) and the remainder as the sticky bit, which is all one rounding needs.
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
  ahi >>>= 0; // int32 words accepted (see wide.ts)
  alo >>>= 0;
  bhi >>>= 0;
  blo >>>= 0;
  let e = ea - eb;
  // R = A − B, or 2A − B when A < B (then the quotient's exponent is one lower).
  let th = ahi;
  let tl = alo;
  if (ahi < bhi || (ahi === bhi && alo < blo)) {
    // 2A has 65 bits; 2A − B < B fits 64, the wrap of the top word below absorbs bit 64.
    e -= 1;
    th = ((th << 1) | (tl >>> 31)) >>> 0;
    tl = (tl << 1) >>> 0;
  }
  let l = tl - blo;
  let borrow = 0;
  if (l < 0) {
    l += 0x100000000;
    borrow = 1;
  }
  let h = th - bhi - borrow;
  if (h < 0) h += 0x100000000;
  REM[0] = h;
  REM[1] = l;
  const bh = bhi | 0;
  const bl = blo | 0;
  const d0 = divStep(bh, bl, 0);
  const d1 = divStep(bh, bl, 0);
  const d2 = divStep(bh, bl, 0);
  const d3 = divStep(bh, bl, 0);
  const d4 = divStep(bh, bl, 0);
  // 1.d0 d1 d2 d3 d4: left-align the 81 bits at bit 95.
  const w2 = (0x80000000 | (d0 << 15) | (d1 >>> 1)) >>> 0;
  const w1 = ((d1 << 31) | (d2 << 15) | (d3 >>> 1)) >>> 0;
  const w0 = ((d3 << 31) | (d4 << 15)) >>> 0;
  const sticky = REM[0] | REM[1] ? 1 : 0;
  return roundPack(out, sa ^ sb, e, w2 | 0, w1 | 0, w0 | 0, sticky, fmt, p, rc, mode);
}
