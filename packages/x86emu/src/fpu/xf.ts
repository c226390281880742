/**
 * A wider float for the transcendental instructions: sign, exponent and a 128-bit significand
 * in four 32-bit words (m[0] most significant, bit 127 set; value = 1.f × 2^exp). Operations
 * truncate to 128 bits, so a result carries an error of a few units in bit 120 at most —
 * far below the 64-bit result's ulp, which is what makes one final rounding trustworthy.
 * Values live in preallocated `Xf` objects; nothing here allocates per call.
 */
export class Xf {
  sign = 0;
  exp = 0;
  /** 0 for zero (m all zero). */
  zero = true;
  readonly m = new Uint32Array(4);
}

const T = new Uint32Array(5);
const P = new Float64Array(16);

export function xfCopy(dst: Xf, src: Xf): Xf {
  dst.sign = src.sign;
  dst.exp = src.exp;
  dst.zero = src.zero;
  dst.m.set(src.m);
  return dst;
}

export function xfSetZero(dst: Xf): Xf {
  dst.sign = 0;
  dst.exp = 0;
  dst.zero = true;
  dst.m.fill(0);
  return dst;
}

/** dst = (-1)^sign × hi:lo × 2^(exp − 63) for a 64-bit hi:lo (normalised here). */
export function xfSet64(dst: Xf, sign: number, exp: number, hi: number, lo: number): Xf {
  dst.m[0] = hi >>> 0;
  dst.m[1] = lo >>> 0;
  dst.m[2] = 0;
  dst.m[3] = 0;
  dst.sign = sign;
  dst.exp = exp;
  dst.zero = false;
  return normalize(dst);
}

/** dst = a small non-negative integer n (< 2^32). */
export function xfSetInt(dst: Xf, n: number): Xf {
  if (n === 0) return xfSetZero(dst);
  return xfSet64(dst, 0, 63, 0, n);
}

/** Shifts left until bit 127 is set (exp adjusted); marks zero. */
function normalize(x: Xf): Xf {
  const m = x.m;
  if ((m[0] | m[1] | m[2] | m[3]) === 0) return xfSetZero(x);
  while (m[0] === 0) {
    m[0] = m[1];
    m[1] = m[2];
    m[2] = m[3];
    m[3] = 0;
    x.exp -= 32;
  }
  const z = Math.clz32(m[0]);
  if (z) {
    m[0] = ((m[0] << z) | (m[1] >>> (32 - z))) >>> 0;
    m[1] = ((m[1] << z) | (m[2] >>> (32 - z))) >>> 0;
    m[2] = ((m[2] << z) | (m[3] >>> (32 - z))) >>> 0;
    m[3] = (m[3] << z) >>> 0;
    x.exp -= z;
  }
  x.zero = false;
  return x;
}

/** T[0..4] = m >> n as a 160-bit value (m in T[0..3], T[4] the bits below), n ≥ 0. */
function shiftInto(m: Uint32Array, n: number): void {
  T[0] = m[0];
  T[1] = m[1];
  T[2] = m[2];
  T[3] = m[3];
  T[4] = 0;
  if (n >= 160) {
    T.fill(0);
    return;
  }
  while (n >= 32) {
    T[4] = T[3];
    T[3] = T[2];
    T[2] = T[1];
    T[1] = T[0];
    T[0] = 0;
    n -= 32;
  }
  if (n > 0) {
    for (let i = 4; i > 0; i--) T[i] = ((T[i] >>> n) | (T[i - 1] << (32 - n))) >>> 0;
    T[0] >>>= n;
  }
}

/** dst = a + b (dst may alias either). */
export function xfAdd(dst: Xf, a: Xf, b: Xf): Xf {
  if (a.zero) return xfCopy(dst, b);
  if (b.zero) return xfCopy(dst, a);
  // Order by magnitude: big ≥ small.
  let big = a;
  let small = b;
  if (b.exp > a.exp || (b.exp === a.exp && cmpWords(b.m, a.m) > 0)) {
    big = b;
    small = a;
  }
  const sign = big.sign;
  const exp = big.exp;
  shiftInto(small.m, big.exp - small.exp);
  const s0 = T[0];
  const s1 = T[1];
  const s2 = T[2];
  const s3 = T[3];
  const s4 = T[4];
  const g = big.m;
  let r4: number;
  let r3: number;
  let r2: number;
  let r1: number;
  let r0: number;
  let e = exp;
  if (sign === small.sign) {
    r4 = s4;
    let c = g[3] + s3;
    r3 = c >>> 0;
    c = g[2] + s2 + (c > 0xffffffff ? 1 : 0);
    r2 = c >>> 0;
    c = g[1] + s1 + (c > 0xffffffff ? 1 : 0);
    r1 = c >>> 0;
    c = g[0] + s0 + (c > 0xffffffff ? 1 : 0);
    r0 = c >>> 0;
    if (c > 0xffffffff) {
      r4 = ((r4 >>> 1) | (r3 << 31)) >>> 0;
      r3 = ((r3 >>> 1) | (r2 << 31)) >>> 0;
      r2 = ((r2 >>> 1) | (r1 << 31)) >>> 0;
      r1 = ((r1 >>> 1) | (r0 << 31)) >>> 0;
      r0 = ((r0 >>> 1) | 0x80000000) >>> 0;
      e += 1;
    }
  } else {
    let d = 0 - s4;
    let br = d < 0 ? 1 : 0;
    r4 = d >>> 0;
    d = g[3] - s3 - br;
    br = d < 0 ? 1 : 0;
    r3 = d >>> 0;
    d = g[2] - s2 - br;
    br = d < 0 ? 1 : 0;
    r2 = d >>> 0;
    d = g[1] - s1 - br;
    br = d < 0 ? 1 : 0;
    r1 = d >>> 0;
    r0 = (g[0] - s0 - br) >>> 0;
  }
  // Normalise the 160-bit result into 128 bits.
  if ((r0 | r1 | r2 | r3 | r4) === 0) return xfSetZero(dst);
  while (r0 === 0) {
    r0 = r1;
    r1 = r2;
    r2 = r3;
    r3 = r4;
    r4 = 0;
    e -= 32;
  }
  const z = Math.clz32(r0);
  if (z) {
    r0 = ((r0 << z) | (r1 >>> (32 - z))) >>> 0;
    r1 = ((r1 << z) | (r2 >>> (32 - z))) >>> 0;
    r2 = ((r2 << z) | (r3 >>> (32 - z))) >>> 0;
    r3 = ((r3 << z) | (r4 >>> (32 - z))) >>> 0;
    e -= z;
  }
  dst.m[0] = r0;
  dst.m[1] = r1;
  dst.m[2] = r2;
  dst.m[3] = r3;
  dst.sign = sign;
  dst.exp = e;
  dst.zero = false;
  return dst;
}

/** dst = a − b. */
export function xfSub(dst: Xf, a: Xf, b: Xf): Xf {
  xfCopy(NEG, b);
  NEG.sign ^= 1;
  return xfAdd(dst, a, NEG);
}
const NEG = new Xf();

function cmpWords(a: Uint32Array, b: Uint32Array): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i] > b[i] ? 1 : -1;
  return 0;
}

/** dst = a × b (top 128 bits of the 256-bit product). */
export function xfMul(dst: Xf, a: Xf, b: Xf): Xf {
  if (a.zero || b.zero) return xfSetZero(dst);
  // 16-bit limbs, least significant first.
  const al = LA;
  const bl = LB;
  for (let i = 0; i < 4; i++) {
    al[7 - 2 * i] = a.m[i] >>> 16;
    al[6 - 2 * i] = a.m[i] & 0xffff;
    bl[7 - 2 * i] = b.m[i] >>> 16;
    bl[6 - 2 * i] = b.m[i] & 0xffff;
  }
  P.fill(0);
  for (let i = 0; i < 8; i++) {
    const ai = al[i];
    if (ai === 0) continue;
    for (let j = 0; j < 8; j++) P[i + j] += ai * bl[j];
  }
  // Carry-propagate into 16-bit limbs; keep the top 8 (bits 255-128) and OR the rest as sticky.
  let carry = 0;
  for (let k = 0; k < 16; k++) {
    const v = P[k] + carry;
    const limb = v % 65536;
    carry = (v - limb) / 65536;
    P[k] = limb;
  }
  const sign = a.sign ^ b.sign;
  let e = a.exp + b.exp;
  for (let i = 0; i < 4; i++) dst.m[i] = ((P[15 - 2 * i] << 16) | P[14 - 2 * i]) >>> 0;
  // Product of [1,2)×[1,2) is in [1,4): bit 255 set means ≥ 2.
  if (dst.m[0] & 0x80000000) e += 1;
  else {
    const next = P[7] >>> 15; // bit 127 of the product
    dst.m[0] = ((dst.m[0] << 1) | (dst.m[1] >>> 31)) >>> 0;
    dst.m[1] = ((dst.m[1] << 1) | (dst.m[2] >>> 31)) >>> 0;
    dst.m[2] = ((dst.m[2] << 1) | (dst.m[3] >>> 31)) >>> 0;
    dst.m[3] = ((dst.m[3] << 1) | next) >>> 0;
  }
  dst.sign = sign;
  dst.exp = e;
  dst.zero = false;
  return dst;
}
const LA = new Float64Array(8);
const LB = new Float64Array(8);

/** dst = a / b (b non-zero): 128 quotient bits by restoring division. */
export function xfDiv(dst: Xf, a: Xf, b: Xf): Xf {
  if (a.zero) return xfSetZero(dst);
  const R = DR;
  const B = b.m;
  R[0] = 0;
  R.set(a.m, 1);
  let e = a.exp - b.exp;
  if (cmpWords(a.m, B) < 0) {
    shl5(R);
    e -= 1;
  }
  const q = DQ;
  q.fill(0);
  for (let i = 0; i < 128; i++) {
    // R ≥ B (with R's extra top word)?
    let ge = R[0] !== 0;
    if (!ge) {
      ge = true;
      for (let k = 0; k < 4; k++)
        if (R[k + 1] !== B[k]) {
          ge = R[k + 1] > B[k];
          break;
        }
    }
    if (ge) {
      let br = 0;
      for (let k = 3; k >= 0; k--) {
        const d = R[k + 1] - B[k] - br;
        br = d < 0 ? 1 : 0;
        R[k + 1] = d >>> 0;
      }
      R[0] = (R[0] - br) >>> 0;
      q[i >>> 5] |= 0x80000000 >>> (i & 31);
    }
    shl5(R);
  }
  dst.m.set(q);
  dst.sign = a.sign ^ b.sign;
  dst.exp = e;
  dst.zero = false;
  return dst;
}
const DR = new Uint32Array(5);
const DQ = new Uint32Array(4);

function shl5(r: Uint32Array): void {
  for (let k = 0; k < 4; k++) r[k] = ((r[k] << 1) | (r[k + 1] >>> 31)) >>> 0;
  r[4] = (r[4] << 1) >>> 0;
}

/** dst = a / n for a small positive integer n (< 2^16). */
export function xfDivInt(dst: Xf, a: Xf, n: number): Xf {
  if (a.zero) return xfSetZero(dst);
  // Long division in 16-bit digits: remainders stay below 2^16, partials below 2^32.
  let rem = 0;
  const q = DQ;
  for (let i = 0; i < 4; i++) {
    const w = a.m[i];
    let t = rem * 65536 + (w >>> 16);
    const qh = Math.floor(t / n);
    rem = t - qh * n;
    t = rem * 65536 + (w & 0xffff);
    const ql = Math.floor(t / n);
    rem = t - ql * n;
    q[i] = ((qh << 16) | ql) >>> 0;
  }
  // Two more words of quotient bits below, so normalising keeps 128 good bits.
  let t = rem * 65536;
  const x1 = Math.floor(t / n);
  rem = t - x1 * n;
  t = rem * 65536;
  const x2 = Math.floor(t / n);
  const extra = ((x1 << 16) | x2) >>> 0;
  dst.sign = a.sign;
  dst.exp = a.exp;
  dst.zero = false;
  const z = q[0] ? Math.clz32(q[0]) : 32;
  // n < 2^16 so at most 16 leading zeros.
  dst.m[0] = z ? ((q[0] << z) | (q[1] >>> (32 - z))) >>> 0 : q[0];
  dst.m[1] = z ? ((q[1] << z) | (q[2] >>> (32 - z))) >>> 0 : q[1];
  dst.m[2] = z ? ((q[2] << z) | (q[3] >>> (32 - z))) >>> 0 : q[2];
  dst.m[3] = z ? ((q[3] << z) | (extra >>> (32 - z))) >>> 0 : q[3];
  dst.exp -= z;
  return dst;
}

/** dst = a × 2^k. */
export function xfScale(dst: Xf, a: Xf, k: number): Xf {
  xfCopy(dst, a);
  if (!dst.zero) dst.exp += k;
  return dst;
}

/** Top 96 bits and a sticky bit of x's significand, for roundPack: [w2, w1, w0, sticky]. */
export function xfTop(x: Xf): void {
  XT.w2 = x.m[0];
  XT.w1 = x.m[1];
  XT.w0 = x.m[2];
  XT.sticky = x.m[3] ? 1 : 0;
}
export const XT = { w2: 0, w1: 0, w0: 0, sticky: 0 };
