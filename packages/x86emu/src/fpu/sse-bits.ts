/**
 * float32/float64 encodings (SDM Vol. 1 4.2.2, 4.8.3): classification, DAZ, the SSE default
 * QNaN ("QNaN floating-point indefinite", Table 4-3), and packing roundPack's 80-bit-style
 * output back into the narrow formats.
 */
import type { Ext80 } from './float80.js';

/** Classes shared by float32 and float64 (a subset of F80Class's numbering). */
export const enum FClass {
  Zero = 0,
  Denormal = 1,
  Normal = 3,
  Infinity = 4,
  QNaN = 5,
  SNaN = 6,
}

export const F32_INDEFINITE = 0xffc00000;
export const F64_INDEFINITE_HI = 0xfff80000;

export function classify32(bits: number): FClass {
  const e = (bits >>> 23) & 0xff;
  const f = bits & 0x7fffff;
  if (e === 0) return f ? FClass.Denormal : FClass.Zero;
  if (e !== 0xff) return FClass.Normal;
  if (!f) return FClass.Infinity;
  return f & 0x400000 ? FClass.QNaN : FClass.SNaN;
}

export function classify64(hi: number, lo: number): FClass {
  const e = (hi >>> 20) & 0x7ff;
  const fhi = hi & 0xfffff;
  if (e === 0) return fhi | lo ? FClass.Denormal : FClass.Zero;
  if (e !== 0x7ff) return FClass.Normal;
  if (!(fhi | lo)) return FClass.Infinity;
  return fhi & 0x80000 ? FClass.QNaN : FClass.SNaN;
}

/** roundPack output in FMT_F32 → float32 bits. */
export function pack32(r: Ext80): number {
  return (((r.signExp & 0x8000) << 16) | ((r.signExp & 0xff) << 23) | ((r.hi >>> 8) & 0x7fffff)) >>> 0;
}

/** roundPack output in FMT_F64 → float64 high word (low word: packLo64). */
export function packHi64(r: Ext80): number {
  return (((r.signExp & 0x8000) << 16) | ((r.signExp & 0x7ff) << 20) | ((r.hi >>> 11) & 0xfffff)) >>> 0;
}
export function packLo64(r: Ext80): number {
  return ((r.hi << 21) | (r.lo >>> 11)) >>> 0;
}

/** Two 32-bit words: a float64 or int64 as hi:lo, a float32 or smaller integer in lo. */
export interface WordPair {
  hi: number;
  lo: number;
}
