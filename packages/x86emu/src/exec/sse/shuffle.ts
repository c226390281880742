/**
 * Packed operations whose result elements come from other positions (SDM Vol. 2 each page):
 * unpacks, packs with saturation, shuffles, byte alignment, horizontal add/subtract. Each builds
 * its result in TMP and commits it, since dest and source may be one register.
 */
import { satS16, satU16 } from './arith.js';
import { TMP } from './lanes.js';
import { commit, type PackedOp } from './packed.js';

/** PUNPCKLxx and PUNPCKHxx (and UNPCKL/HPS/PD): interleave the low (high) halves' elements of `w` bytes. */
function unpack(w: number, high: boolean): PackedOp {
  return (D, d, S, s, n) => {
    const t = TMP.u8;
    const half = n >> 1;
    const from = high ? half : 0;
    let o = 0;
    for (let e = 0; e < half; e += w) {
      for (let b = 0; b < w; b++) t[o++] = D.u8[d + from + e + b];
      for (let b = 0; b < w; b++) t[o++] = S.u8[s + from + e + b];
    }
    commit(D, d, n);
  };
}
export const PUNPCKLBW = unpack(1, false);
export const PUNPCKLWD = unpack(2, false);
export const PUNPCKLDQ = unpack(4, false);
export const PUNPCKLQDQ = unpack(8, false);
export const PUNPCKHBW = unpack(1, true);
export const PUNPCKHWD = unpack(2, true);
export const PUNPCKHDQ = unpack(4, true);
export const PUNPCKHQDQ = unpack(8, true);

const satS8 = (v: number): number => (v < -128 ? -128 : Math.min(v, 127));
const satU8 = (v: number): number => (v < 0 ? 0 : Math.min(v, 255));

/** PACKSSWB / PACKUSWB: signed words of dest then source narrowed to bytes with saturation. */
function packWB(sat: (v: number) => number): PackedOp {
  return (D, d, S, s, n) => {
    const h = n >> 1;
    for (let k = 0; k < h; k++) TMP.u8[k] = sat(D.i16[(d >> 1) + k]);
    for (let k = 0; k < h; k++) TMP.u8[h + k] = sat(S.i16[(s >> 1) + k]);
    commit(D, d, n);
  };
}
/** PACKSSDW / PACKUSDW (SSE4.1): signed dwords narrowed to words with saturation. */
function packDW(sat: (v: number) => number): PackedOp {
  return (D, d, S, s, n) => {
    const h = n >> 2;
    for (let k = 0; k < h; k++) TMP.u16[k] = sat(D.i32[(d >> 2) + k]);
    for (let k = 0; k < h; k++) TMP.u16[h + k] = sat(S.i32[(s >> 2) + k]);
    commit(D, d, n);
  };
}
export const PACKSSWB = packWB(satS8);
export const PACKUSWB = packWB(satU8);
export const PACKSSDW = packDW(satS16);
export const PACKUSDW = packDW(satU16);

/** PSHUFD: dword k of dest ← source dword imm[2k+1:2k]. */
export const PSHUFD: PackedOp = (D, d, S, s, n, imm) => {
  for (let k = 0; k < 4; k++) TMP.u32[k] = S.u32[(s >> 2) + ((imm >> (2 * k)) & 3)];
  commit(D, d, n);
};
/** PSHUFW (MMX): the same over the four words. */
export const PSHUFW: PackedOp = (D, d, S, s, n, imm) => {
  for (let k = 0; k < 4; k++) TMP.u16[k] = S.u16[(s >> 1) + ((imm >> (2 * k)) & 3)];
  commit(D, d, n);
};
/** PSHUFLW / PSHUFHW: the low (high) four words shuffled, the other quadword copied. */
function pshufHalf(high: boolean): PackedOp {
  return (D, d, S, s, n, imm) => {
    const keep = high ? 0 : 4;
    const shuf = high ? 4 : 0;
    for (let k = 0; k < 4; k++) {
      TMP.u16[keep + k] = S.u16[(s >> 1) + keep + k];
      TMP.u16[shuf + k] = S.u16[(s >> 1) + shuf + ((imm >> (2 * k)) & 3)];
    }
    commit(D, d, n);
  };
}
export const PSHUFLW = pshufHalf(false);
export const PSHUFHW = pshufHalf(true);
/** SHUFPS: two dwords chosen from dest, two from source. */
export const SHUFPS: PackedOp = (D, d, S, s, n, imm) => {
  TMP.u32[0] = D.u32[(d >> 2) + (imm & 3)];
  TMP.u32[1] = D.u32[(d >> 2) + ((imm >> 2) & 3)];
  TMP.u32[2] = S.u32[(s >> 2) + ((imm >> 4) & 3)];
  TMP.u32[3] = S.u32[(s >> 2) + ((imm >> 6) & 3)];
  commit(D, d, n);
};
/** SHUFPD: one quadword from dest (imm bit 0), one from source (imm bit 1). */
export const SHUFPD: PackedOp = (D, d, S, s, n, imm) => {
  const a = (d >> 2) + (imm & 1) * 2;
  const b = (s >> 2) + ((imm >> 1) & 1) * 2;
  TMP.u32[0] = D.u32[a];
  TMP.u32[1] = D.u32[a + 1];
  TMP.u32[2] = S.u32[b];
  TMP.u32[3] = S.u32[b + 1];
  commit(D, d, n);
};
/** PSHUFB (SSSE3): byte k ← dest[src[k] mod n], or 0 when src[k] bit 7 is set. */
export const PSHUFB: PackedOp = (D, d, S, s, n) => {
  const m = n - 1;
  for (let k = 0; k < n; k++) {
    const x = S.u8[s + k];
    TMP.u8[k] = x & 0x80 ? 0 : D.u8[d + (x & m)];
  }
  commit(D, d, n);
};
/** PALIGNR (SSSE3): dest:src (2n bytes, dest high) shifted right by imm bytes, the low n kept. */
export const PALIGNR: PackedOp = (D, d, S, s, n, imm) => {
  for (let k = 0; k < n; k++) {
    const j = k + imm;
    TMP.u8[k] = j < n ? S.u8[s + j] : j < 2 * n ? D.u8[d + j - n] : 0;
  }
  commit(D, d, n);
};

/**
 * PHADDxx and PHSUBxx (SSSE3): adjacent pairs of dest, then of source, combined; `f` on signed
 * elements of `w` bytes (2 or 4), results truncated (or saturated by f) to the width.
 */
function horizontal(w: number, f: (a: number, b: number) => number): PackedOp {
  return (D, d, S, s, n) => {
    const h = n / w / 2;
    if (w === 2) {
      for (let k = 0; k < h; k++) TMP.u16[k] = f(D.i16[(d >> 1) + 2 * k], D.i16[(d >> 1) + 2 * k + 1]);
      for (let k = 0; k < h; k++) TMP.u16[h + k] = f(S.i16[(s >> 1) + 2 * k], S.i16[(s >> 1) + 2 * k + 1]);
    } else {
      for (let k = 0; k < h; k++) TMP.u32[k] = f(D.i32[(d >> 2) + 2 * k], D.i32[(d >> 2) + 2 * k + 1]);
      for (let k = 0; k < h; k++) TMP.u32[h + k] = f(S.i32[(s >> 2) + 2 * k], S.i32[(s >> 2) + 2 * k + 1]);
    }
    commit(D, d, n);
  };
}
export const PHADDW = horizontal(2, (a, b) => a + b);
export const PHADDD = horizontal(4, (a, b) => a + b);
export const PHADDSW = horizontal(2, (a, b) => satS16(a + b));
export const PHSUBW = horizontal(2, (a, b) => a - b);
export const PHSUBD = horizontal(4, (a, b) => a - b);
export const PHSUBSW = horizontal(2, (a, b) => satS16(a - b));
