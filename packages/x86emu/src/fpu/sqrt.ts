/** Exact square root of a finite positive value, then one rounding (SDM Vol. 1 4.8.4). */
import type { Ext80 } from './float80.js';
import { type FloatFormat, roundPack } from './round.js';

const REM = new Uint32Array(3);
const TRIAL = new Uint32Array(3);

/**
 * out = sqrt(A·2^e). The radicand is made an even power of two (A or 2A), then the root is
 * computed bit by bit (two radicand bits per step) to 66 bits; a non-zero remainder is sticky.
 */
export function sqrtCore(
  out: Ext80,
  e: number,
  ahi: number,
  alo: number,
  fmt: FloatFormat,
  p: number,
  rc: number,
  mode: number,
): number {
  // The radicand X = A·2^k as an integer whose root has 66 bits: k = 67, or 68 when e is odd.
  const odd = e & 1;
  const k = odd ? 68 : 67;
  const re = (e - odd) / 2;
  REM.fill(0);
  let r2 = 0; // root, 66 bits: r2 (2 bits) : r1 : r0
  let r1 = 0;
  let r0 = 0;
  for (let j = 65; j >= 0; j--) {
    // rem = rem·4 + the next two radicand bits (2j+1, 2j).
    const two = (bitOf(ahi, alo, 2 * j + 1 - k) << 1) | bitOf(ahi, alo, 2 * j - k);
    REM[2] = ((REM[2] << 2) | (REM[1] >>> 30)) >>> 0;
    REM[1] = ((REM[1] << 2) | (REM[0] >>> 30)) >>> 0;
    REM[0] = ((REM[0] << 2) | two) >>> 0;
    // trial = root·4 + 1
    TRIAL[2] = ((r2 << 2) | (r1 >>> 30)) >>> 0;
    TRIAL[1] = ((r1 << 2) | (r0 >>> 30)) >>> 0;
    TRIAL[0] = ((r0 << 2) | 1) >>> 0;
    let bit = 0;
    if (geq(REM, TRIAL)) {
      sub(REM, TRIAL);
      bit = 1;
    }
    r2 = ((r2 << 1) | (r1 >>> 31)) >>> 0;
    r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0;
    r0 = ((r0 << 1) | bit) >>> 0;
  }
  const w2 = ((r2 << 30) | (r1 >>> 2)) >>> 0;
  const w1 = ((r1 << 30) | (r0 >>> 2)) >>> 0;
  const w0 = (r0 << 30) >>> 0;
  const sticky = REM[0] | REM[1] | REM[2] ? 1 : 0;
  return roundPack(out, 0, re, w2, w1, w0, sticky, fmt, p, rc, mode);
}

function bitOf(hi: number, lo: number, b: number): number {
  if (b < 0 || b > 63) return 0;
  return b >= 32 ? (hi >>> (b - 32)) & 1 : (lo >>> b) & 1;
}

function geq(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 2; i >= 0; i--) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

function sub(a: Uint32Array, b: Uint32Array): void {
  let borrow = 0;
  for (let i = 0; i < 3; i++) {
    let d = a[i] - b[i] - borrow;
    borrow = 0;
    if (d < 0) {
      d += 0x100000000;
      borrow = 1;
    }
    a[i] = d;
  }
}
