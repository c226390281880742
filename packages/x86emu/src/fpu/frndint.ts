/**
 * FRNDINT (SDM Vol. 2 FRNDINT): ST0 rounded to an integral value by RC. Precision control does
 * not apply; the result is exact apart from PE (and C1 when rounded up in magnitude).
 */
import { magnitudeToExt80 } from './convert.js';
import { FE_DENORMAL, FE_INEXACT, SW_C1 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { INT, roundToInteger } from './int-round.js';
import { Unpacked, unpack80 } from './unpack.js';
import { roundingOf } from './x87-control.js';
import { propagateNaN80 } from './x87-nan.js';

const U = new Unpacked();

export function frndint80(a: Ext80, out: Ext80, cw: number): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  if (c >= F80Class.QNaN) return propagateNaN80(a, c, a, c, out, cw & 0x3f);
  if (c === F80Class.Zero || c === F80Class.Infinity) {
    out.copy(a);
    return 0;
  }
  let flags = 0;
  if (c !== F80Class.Normal) {
    flags = FE_DENORMAL;
    if (!(cw & FE_DENORMAL)) return flags;
  }
  // 2^63 and above are integers already.
  if ((a.signExp & 0x7fff) >= 16383 + 63) {
    out.copy(a);
    return flags;
  }
  unpack80(U, a.signExp, a.hi, a.lo);
  roundToInteger(U.sign, U.exp, U.hi, U.lo, roundingOf(cw));
  if (INT.tooBig) {
    // Rounded up to 2^64 (only from just below it): 1.0 × 2^64.
    out.set((U.sign << 15) | (16383 + 64), 0x80000000, 0);
  } else magnitudeToExt80(U.sign, INT.hi, INT.lo, out);
  return INT.inexact ? flags | FE_INEXACT | (INT.up ? SW_C1 : 0) : flags;
}
