/**
 * The x87 transcendental instructions (SDM Vol. 2 F2XM1, FYL2X, FYL2XP1, FPATAN, FSIN, FCOS,
 * FSINCOS, FPTAN): special operands by the SDM's tables, finite ones computed on 128-bit
 * significands (xf-func.ts) and rounded once to 64 bits by RC. The CPU documents these as
 * accurate to about 1 ulp, not correctly rounded, so a result may differ from the CPU's in the
 * last bit (the tests compare within 1 ulp). Arguments of FSIN/FCOS/FSINCOS/FPTAN are reduced
 * exactly by the CPU's own 66-bit π (SDM Vol. 1 8.3.10), so results near multiples of π agree
 * with the CPU rather than with the true function.
 *
 * Each returns FE_* flags | SW_C1 (| SW_C2 for an out-of-range trigonometric operand, with
 * nothing written); an unmasked IE/DE/ZE means nothing was written.
 */
import { FE_DENORMAL, FE_DIVBYZERO, FE_INEXACT, SW_C2 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { FMT_EXT80, roundPack } from './round.js';
import { Unpacked, unpack80 } from './unpack.js';
import { registerMode, roundingOf } from './x87-control.js';
import { invalidResult80, propagateNaN80 } from './x87-nan.js';
import { Xf, xfAdd, xfDiv, xfMul, xfScale, xfSet64, xfSetInt, xfSub } from './xf.js';
import { LN2, PI_4, TAIL, xfAtan, xfCos, xfExpm1, xfLog1p, xfLog2, xfSin } from './xf-func.js';

const UA = new Unpacked();
const UB = new Unpacked();
const X = new Xf();
const Y = new Xf();
const R = new Xf();
const S = new Xf();
const K = new Xf();

function isDenormal(c: F80Class): boolean {
  return c === F80Class.Denormal || c === F80Class.PseudoDenormal;
}

/**
 * Rounds x (non-zero) to the 80-bit result. The true value is irrational, so below the 128
 * computed bits there is always something (sticky); when TAIL says it lies toward zero, the
 * significand is stepped down one unit at bit 0 first, so that an exactly representable x
 * rounds like the slightly smaller true value does.
 */
function deliver(out: Ext80, x: Xf, cw: number, tail: number): number {
  let w2 = x.m[0];
  let w1 = x.m[1];
  let w0 = x.m[2];
  let exp = x.exp;
  if (tail < 0 && x.m[3] === 0) {
    if (w2 === 0x80000000 && (w1 | w0) === 0) {
      // Just below a power of two: 1.11…1 × 2^(exp−1).
      w2 = w1 = w0 = 0xffffffff;
      exp -= 1;
    } else if (w0 !== 0) w0 -= 1;
    else {
      // w2:w1:w0 − 1 with a borrow through the words.
      w0 = 0xffffffff;
      if (w1 !== 0) w1 -= 1;
      else {
        w1 = 0xffffffff;
        w2 -= 1;
      }
    }
  }
  const f = roundPack(out, x.sign, exp, w2, w1, w0, 1, FMT_EXT80, 64, roundingOf(cw), registerMode(cw));
  return f | FE_INEXACT;
}

function set(out: Ext80, sign: number, kind: 'zero' | 'inf' | 'one'): void {
  if (kind === 'zero') out.set(sign << 15, 0, 0);
  else if (kind === 'inf') out.set((sign << 15) | 0x7fff, 0x80000000, 0);
  else out.set((sign << 15) | 0x3fff, 0x80000000, 0);
}

/** F2XM1: 2^x − 1 for −1 ≤ x ≤ 1 (other finite x: the SDM leaves the result undefined). */
export function f2xm1(a: Ext80, out: Ext80, cw: number): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  const masks = cw & 0x3f;
  if (c >= F80Class.QNaN) return propagateNaN80(a, c, a, c, out, masks);
  const sign = a.signExp >>> 15;
  if (c === F80Class.Zero) {
    out.copy(a);
    return 0;
  }
  if (c === F80Class.Infinity) {
    if (sign) set(out, 1, 'one');
    else set(out, 0, 'inf');
    return 0;
  }
  let flags = 0;
  if (isDenormal(c)) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  unpack80(UA, a.signExp, a.hi, a.lo);
  xfSet64(X, sign, UA.exp, UA.hi, UA.lo);
  xfMul(X, X, LN2);
  xfExpm1(R, X);
  return flags | deliver(out, R, cw, 0);
}

/** FYL2X: y × log2(x), x = ST0, y = ST1 (the caller stores into ST1 and pops). */
export function fyl2x(x: Ext80, y: Ext80, out: Ext80, cw: number): number {
  const cx = classify80(x.signExp, x.hi, x.lo);
  const cy = classify80(y.signExp, y.hi, y.lo);
  const masks = cw & 0x3f;
  if (cx >= F80Class.QNaN || cy >= F80Class.QNaN) return propagateNaN80(x, cx, y, cy, out, masks);
  const sx = x.signExp >>> 15;
  const sy = y.signExp >>> 15;
  const zx = cx === F80Class.Zero;
  const zy = cy === F80Class.Zero;
  const ix = cx === F80Class.Infinity;
  const iy = cy === F80Class.Infinity;
  if (sx && !zx) return invalidResult80(out, masks); // log of a negative number
  const isOne = cx === F80Class.Normal && x.signExp === 0x3fff && x.hi === 0x80000000 && x.lo === 0;
  if ((zx && zy) || (ix && zy) || (isOne && iy)) return invalidResult80(out, masks);
  if (zx && !iy) {
    if (!(masks & FE_DIVBYZERO)) return FE_DIVBYZERO;
    set(out, sy ^ 1, 'inf');
    return FE_DIVBYZERO;
  }
  let flags = isDenormal(cx) || isDenormal(cy) ? FE_DENORMAL : 0;
  if (flags & ~masks) return flags;
  if (zx) {
    set(out, sy ^ 1, 'inf'); // ±∞ × −∞
    return flags;
  }
  if (ix) {
    set(out, sy, 'inf');
    return flags;
  }
  // log2(x) < 0 for x < 1, 0 at 1, > 0 above.
  const below = (x.signExp & 0x7fff) < 0x3fff;
  if (iy) {
    set(out, sy ^ (below ? 1 : 0), 'inf');
    return flags;
  }
  if (isOne || zy) {
    set(out, sy ^ (below ? 1 : 0), 'zero');
    return flags;
  }
  unpack80(UA, x.signExp, x.hi, x.lo);
  unpack80(UB, y.signExp, y.hi, y.lo);
  xfLog2(R, UA.exp, UA.hi, UA.lo);
  if (R.zero) {
    set(out, sy ^ (below ? 1 : 0), 'zero');
    return flags;
  }
  xfSet64(Y, sy, UB.exp, UB.hi, UB.lo);
  xfMul(R, R, Y);
  flags |= deliver(out, R, cw, 0);
  return flags;
}

/** FYL2XP1: y × log2(x + 1) for |x| < 1 − √2/2 (x = ST0, y = ST1). */
export function fyl2xp1(x: Ext80, y: Ext80, out: Ext80, cw: number): number {
  const cx = classify80(x.signExp, x.hi, x.lo);
  const cy = classify80(y.signExp, y.hi, y.lo);
  const masks = cw & 0x3f;
  if (cx >= F80Class.QNaN || cy >= F80Class.QNaN) return propagateNaN80(x, cx, y, cy, out, masks);
  const sx = x.signExp >>> 15;
  const sy = y.signExp >>> 15;
  const zx = cx === F80Class.Zero;
  const zy = cy === F80Class.Zero;
  const iy = cy === F80Class.Infinity;
  if ((zx && iy) || (cx === F80Class.Infinity && zy)) return invalidResult80(out, masks);
  if (cx === F80Class.Infinity) {
    // Outside the documented domain; +∞ behaves as log2(∞) = ∞, −∞ is invalid.
    if (sx) return invalidResult80(out, masks);
    set(out, sy, 'inf');
    return 0;
  }
  const flags = isDenormal(cx) || isDenormal(cy) ? FE_DENORMAL : 0;
  if (flags & ~masks) return flags;
  if (zx || zy) {
    set(out, sx ^ sy, 'zero');
    return flags;
  }
  if (iy) {
    set(out, sx ^ sy, 'inf');
    return flags;
  }
  unpack80(UA, x.signExp, x.hi, x.lo);
  unpack80(UB, y.signExp, y.hi, y.lo);
  xfSet64(X, sx, UA.exp, UA.hi, UA.lo);
  if (UA.exp >= -1) {
    // |x| ≥ 1/2, outside the documented domain, where the CPU still computes log2(1 + x): the
    // series for ln(1 + x) would not converge, so 1 + x is formed in 128 bits instead and split.
    if (!log2OnePlus(R, X)) return invalidResult80(out, masks);
  } else {
    xfLog1p(R, X);
    xfDivLn2(R);
  }
  xfSet64(Y, sy, UB.exp, UB.hi, UB.lo);
  xfMul(R, R, Y);
  return flags | deliver(out, R, cw, 0);
}

const ONE = xfSetInt(new Xf(), 1);

/**
 * dst = log2(1 + x) as e + log2(m) for 1 + x = m·2^e, m in [√½, √2) (as xfLog2 does for a 64-bit
 * operand); false when 1 + x ≤ 0.
 */
function log2OnePlus(dst: Xf, x: Xf): boolean {
  xfAdd(S, ONE, x);
  if (S.zero || S.sign) return false;
  let e = S.exp;
  S.exp = 0;
  if (S.m[0] > 0xb504f333) {
    S.exp = -1;
    e += 1;
  }
  xfSub(S, S, ONE);
  xfLog1p(dst, S);
  xfDivLn2(dst);
  if (e !== 0) {
    xfSetInt(K, Math.abs(e));
    K.sign = e < 0 ? 1 : 0;
    xfAdd(dst, K, dst);
  }
  return true;
}

function xfDivLn2(r: Xf): void {
  xfDiv(r, r, LN2);
}

/** FPATAN: atan(y/x) in the quadrant of (x, y); x = ST0, y = ST1 (stored into ST1, popped). */
export function fpatan(x: Ext80, y: Ext80, out: Ext80, cw: number): number {
  const cx = classify80(x.signExp, x.hi, x.lo);
  const cy = classify80(y.signExp, y.hi, y.lo);
  const masks = cw & 0x3f;
  if (cx >= F80Class.QNaN || cy >= F80Class.QNaN) return propagateNaN80(x, cx, y, cy, out, masks);
  const sx = x.signExp >>> 15;
  const sy = y.signExp >>> 15;
  const flags = isDenormal(cx) || isDenormal(cy) ? FE_DENORMAL : 0;
  if (flags & ~masks) return flags;
  const zx = cx === F80Class.Zero;
  const zy = cy === F80Class.Zero;
  const ix = cx === F80Class.Infinity;
  const iy = cy === F80Class.Infinity;
  // Angles in units of π/4 for the special cases (SDM Table 3-27).
  let quarters = -1;
  if (zy) {
    if (!sx) {
      set(out, sy, 'zero');
      return flags;
    }
    quarters = 4;
  } else if (iy) quarters = ix ? (sx ? 3 : 1) : 2;
  else if (zx) quarters = 2;
  else if (ix) {
    if (!sx) {
      set(out, sy, 'zero');
      return flags;
    }
    quarters = 4;
  }
  if (quarters >= 0) {
    // k·π/4, rounded.
    xfSetInt(K, quarters);
    xfMul(R, K, PI_4);
    R.sign = sy;
    return flags | deliver(out, R, cw, 0);
  }
  unpack80(UA, x.signExp, x.hi, x.lo);
  unpack80(UB, y.signExp, y.hi, y.lo);
  xfSet64(X, 0, UA.exp, UA.hi, UA.lo);
  xfSet64(Y, 0, UB.exp, UB.hi, UB.lo);
  let tail = 0;
  const yBigger =
    UB.exp > UA.exp || (UB.exp === UA.exp && (UB.hi > UA.hi || (UB.hi === UA.hi && UB.lo > UA.lo)));
  if (yBigger) {
    // atan(y/x) = π/2 − atan(x/y)
    xfDiv(S, X, Y);
    xfAtan(R, S);
    xfScale(S, PI_4, 1);
    xfSub(R, S, R);
  } else {
    xfDiv(S, Y, X);
    xfAtan(R, S);
    tail = TAIL.dir;
  }
  if (sx) {
    // Second/third quadrant: π − angle.
    xfScale(S, PI_4, 2);
    xfSub(R, S, R);
    tail = 0;
  }
  R.sign = sy;
  return flags | deliver(out, R, cw, tail);
}

/** The CPU's π/2 for argument reduction: its 66-bit π (C90FDAA2 2168C234 C) halved. */
const PIO2_HI = xfSet64(new Xf(), 0, 0, 0xc90fdaa2, 0x00000000); // first 32 bits
const PIO2_LO = xfSet64(new Xf(), 0, -32, 0x2168c234, 0xc0000000); // the other 34

const SIN = 0;
const COS = 1;
const TAN = 2;

/**
 * FSIN (kind SIN), FCOS, FPTAN's tangent; FSINCOS calls it twice. |x| ≥ 2^63 returns SW_C2
 * with nothing written (the operand stays), as the CPU does.
 */
export function ftrig(a: Ext80, kind: number, out: Ext80, cw: number): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  const masks = cw & 0x3f;
  if (c >= F80Class.QNaN) return propagateNaN80(a, c, a, c, out, masks);
  if (c === F80Class.Infinity) return invalidResult80(out, masks);
  const sign = a.signExp >>> 15;
  if (c === F80Class.Zero) {
    if (kind === COS) set(out, 0, 'one');
    else out.copy(a);
    return 0;
  }
  if ((a.signExp & 0x7fff) >= 0x3fff + 63) return SW_C2;
  let flags = 0;
  if (isDenormal(c)) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  unpack80(UA, a.signExp, a.hi, a.lo);
  xfSet64(X, 0, UA.exp, UA.hi, UA.lo);
  // k = nearest integer to |x| / (π/2); r = |x| − k·π/2 exactly (two-part π/2).
  let kHi = 0;
  let kLo = 0;
  if (UA.exp >= -1) {
    xfAdd(S, PIO2_HI, PIO2_LO);
    xfDiv(S, X, S);
    xfAdd(S, S, HALF);
    // floor(S): S < 2^63.
    if (S.exp >= 0) {
      const sh = 127 - S.exp; // bits below the binary point
      kLo = wordsShifted(S.m, sh, 0);
      kHi = wordsShifted(S.m, sh, 32);
    }
  }
  if (kHi | kLo) {
    xfSet64(K, 0, 63, kHi, kLo);
    xfMul(R, K, PIO2_HI);
    xfSub(X, X, R);
    xfMul(R, K, PIO2_LO);
    xfSub(X, X, R);
  }
  // |x| = k·P + r with P the CPU's π/2: fold r's sign (rs) and the quadrant q into the
  // function of |r| (sin(kP + r) = sin r, cos r, −sin r, −cos r for q = 0..3, and so on).
  const q = kLo & 3;
  const rs = X.sign;
  X.sign = 0;
  const odd = (q & 1) !== 0;
  let tail = 0;
  if (kind === SIN) {
    if (odd) xfCos(R, X);
    else {
      xfSin(R, X);
      if (!(kHi | kLo)) tail = TAIL.dir; // r is x itself: sin x is just below |x|
    }
    R.sign = odd ? sign ^ (q === 3 ? 1 : 0) : sign ^ rs ^ (q === 2 ? 1 : 0);
  } else if (kind === COS) {
    if (odd) xfSin(R, X);
    else xfCos(R, X);
    R.sign = odd ? rs ^ (q === 1 ? 1 : 0) : q === 2 ? 1 : 0;
  } else {
    xfSin(S, X);
    xfCos(R, X);
    if (odd) xfDiv(R, R, S);
    else xfDiv(R, S, R);
    R.sign = sign ^ rs ^ (odd ? 1 : 0);
  }
  if (R.zero) {
    out.set(R.sign << 15, 0, 0);
    return flags | FE_INEXACT;
  }
  return flags | deliver(out, R, cw, tail);
}
const HALF = xfSet64(new Xf(), 0, -1, 0x80000000, 0);

/** 32 bits of the integer part of a 128-bit significand shifted right by sh, from bit `from`. */
function wordsShifted(m: Uint32Array, sh: number, from: number): number {
  let v = 0;
  for (let b = 31; b >= 0; b--) {
    const bit = sh + from + b; // bit index from the bottom of the 128-bit significand
    if (bit > 127) continue;
    const w = m[3 - (bit >>> 5)];
    v = (v << 1) | ((w >>> (bit & 31)) & 1);
  }
  return v >>> 0;
}

export const TRIG_SIN = SIN;
export const TRIG_COS = COS;
export const TRIG_TAN = TAN;
