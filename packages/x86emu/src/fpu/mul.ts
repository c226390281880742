/** Exact multiplication of two finite non-zero values, then one rounding (SDM Vol. 1 4.8.4). */
import type { Ext80 } from './float80.js';
import { type FloatFormat, roundPack } from './round.js';
import { M, mul64 } from './wide.js';

/** out = (-1)^(sa^sb)·A·B·2^(ea+eb) for 64-bit normalised significands. */
export function mulCore(
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
  mul64(ahi | 0, alo | 0, bhi | 0, blo | 0); // limbs by & and >>>: int32 words read the same
  let w2 = M[0];
  let w1 = M[1];
  let w0 = M[2];
  let w00 = M[3];
  let e = ea + eb;
  // The product of two values in [1,2) lies in [1,4): bit 127 set means it is ≥ 2.
  if (w2 & 0x80000000) e += 1;
  else {
    w2 = ((w2 << 1) | (w1 >>> 31)) >>> 0;
    w1 = ((w1 << 1) | (w0 >>> 31)) >>> 0;
    w0 = ((w0 << 1) | (w00 >>> 31)) >>> 0;
    w00 = (w00 << 1) >>> 0;
  }
  return roundPack(out, sa ^ sb, e, w2 | 0, w1 | 0, w0 | 0, w00 ? 1 : 0, fmt, p, rc, mode);
}
