/**
 * FSCALE (SDM Vol. 2 FSCALE, Table 3-x): ST0 × 2^trunc(ST1). Exact unless the result leaves
 * the 80-bit exponent range (then rounded: overflow, underflow, denormal as any result).
 */
import { FE_DENORMAL, FE_INEXACT, FE_OVERFLOW, FE_UNDERFLOW, SW_C1 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { INT, roundToInteger } from './int-round.js';
import { FMT_EXT80, RC_ZERO, roundPack, X87_BIAS_ADJUST } from './round.js';
import { Unpacked, unpack80 } from './unpack.js';
import { registerMode, roundingOf } from './x87-control.js';
import { invalidResult80, propagateNaN80 } from './x87-nan.js';

const UA = new Unpacked();
const UB = new Unpacked();

export function fscale80(a: Ext80, b: Ext80, out: Ext80, cw: number): number {
  const ca = classify80(a.signExp, a.hi, a.lo);
  const cb = classify80(b.signExp, b.hi, b.lo);
  const masks = cw & 0x3f;
  if (ca >= F80Class.QNaN || cb >= F80Class.QNaN) return propagateNaN80(a, ca, b, cb, out, masks);
  const sa = a.signExp >>> 15;
  const sb = b.signExp >>> 15;
  if (cb === F80Class.Infinity) {
    // 0 × 2^+∞ and ∞ × 2^−∞ are invalid; otherwise ±∞ or ±0.
    if ((ca === F80Class.Zero && !sb) || (ca === F80Class.Infinity && sb)) return invalidResult80(out, masks);
    const flags = ca === F80Class.Denormal || ca === F80Class.PseudoDenormal ? FE_DENORMAL : 0;
    if (flags & ~masks) return flags;
    if (ca === F80Class.Zero || ca === F80Class.Infinity) out.copy(a);
    else out.set((sa << 15) | (sb ? 0 : 0x7fff), sb ? 0 : 0x80000000, 0);
    return flags;
  }
  let flags = 0;
  const denA = ca === F80Class.Denormal || ca === F80Class.PseudoDenormal;
  const denB = cb === F80Class.Denormal || cb === F80Class.PseudoDenormal;
  if (denA || denB) {
    flags = FE_DENORMAL;
    if (!(masks & FE_DENORMAL)) return flags;
  }
  if (ca === F80Class.Zero || ca === F80Class.Infinity) {
    out.copy(a);
    return flags;
  }
  // The scale, truncated; beyond ±2^16 every result over/underflows the same way.
  let n = 0;
  if (cb !== F80Class.Zero) {
    unpack80(UB, b.signExp, b.hi, b.lo);
    if (UB.exp >= 17) n = 1 << 17;
    else {
      roundToInteger(0, UB.exp, UB.hi, UB.lo, RC_ZERO);
      n = INT.lo;
    }
    if (sb) n = -n;
  }
  unpack80(UA, a.signExp, a.hi, a.lo);
  const e = UA.exp + n;
  // So far out of range that even the 24576 wrap of an unmasked OE/UE cannot bring it back:
  // the CPU delivers ±∞ or ±0 whatever the rounding mode, with OE/UE and PE.
  if (e - X87_BIAS_ADJUST > FMT_EXT80.emax && !(masks & FE_OVERFLOW)) {
    out.set((sa << 15) | 0x7fff, 0x80000000, 0);
    return flags | FE_OVERFLOW | FE_INEXACT | SW_C1;
  }
  if (e + X87_BIAS_ADJUST < FMT_EXT80.emin && !(masks & FE_UNDERFLOW)) {
    out.set(sa << 15, 0, 0);
    return flags | FE_UNDERFLOW | FE_INEXACT;
  }
  return flags | roundPack(out, sa, e, UA.hi, UA.lo, 0, 0, FMT_EXT80, 64, roundingOf(cw), registerMode(cw));
}
