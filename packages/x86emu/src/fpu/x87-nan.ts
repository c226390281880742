/**
 * The x87's NaN rules (SDM Vol. 1 4.8.3.5 Table 4-7, 8.5.1.2): an SNaN or unsupported operand
 * is invalid (IE); a masked IE without NaN operands yields the real indefinite; with NaN
 * operands the result is the quieted NaN chosen by the table.
 */
import { FE_INVALID } from './exceptions.js';
import { type Ext80, F80Class, INDEFINITE_HI, INDEFINITE_SE, QUIET_BIT } from './float80.js';

/** Masked invalid operation: the real indefinite; unmasked: nothing written. */
export function invalidResult80(out: Ext80, masks: number): number {
  if (masks & FE_INVALID) {
    out.signExp = INDEFINITE_SE;
    out.hi = INDEFINITE_HI;
    out.lo = 0;
  }
  return FE_INVALID;
}

/**
 * At least one of a, b is a NaN or unsupported (classes from classify80). For one-operand
 * instructions pass the operand twice.
 */
export function propagateNaN80(
  a: Ext80,
  ca: F80Class,
  b: Ext80,
  cb: F80Class,
  out: Ext80,
  masks: number,
): number {
  if (ca === F80Class.Unsupported || cb === F80Class.Unsupported) return invalidResult80(out, masks);
  const flags = ca === F80Class.SNaN || cb === F80Class.SNaN ? FE_INVALID : 0;
  if (flags & ~masks) return flags;
  const aNaN = ca === F80Class.QNaN || ca === F80Class.SNaN;
  const bNaN = cb === F80Class.QNaN || cb === F80Class.SNaN;
  let src = a;
  if (aNaN && bNaN && ca !== cb) {
    // An SNaN and a QNaN: the QNaN (SDM Table 4-7).
    if (cb === F80Class.QNaN) src = b;
  } else if (aNaN && bNaN) {
    // Two NaNs of one kind: the one with the larger significand; on a tie, ...
    const ah = (a.hi | QUIET_BIT) >>> 0;
    const bh = (b.hi | QUIET_BIT) >>> 0;
    if (bh > ah || (bh === ah && b.lo > a.lo)) src = b;
    else if (bh === ah && b.lo === a.lo && a.signExp > b.signExp) src = b;
  } else if (bNaN) src = b;
  out.signExp = src.signExp;
  out.hi = (src.hi | QUIET_BIT) >>> 0;
  out.lo = src.lo;
  return flags;
}
