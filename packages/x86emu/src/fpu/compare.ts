/**
 * x87 comparisons and classification (SDM Vol. 2 FCOM/FUCOM, FTST, FXAM): each returns the
 * status-word bits it produces — the FE_* flags and the condition codes C0, C2, C3 (C1 = 0,
 * or the sign for FXAM) — for the caller to merge into the status word (or, for FCOMI/FUCOMI,
 * to map to ZF/PF/CF: C3→ZF, C2→PF, C0→CF).
 */
import { FE_DENORMAL, FE_INVALID, SW_C0, SW_C1, SW_C2, SW_C3 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';

/** The condition codes of an unordered comparison (C3 = C2 = C0 = 1). */
export const CC_UNORDERED = SW_C3 | SW_C2 | SW_C0;
export const CC_LESS = SW_C0;
export const CC_EQUAL = SW_C3;
export const CC_GREATER = 0;

const ZERO = { signExp: 0, hi: 0, lo: 0 } as Ext80;

/**
 * Compares a (ST0) with b. FCOM (`quiet` false) raises IE for any NaN; FUCOM (`quiet` true)
 * only for SNaNs; unsupported encodings are invalid for both. The condition codes are set even
 * when IE or DE is unmasked (as the CPU does: the comparison has no destination to protect).
 */
export function fcom80(a: Ext80, b: Ext80, quiet: boolean): number {
  const ca = classify80(a.signExp, a.hi, a.lo);
  const cb = classify80(b.signExp, b.hi, b.lo);
  if (ca >= F80Class.QNaN || cb >= F80Class.QNaN) {
    const invalid =
      !quiet ||
      ca === F80Class.SNaN ||
      cb === F80Class.SNaN ||
      ca === F80Class.Unsupported ||
      cb === F80Class.Unsupported;
    if (!invalid) return CC_UNORDERED;
    return FE_INVALID | CC_UNORDERED;
  }
  const flags = isDenormal(ca) || isDenormal(cb) ? FE_DENORMAL : 0;
  return flags | order(a, ca, b, cb);
}

/** FTST: ST0 compared with +0.0. */
export function ftst80(a: Ext80): number {
  return fcom80(a, ZERO, false);
}

/** FXAM: C3 C2 C0 give the class, C1 the sign (SDM Vol. 2 FXAM, Table 3-x). `empty`: tag 11. */
export function fxam80(a: Ext80, empty: boolean): number {
  const c1 = a.signExp & 0x8000 ? SW_C1 : 0;
  if (empty) return c1 | SW_C3 | SW_C0;
  switch (classify80(a.signExp, a.hi, a.lo)) {
    case F80Class.Unsupported:
      return c1;
    case F80Class.QNaN:
    case F80Class.SNaN:
      return c1 | SW_C0;
    case F80Class.Normal:
      return c1 | SW_C2;
    case F80Class.Infinity:
      return c1 | SW_C2 | SW_C0;
    case F80Class.Zero:
      return c1 | SW_C3;
    default:
      return c1 | SW_C3 | SW_C2; // denormal, pseudo-denormal
  }
}

function isDenormal(c: F80Class): boolean {
  return c === F80Class.Denormal || c === F80Class.PseudoDenormal;
}

/** Order of two non-NaN values by value (denormals by value, ±0 equal). */
function order(a: Ext80, ca: F80Class, b: Ext80, cb: F80Class): number {
  const za = ca === F80Class.Zero;
  const zb = cb === F80Class.Zero;
  if (za && zb) return CC_EQUAL;
  const sa = a.signExp >>> 15;
  const sb = b.signExp >>> 15;
  if (za) return sb ? CC_GREATER : CC_LESS;
  if (zb) return sa ? CC_LESS : CC_GREATER;
  if (sa !== sb) return sa ? CC_LESS : CC_GREATER;
  // Same sign: compare magnitudes; a pseudo-denormal's exponent counts as 1 (its value).
  const ea = a.signExp & 0x7fff || 1;
  const eb = b.signExp & 0x7fff || 1;
  let cmp = 0;
  if (ea !== eb) cmp = ea < eb ? -1 : 1;
  else if (a.hi !== b.hi) cmp = a.hi < b.hi ? -1 : 1;
  else if (a.lo !== b.lo) cmp = a.lo < b.lo ? -1 : 1;
  if (cmp === 0) return CC_EQUAL;
  return cmp < 0 !== (sa === 1) ? CC_LESS : CC_GREATER;
}
