/**
 * ROUNDSS/ROUNDSD (SSE4.1; ROUNDPS/PD per element): round to an integral value in the same
 * format (SDM Vol. 2 ROUNDSS). imm8 bits 1:0 give the rounding mode unless bit 2 selects
 * MXCSR.RC; bit 3 suppresses the precision exception. An SNaN is quieted with IE.
 */
import { FE_INEXACT, FE_INVALID } from './exceptions.js';
import { INT, roundToInteger } from './int-round.js';
import { MXCSR_DAZ, mxcsrRounding } from './mxcsr.js';
import { classify32, classify64, FClass, type WordPair } from './sse-bits.js';
import { Unpacked, unpack32, unpack64 } from './unpack.js';

const U = new Unpacked();

export function sseRound(
  wide: boolean,
  hi: number,
  lo: number,
  imm8: number,
  mxcsr: number,
  out: WordPair,
): number {
  const c = wide ? classify64(hi, lo) : classify32(lo);
  const sign = (wide ? hi : lo) >>> 31;
  out.hi = wide ? hi >>> 0 : 0;
  out.lo = lo >>> 0;
  if (c === FClass.QNaN || c === FClass.SNaN) {
    if (wide) out.hi = (hi | 0x80000) >>> 0;
    else out.lo = (lo | 0x400000) >>> 0;
    return c === FClass.SNaN ? FE_INVALID : 0;
  }
  if (c === FClass.Zero || c === FClass.Infinity) return 0;
  // A denormal operand does not raise DE here (as the CPU does; the SDM lists only IE, PE).
  if (c === FClass.Denormal && mxcsr & MXCSR_DAZ) {
    out.hi = wide ? (sign << 31) >>> 0 : 0;
    out.lo = wide ? 0 : (sign << 31) >>> 0;
    return 0;
  }
  let flags = 0;
  if (wide) unpack64(U, hi, lo);
  else unpack32(U, lo);
  // Already integral: 2^52 (2^23) and above.
  if (U.exp >= (wide ? 52 : 23)) return flags;
  const rc = imm8 & 4 ? mxcsrRounding(mxcsr) : imm8 & 3;
  roundToInteger(sign, U.exp, U.hi, U.lo, rc);
  if (INT.inexact && !(imm8 & 8)) flags |= FE_INEXACT;
  // The integer (< 2^53) back to the format: value = INT as a double is exact.
  const m = INT.hi * 0x100000000 + INT.lo;
  if (m === 0) {
    out.hi = wide ? (sign << 31) >>> 0 : 0;
    out.lo = wide ? 0 : (sign << 31) >>> 0;
    return flags;
  }
  const e = 31 - Math.clz32(INT.hi ? INT.hi : INT.lo) + (INT.hi ? 32 : 0); // top bit index
  if (wide) {
    // fraction = m without its top bit, aligned to 52 bits
    const f = m - 2 ** e;
    const frac = f * 2 ** (52 - e); // exact: < 2^52, integer
    const fhi = Math.floor(frac / 0x100000000);
    out.hi = ((sign << 31) | ((e + 1023) << 20) | fhi) >>> 0;
    out.lo = (frac - fhi * 0x100000000) >>> 0;
  } else {
    const f = (m - 2 ** e) * 2 ** (23 - e);
    out.hi = 0;
    out.lo = ((sign << 31) | ((e + 127) << 23) | f) >>> 0;
  }
  return flags;
}
