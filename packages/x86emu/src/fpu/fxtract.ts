/**
 * FXTRACT (SDM Vol. 2 FXTRACT): splits ST0 into its unbiased exponent (as a value) and its
 * significand (same sign, exponent 0 i.e. in [1, 2)); the caller stores the exponent in ST0's
 * place and pushes the significand. A zero gives −∞ and ZE; ±∞ gives +∞ and ±∞.
 */

import { fild } from './convert.js';
import { FE_DENORMAL, FE_DIVBYZERO } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { Unpacked, unpack80 } from './unpack.js';
import { propagateNaN80 } from './x87-nan.js';

const U = new Unpacked();

/** Writes exponent and significand; with an unmasked IE/DE/ZE neither is written. */
export function fxtract80(a: Ext80, exponent: Ext80, significand: Ext80, cw: number): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  const masks = cw & 0x3f;
  if (c >= F80Class.QNaN) {
    const flags = propagateNaN80(a, c, a, c, significand, masks);
    if (!(flags & ~masks)) exponent.copy(significand);
    return flags;
  }
  if (c === F80Class.Zero) {
    if (!(masks & FE_DIVBYZERO)) return FE_DIVBYZERO;
    exponent.set(0xffff, 0x80000000, 0);
    significand.copy(a);
    return FE_DIVBYZERO;
  }
  if (c === F80Class.Infinity) {
    exponent.set(0x7fff, 0x80000000, 0);
    significand.copy(a);
    return 0;
  }
  let flags = 0;
  if (c !== F80Class.Normal) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  unpack80(U, a.signExp, a.hi, a.lo);
  fild(0, U.exp, 32, exponent);
  significand.set((U.sign << 15) | 16383, U.hi, U.lo);
  return flags;
}
