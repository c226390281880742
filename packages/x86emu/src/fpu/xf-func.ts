/**
 * Elementary functions on Xf (128-bit significands) by their Taylor-type series, for the x87
 * transcendental instructions: ln(1+u) for small u, expm1, atan on [0, 1], sin and cos on
 * [0, π/4]. Each sums until the terms fall 130 bits below the running sum.
 */
import { Xf, xfAdd, xfCopy, xfDiv, xfDivInt, xfMul, xfSet64, xfSetInt, xfSub } from './xf.js';

const A = new Xf();
const B = new Xf();
const TERM = new Xf();
const POW = new Xf();
const SQ = new Xf();
const SUM = new Xf();
const L1 = new Xf();
const ONE = xfSetInt(new Xf(), 1);

/** π/4 and ln 2 to 128 bits (hex digits of π from the FLDPI table, extended). */
export const PI_4 = xfSet128(0, -1, 0xc90fdaa2, 0x2168c234, 0xc4c6628b, 0x80dc1cd1);
export const LN2 = xfSet128(0, -1, 0xb17217f7, 0xd1cf79ab, 0xc9e3b398, 0x03f2f6af);

function xfSet128(sign: number, exp: number, w0: number, w1: number, w2: number, w3: number): Xf {
  const x = new Xf();
  x.sign = sign;
  x.exp = exp;
  x.zero = false;
  x.m[0] = w0;
  x.m[1] = w1;
  x.m[2] = w2;
  x.m[3] = w3;
  return x;
}

/**
 * Which way the true value lies from the last series result when its very first correction
 * term was already negligible (the result is then an exact product or the argument itself):
 * −1 toward zero, +1 away from zero, 0 unknown (then only "not exact" is known).
 */
export const TAIL = { dir: 0 };

function negligible(term: Xf, sum: Xf): boolean {
  return term.zero || (!sum.zero && term.exp < sum.exp - 130);
}

/**
 * dst = ln(1 + u) for |u| ≤ ~0.5 via 2·atanh(s), s = u / (2 + u): s^(2k+1)/(2k+1) terms.
 */
export function xfLog1p(dst: Xf, u: Xf): Xf {
  if (u.zero) return xfCopy(dst, u);
  xfSetInt(L1, 2);
  xfAdd(L1, L1, u); // 2 + u
  xfDiv(POW, u, L1); // s
  xfMul(SQ, POW, POW); // s²
  xfCopy(SUM, POW);
  for (let k = 1; k < 200; k++) {
    xfMul(POW, POW, SQ);
    xfDivInt(TERM, POW, 2 * k + 1);
    if (negligible(TERM, SUM)) break;
    xfAdd(SUM, SUM, TERM);
  }
  SUM.exp += 1;
  return xfCopy(dst, SUM);
}

/** dst = e^t − 1 for |t| ≤ ~0.75: t + t²/2! + … */
export function xfExpm1(dst: Xf, t: Xf): Xf {
  if (t.zero) return xfCopy(dst, t);
  xfCopy(TERM, t);
  xfCopy(SUM, t);
  for (let k = 2; k < 200; k++) {
    xfMul(TERM, TERM, t);
    xfDivInt(TERM, TERM, k);
    if (negligible(TERM, SUM)) break;
    xfAdd(SUM, SUM, TERM);
  }
  return xfCopy(dst, SUM);
}

/**
 * dst = atan(z) for 0 ≤ z ≤ 1. Above tan(π/8) the argument is moved by π/4:
 * atan(z) = π/4 + atan((z − 1)/(z + 1)); then z − z³/3 + z⁵/5 − …
 */
export function xfAtan(dst: Xf, z: Xf): Xf {
  if (z.zero) return xfCopy(dst, z);
  let shifted = false;
  xfCopy(B, z);
  TAIL.dir = 0;
  // tan(π/8) ≈ 0.4142: compare by exponent and leading word (0.4142 = 0x6A09E667 × 2^-32).
  if (z.exp > -2 || (z.exp === -2 && z.m[0] > 0xd413cccf)) {
    xfSub(A, z, ONE);
    xfAdd(B, z, ONE);
    xfDiv(B, A, B);
    shifted = true;
  }
  xfMul(SQ, B, B);
  xfCopy(POW, B);
  xfCopy(SUM, B);
  for (let k = 1; k < 400; k++) {
    xfMul(POW, POW, SQ);
    xfDivInt(TERM, POW, 2 * k + 1);
    if (negligible(TERM, SUM)) {
      if (k === 1 && !shifted) TAIL.dir = -1; // atan z < z
      break;
    }
    if (k & 1) xfSub(SUM, SUM, TERM);
    else xfAdd(SUM, SUM, TERM);
  }
  if (shifted) xfAdd(SUM, SUM, PI_4);
  return xfCopy(dst, SUM);
}

/** dst = sin(r) for |r| ≤ π/4. */
export function xfSin(dst: Xf, r: Xf): Xf {
  if (r.zero) return xfCopy(dst, r);
  xfMul(SQ, r, r);
  xfCopy(TERM, r);
  xfCopy(SUM, r);
  TAIL.dir = 0;
  for (let k = 1; k < 100; k++) {
    xfMul(TERM, TERM, SQ);
    xfDivInt(TERM, TERM, 2 * k * (2 * k + 1));
    if (negligible(TERM, SUM)) {
      if (k === 1) TAIL.dir = -1; // sin r < r
      break;
    }
    if (k & 1) xfSub(SUM, SUM, TERM);
    else xfAdd(SUM, SUM, TERM);
  }
  return xfCopy(dst, SUM);
}

/** dst = cos(r) for |r| ≤ π/4. */
export function xfCos(dst: Xf, r: Xf): Xf {
  xfMul(SQ, r, r);
  xfCopy(TERM, ONE);
  xfCopy(SUM, ONE);
  if (r.zero) return xfCopy(dst, SUM);
  for (let k = 1; k < 100; k++) {
    xfMul(TERM, TERM, SQ);
    xfDivInt(TERM, TERM, (2 * k - 1) * (2 * k));
    if (negligible(TERM, SUM)) break;
    if (k & 1) xfSub(SUM, SUM, TERM);
    else xfAdd(SUM, SUM, TERM);
  }
  return xfCopy(dst, SUM);
}

/** dst = log2(x) for a finite positive 64-bit x = 1.f × 2^e (hi:lo normalised). */
export function xfLog2(dst: Xf, e: number, hi: number, lo: number): Xf {
  // x = m × 2^e, m in [1, 2); take m in [√½, √2) so that ln m's series converges fast.
  xfSet64(A, 0, 0, hi, lo);
  if (hi > 0xb504f333) {
    A.exp -= 1;
    e += 1;
  }
  xfSub(A, A, ONE); // m − 1
  xfLog1p(A, A); // ln m
  xfDiv(A, A, LN2); // log2 m
  xfSetInt(B, Math.abs(e));
  B.sign = e < 0 ? 1 : 0;
  if (e === 0) return xfCopy(dst, A);
  return xfAdd(dst, B, A);
}
