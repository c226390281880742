/**
 * FBLD / FBSTP: the 80-bit packed BCD integer (SDM Vol. 1 4.7, Figure 4-10): bytes 0-8 hold
 * 18 digits, two per byte, least significant first (low nibble = lower digit); byte 9 bit 7
 * is the sign. Here the ten bytes are three words: `top` = bytes 9-8 (sign byte high),
 * `mid` = bytes 7-4, `low` = bytes 3-0 — the referee's layout and a little-endian load's.
 */
import { magnitudeToExt80 } from './convert.js';
import { FE_INEXACT, FE_INVALID, SW_C1 } from './exceptions.js';
import { classify80, type Ext80, F80Class } from './float80.js';
import { INT, roundToInteger } from './int-round.js';
import { Unpacked, unpack80 } from './unpack.js';
import { roundingOf } from './x87-control.js';

const U = new Unpacked();
const E9 = 1_000_000_000;

/** The BCD result of fbstp. */
export const BCD = { top: 0, mid: 0, low: 0 };

/** Nine digits from a 36-bit nibble field given as (bits 35-32, bits 31-0). */
function nineDigits(high4: number, low32: number): number {
  let v = high4 & 0xf;
  for (let i = 7; i >= 0; i--) v = v * 10 + ((low32 >>> (i * 4)) & 0xf);
  return v;
}

/**
 * FBLD: the exact value (18 digits fit 60 bits). Digits above 9 are "undefined" in the SDM;
 * they are weighted by their nibble value here.
 */
export function fbld(top: number, mid: number, low: number, out: Ext80): void {
  // Digits 0-8: low and the low nibble of mid; digits 9-17: the rest of mid and byte 8.
  const lowPart = nineDigits(mid & 0xf, low);
  const highPart = nineDigits((top >>> 4) & 0xf, ((mid >>> 4) | ((top & 0xf) << 28)) >>> 0);
  // highPart × 10^9 + lowPart as a 64-bit hi:lo (products kept below 2^53).
  const hHi = Math.floor(highPart / 65536);
  const hLo = highPart % 65536;
  const p0 = hLo * E9 + lowPart; // < 2^47
  const p1 = hHi * E9; // value = p1 × 2^16 + p0
  const p0lo = p0 % 0x100000000;
  const p0hi = (p0 - p0lo) / 0x100000000;
  const p1lo16 = p1 % 65536; // p1 × 2^16 = (p1 >> 16) × 2^32 + (p1 & 0xffff) × 2^16
  const p1hi = (p1 - p1lo16) / 65536;
  let lo = p0lo + p1lo16 * 65536;
  let hi = p0hi + p1hi;
  if (lo >= 0x100000000) {
    lo -= 0x100000000;
    hi += 1;
  }
  magnitudeToExt80((top >>> 15) & 1, hi, lo, out);
}

/**
 * FBSTP: a rounded to an integer by RC; |result| ≥ 10^18, a NaN, an infinity or an
 * unsupported encoding is IE, and the BCD indefinite (FFFF C000 0000 0000 0000) is stored
 * when masked. Returns FE_* flags | SW_C1; the digits go to BCD.
 */
export function fbstp(a: Ext80, cw: number): number {
  const c = classify80(a.signExp, a.hi, a.lo);
  const sign = a.signExp >>> 15;
  if (c === F80Class.Zero) {
    setBcd(sign, 0, 0);
    return 0;
  }
  if (c >= F80Class.Infinity) return bcdIndefinite(cw);
  unpack80(U, a.signExp, a.hi, a.lo);
  roundToInteger(sign, U.exp, U.hi, U.lo, roundingOf(cw));
  // 10^18 = 0x0DE0B6B3_A7640000
  if (INT.tooBig || INT.hi > 0x0de0b6b3 || (INT.hi === 0x0de0b6b3 && INT.lo >= 0xa7640000))
    return bcdIndefinite(cw);
  setBcd(sign, INT.hi, INT.lo);
  return INT.inexact ? FE_INEXACT | (INT.up ? SW_C1 : 0) : 0;
}

function bcdIndefinite(cw: number): number {
  if (cw & FE_INVALID) {
    BCD.top = 0xffff;
    BCD.mid = 0xc0000000;
    BCD.low = 0;
  }
  return FE_INVALID;
}

/** Packs the magnitude hi:lo (< 10^18) as 18 BCD digits with the sign. */
function setBcd(sign: number, hi: number, lo: number): void {
  // Split into two 9-digit halves by long division by 10^9 in 16-bit steps (exact doubles).
  const t1 = hi * 65536 + (lo >>> 16);
  const q1 = Math.floor(t1 / E9);
  const t2 = (t1 - q1 * E9) * 65536 + (lo & 0xffff);
  const q2 = Math.floor(t2 / E9);
  const lowPart = t2 - q2 * E9;
  const highPart = q1 * 65536 + q2;
  let low = 0;
  let l = lowPart;
  for (let i = 0; i < 8; i++) {
    low |= (l % 10) << (i * 4);
    l = Math.floor(l / 10);
  }
  let mid = l; // digit 8
  let h = highPart;
  for (let i = 0; i < 7; i++) {
    mid |= (h % 10) << (4 + i * 4);
    h = Math.floor(h / 10);
  }
  const top = (sign ? 0x8000 : 0) | (h % 10) | (Math.floor(h / 10) << 4);
  BCD.top = top;
  BCD.mid = mid >>> 0;
  BCD.low = low >>> 0;
}
