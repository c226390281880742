/**
 * RCPPS/RCPSS (0F 53, F3 0F 53) and RSQRTPS/RSQRTSS (0F 52, F3 0F 52): table approximations of
 * 1/x and 1/√x (approx-table.ts, the host CPU's tables). As measured on the host: no exception
 * is ever raised and MXCSR (RC, DAZ, FTZ) plays no part; a denormal operand is read as a zero of
 * its sign (→ ±∞); a result below the normal range is flushed to ±0; a NaN comes back quieted;
 * 1/√x of a negative non-zero (−∞ included) is the default NaN (SDM Vol. 2 RCPSS, RSQRTSS).
 * Scalar forms replace the low element; packed forms read m128 aligned.
 */
import type { Handler } from '../../cpu/handler.js';
import { checkSse } from '../x87/fpu-checks.js';
import { RCP_TABLE, RSQRT_TABLE } from './approx-table.js';
import { loadSrc, SRC, xmmWords } from './common.js';

/** 1/x of a float32 bit pattern. */
export function rcp32(x: number): number {
  const s = (x & 0x80000000) >>> 0;
  const e = (x >>> 23) & 0xff;
  if (e === 0) return (s | 0x7f800000) >>> 0; // ±0 and denormals → ±∞
  if (e === 0xff) return x & 0x7fffff ? (x | 0x400000) >>> 0 : s; // NaN quieted; ±∞ → ±0
  // x = 1.f × 2^(e−127): the result is T(f) × 2^(127−e) with T in [0.5, 1), exponent 126.
  const re = 253 - e;
  if (re <= 0) return s; // tiny: flushed
  return (s | (re << 23) | (RCP_TABLE[(x >>> 11) & 0xfff] << 11)) >>> 0;
}

/** 1/√x of a float32 bit pattern. */
export function rsqrt32(x: number): number {
  const s = (x & 0x80000000) >>> 0;
  const e = (x >>> 23) & 0xff;
  if (e === 0) return (s | 0x7f800000) >>> 0;
  if (e === 0xff && x & 0x7fffff) return (x | 0x400000) >>> 0;
  if (s) return 0xffc00000;
  if (e === 0xff) return 0;
  // x = m × 4^k with m in [1, 4): the table by (exponent parity, 12 fraction bits), ×2^-k.
  const odd = (e - 127) & 1;
  const k = (e - 127 - odd) / 2;
  return (((126 - k) << 23) | (RSQRT_TABLE[(odd << 12) | ((x >>> 11) & 0xfff)] << 11)) >>> 0;
}

function packed(f: (x: number) => number): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    for (let k = 0; k < 4; k++) x[d + k] = f(SRC[k]);
  };
}

function scalar(f: (x: number) => number): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 4, false);
    xmmWords(cpu)[i.reg * 4] = f(SRC[0]);
  };
}

export const APPROX_HANDLERS: Record<string, Handler> = {
  RCPPS: packed(rcp32),
  RCPSS: scalar(rcp32),
  RSQRTPS: packed(rsqrt32),
  RSQRTSS: scalar(rsqrt32),
};
