/**
 * FPREM / FPREM1 (SDM Vol. 2 FPREM, FPREM1): the exact partial remainder ST0 − Q·ST1, Q the
 * quotient truncated (FPREM) or rounded to nearest-even (FPREM1). When the exponents differ by
 * 64 or more only a partial reduction is done (C2 = 1), by ST1·2^(D−N) (N from premN); else
 * C2 = 0 and C0, C3, C1 are the quotient's bits 2, 1, 0.
 */
import { FE_DENORMAL, SW_C0, SW_C1, SW_C2, SW_C3 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { FMT_EXT80, RC_NEAREST, roundPack } from './round.js';
import { Unpacked, unpack80 } from './unpack.js';
import { registerMode } from './x87-control.js';
import { invalidResult80, propagateNaN80 } from './x87-nan.js';

/**
 * N of the SDM's partial-remainder step ("an implementation-dependent number between 32 and
 * 63"): 32 + (D mod 32) on the referee host (an AMD EPYC), so that D − N is a multiple of
 * 32. Other implementations may choose differently; the remainder once complete does not.
 */
export function premN(d: number): number {
  return 32 + (d & 31);
}

const UA = new Unpacked();
const UB = new Unpacked();

/** Returns FE_* flags | condition codes (C0-C3). */
export function fprem80(a: Ext80, b: Ext80, out: Ext80, cw: number, ieee: boolean): number {
  const ca = classify80(a.signExp, a.hi, a.lo);
  const cb = classify80(b.signExp, b.hi, b.lo);
  const masks = cw & 0x3f;
  if (ca >= F80Class.QNaN || cb >= F80Class.QNaN) return propagateNaN80(a, ca, b, cb, out, masks);
  if (ca === F80Class.Infinity || cb === F80Class.Zero) return invalidResult80(out, masks);
  let flags = 0;
  if (
    ca === F80Class.Denormal ||
    ca === F80Class.PseudoDenormal ||
    cb === F80Class.Denormal ||
    cb === F80Class.PseudoDenormal
  ) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  if (ca === F80Class.Zero) {
    out.copy(a);
    return flags;
  }
  unpack80(UA, a.signExp, a.hi, a.lo);
  // An unchanged ST0 is still written as a result: a pseudo-denormal comes back normalised,
  // a denormal with UE unmasked is tiny (and wrapped), as the CPU does.
  if (cb === F80Class.Infinity) return flags | normalizeOut(out, UA.sign, UA.exp, UA.hi, UA.lo, cw);
  unpack80(UB, b.signExp, b.hi, b.lo);
  const d = UA.exp - UB.exp;
  let sign = UA.sign;
  if (d < 0) {
    // |a| < |b|: Q = 0, except FPREM1 with |a| > |b|/2, where Q = 1 (a tie |a| = |b|/2 is even: 0).
    if (ieee && d === -1 && (UA.hi > UB.hi || (UA.hi === UB.hi && UA.lo > UB.lo))) {
      // a − b: magnitude (2B − A)·2^(ea−63) < B, sign flipped.
      const b2h = ((UB.hi << 1) | (UB.lo >>> 31)) >>> 0;
      const b2l = (UB.lo << 1) >>> 0;
      let lo = b2l - UA.lo;
      let borrow = 0;
      if (lo < 0) {
        lo += 0x100000000;
        borrow = 1;
      }
      let hi = b2h - UA.hi - borrow;
      if (hi < 0) hi += 0x100000000; // bit 64 of 2B absorbs the borrow
      return flags | SW_C1 | normalizeOut(out, sign ^ 1, UA.exp, hi, lo, cw);
    }
    return flags | normalizeOut(out, UA.sign, UA.exp, UA.hi, UA.lo, cw);
  }
  const partial = d >= 64;
  const steps = partial ? premN(d) : d;
  // Long division of A·2^steps by B: R = A, then steps+1 compare/subtract rounds.
  let rt = 0;
  let rh = UA.hi;
  let rl = UA.lo;
  const bh = UB.hi;
  const bl = UB.lo;
  let q = 0;
  for (let i = 0; i <= steps; i++) {
    q = (q << 1) & 7;
    if (rt || rh > bh || (rh === bh && rl >= bl)) {
      let l = rl - bl;
      let borrow = 0;
      if (l < 0) {
        l += 0x100000000;
        borrow = 1;
      }
      rh = rh - bh - borrow;
      if (rh < 0) rh += 0x100000000;
      rl = l;
      rt = 0;
      q |= 1;
    }
    if (i < steps) {
      rt = rh >>> 31;
      rh = ((rh << 1) | (rl >>> 31)) >>> 0;
      rl = (rl << 1) >>> 0;
    }
  }
  // Remainder R (< B) at B's exponent (shifted by the partial step).
  const re = UB.exp + (partial ? d - steps : 0);
  if (ieee && !partial) {
    // Round the quotient to nearest: if R > B/2, or R = B/2 and Q odd, take Q+1, R−B.
    const r2h = ((rh << 1) | (rl >>> 31)) >>> 0;
    const r2l = (rl << 1) >>> 0;
    const r2t = rh >>> 31;
    const cmp = r2t ? 1 : r2h !== bh ? (r2h > bh ? 1 : -1) : r2l !== bl ? (r2l > bl ? 1 : -1) : 0;
    if (cmp > 0 || (cmp === 0 && q & 1)) {
      q = (q + 1) & 7;
      let l = bl - rl;
      let borrow = 0;
      if (l < 0) {
        l += 0x100000000;
        borrow = 1;
      }
      rh = bh - rh - borrow;
      rl = l;
      sign ^= 1;
    }
  }
  let cc = 0;
  if (partial) cc = SW_C2;
  else cc = (q & 4 ? SW_C0 : 0) | (q & 2 ? SW_C3 : 0) | (q & 1 ? SW_C1 : 0);
  if ((rh | rl) === 0) {
    out.set(UA.sign << 15, 0, 0); // an exact zero has the dividend's sign
    return flags | cc;
  }
  return flags | cc | normalizeOut(out, sign, re, rh, rl, cw);
}

/** Writes (-1)^sign × hi:lo × 2^(exp − 63) (exact, maybe tiny) and returns its flags. */
function normalizeOut(out: Ext80, sign: number, exp: number, hi: number, lo: number, cw: number): number {
  const n = hi ? Math.clz32(hi) : 32 + Math.clz32(lo);
  if (n >= 32) {
    hi = lo << (n - 32);
    lo = 0;
  } else if (n > 0) {
    hi = (hi << n) | (lo >>> (32 - n));
    lo <<= n;
  }
  return (
    roundPack(out, sign, exp - n, hi >>> 0, lo >>> 0, 0, 0, FMT_EXT80, 64, RC_NEAREST, registerMode(cw)) &
    ~SW_C1
  );
}
