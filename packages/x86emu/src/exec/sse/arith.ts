/**
 * Element-wise packed-integer operations (SDM Vol. 1 9.4 and 11.4.x; each instruction's page in
 * Vol. 2): add/subtract with wraparound and saturation, multiplies, averages, min/max,
 * compares, the logicals. Written over lanes and byte offsets (see packed.ts): element k of the
 * result depends only on element k of the inputs, so D and S may be the same register.
 */
import type { PackedOp } from './packed.js';

const satS8 = (v: number): number => (v < -128 ? -128 : Math.min(v, 127));
const satU8 = (v: number): number => (v < 0 ? 0 : Math.min(v, 255));
export const satS16 = (v: number): number => (v < -32768 ? -32768 : Math.min(v, 32767));
export const satU16 = (v: number): number => (v < 0 ? 0 : Math.min(v, 65535));

// Each operation is its own function (not one loop calling a per-element callback): V8 then
// compiles every loop with its arithmetic inline, which a mix of SIMD instructions needs.

export const PADDB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = x[i] + y[j];
  }
};
export const PADDW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = x[i] + y[j];
  }
};
export const PADDD: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] + y[j];
  }
};
export const PSUBB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = x[i] - y[j];
  }
};
export const PSUBW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = x[i] - y[j];
  }
};
export const PSUBD: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] - y[j];
  }
};
export const PADDSB: PackedOp = (D, d, S, s, n) => {
  const x = D.i8;
  const y = S.i8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = satS8(x[i] + y[j]);
  }
};
export const PADDSW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = satS16(x[i] + y[j]);
  }
};
export const PADDUSB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = satU8(x[i] + y[j]);
  }
};
export const PADDUSW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = satU16(x[i] + y[j]);
  }
};
export const PSUBSB: PackedOp = (D, d, S, s, n) => {
  const x = D.i8;
  const y = S.i8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = satS8(x[i] - y[j]);
  }
};
export const PSUBSW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = satS16(x[i] - y[j]);
  }
};
export const PSUBUSB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = satU8(x[i] - y[j]);
  }
};
export const PSUBUSW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = satU16(x[i] - y[j]);
  }
};

/** PADDQ / PSUBQ: 64-bit lanes as 32-bit halves with the carry (borrow) between them. */
export const PADDQ: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k += 2) {
    const a = (d >> 2) + k;
    const b = (s >> 2) + k;
    const lo = x[a] + y[b];
    x[a + 1] = x[a + 1] + y[b + 1] + (lo > 0xffffffff ? 1 : 0);
    x[a] = lo;
  }
};
export const PSUBQ: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k += 2) {
    const a = (d >> 2) + k;
    const b = (s >> 2) + k;
    const borrow = x[a] < y[b] ? 1 : 0;
    x[a] = x[a] - y[b];
    x[a + 1] = x[a + 1] - y[b + 1] - borrow;
  }
};

export const PMULLW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = Math.imul(x[i], y[j]);
  }
};
export const PMULHW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = (x[i] * y[j]) >> 16;
  }
};
export const PMULHUW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = (x[i] * y[j]) >>> 16;
  }
};
export const PMULLD: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = Math.imul(x[i], y[j]);
  }
};
/** PMULHRSW (SSSE3): the product scaled by 2^-15 and rounded: ((a·b >> 14) + 1) >> 1. */
export const PMULHRSW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = (((x[i] * y[j]) >> 14) + 1) >> 1;
  }
};

/** a × b exactly for 32-bit unsigned a, b: low and high halves into out[0], out[1]. */
function mulU32(a: number, b: number, x: Uint32Array, at: number): void {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const ll = al * bl;
  const mid = ah * bl + al * bh; // < 2^33
  const lo = ll + (mid % 65536) * 65536;
  x[at] = lo;
  x[at + 1] = ah * bh + Math.floor(mid / 65536) + Math.floor(lo / 4294967296);
}
/** PMULUDQ: the low dword of each quadword, unsigned, to a 64-bit product. */
export const PMULUDQ: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n >> 2; k += 2) mulU32(D.u32[(d >> 2) + k], S.u32[(s >> 2) + k], D.u32, (d >> 2) + k);
};
/** PMULDQ (SSE4.1): the same, signed. */
export const PMULDQ: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n >> 2; k += 2) {
    const a = D.i32[(d >> 2) + k];
    const b = S.i32[(s >> 2) + k];
    const at = (d >> 2) + k;
    mulU32(Math.abs(a) >>> 0, Math.abs(b) >>> 0, D.u32, at);
    if (a < 0 !== b < 0 && a !== 0 && b !== 0) {
      // Two's complement of the 64-bit magnitude.
      const lo = D.u32[at];
      D.u32[at] = -lo;
      D.u32[at + 1] = ~D.u32[at + 1] + (lo === 0 ? 1 : 0);
    }
  }
};

/** PMADDWD: pairs of signed word products summed into dwords (0x8000 pairs wrap to 0x80000000). */
export const PMADDWD: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 2; k++) {
    const a = (d >> 1) + 2 * k;
    const b = (s >> 1) + 2 * k;
    D.i32[(d >> 2) + k] = x[a] * y[b] + x[a + 1] * y[b + 1];
  }
};
/** PMADDUBSW (SSSE3): unsigned dest bytes × signed source bytes, pairs summed with signed saturation. */
export const PMADDUBSW: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.i8;
  for (let k = 0; k < n >> 1; k++) {
    const a = d + 2 * k;
    const b = s + 2 * k;
    D.i16[(d >> 1) + k] = satS16(x[a] * y[b] + x[a + 1] * y[b + 1]);
  }
};
/** PSADBW: per quadword, the sum of absolute byte differences in its low word, the rest zero. */
export const PSADBW: PackedOp = (D, d, S, s, n) => {
  for (let q = 0; q < n; q += 8) {
    let sum = 0;
    for (let k = 0; k < 8; k++) sum += Math.abs(D.u8[d + q + k] - S.u8[s + q + k]);
    const w = (d + q) >> 2;
    D.u32[w] = sum;
    D.u32[w + 1] = 0;
  }
};

export const PAVGB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = (x[i] + y[j] + 1) >> 1;
  }
};
export const PAVGW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = (x[i] + y[j] + 1) >> 1;
  }
};

export const PMINUB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = Math.min(x[i], y[j]);
  }
};
export const PMAXUB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = Math.max(x[i], y[j]);
  }
};
export const PMINSB: PackedOp = (D, d, S, s, n) => {
  const x = D.i8;
  const y = S.i8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = Math.min(x[i], y[j]);
  }
};
export const PMAXSB: PackedOp = (D, d, S, s, n) => {
  const x = D.i8;
  const y = S.i8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = Math.max(x[i], y[j]);
  }
};
export const PMINSW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = Math.min(x[i], y[j]);
  }
};
export const PMAXSW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = Math.max(x[i], y[j]);
  }
};
export const PMINUW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = Math.min(x[i], y[j]);
  }
};
export const PMAXUW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = Math.max(x[i], y[j]);
  }
};
export const PMINSD: PackedOp = (D, d, S, s, n) => {
  const x = D.i32;
  const y = S.i32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = Math.min(x[i], y[j]);
  }
};
export const PMAXSD: PackedOp = (D, d, S, s, n) => {
  const x = D.i32;
  const y = S.i32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = Math.max(x[i], y[j]);
  }
};
export const PMINUD: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = Math.min(x[i], y[j]);
  }
};
export const PMAXUD: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = Math.max(x[i], y[j]);
  }
};

export const PCMPEQB: PackedOp = (D, d, S, s, n) => {
  const x = D.u8;
  const y = S.u8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = x[i] === y[j] ? 0xff : 0;
  }
};
export const PCMPEQW: PackedOp = (D, d, S, s, n) => {
  const x = D.u16;
  const y = S.u16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = x[i] === y[j] ? 0xffff : 0;
  }
};
export const PCMPEQD: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] === y[j] ? -1 : 0;
  }
};
export const PCMPGTB: PackedOp = (D, d, S, s, n) => {
  const x = D.i8;
  const y = S.i8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = x[i] > y[j] ? -1 : 0;
  }
};
export const PCMPGTW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = x[i] > y[j] ? -1 : 0;
  }
};
export const PCMPGTD: PackedOp = (D, d, S, s, n) => {
  const x = D.i32;
  const y = S.i32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] > y[j] ? -1 : 0;
  }
};
/** PCMPEQQ (SSE4.1) / PCMPGTQ (SSE4.2, signed): 64-bit lanes as halves. */
export const PCMPEQQ: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n >> 2; k += 2) {
    const a = (d >> 2) + k;
    const b = (s >> 2) + k;
    const r = D.u32[a] === S.u32[b] && D.u32[a + 1] === S.u32[b + 1] ? -1 : 0;
    D.i32[a] = r;
    D.i32[a + 1] = r;
  }
};
export const PCMPGTQ: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n >> 2; k += 2) {
    const a = (d >> 2) + k;
    const b = (s >> 2) + k;
    const ha = D.i32[a + 1];
    const hb = S.i32[b + 1];
    const r = ha > hb || (ha === hb && D.u32[a] > S.u32[b]) ? -1 : 0;
    D.i32[a] = r;
    D.i32[a + 1] = r;
  }
};

export const PAND: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] & y[j];
  }
};
export const PANDN: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = ~x[i] & y[j];
  }
};
export const POR: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] | y[j];
  }
};
export const PXOR: PackedOp = (D, d, S, s, n) => {
  const x = D.u32;
  const y = S.u32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = x[i] ^ y[j];
  }
};

/** Unary forms (SSSE3 PABS*): dest ← |src| (the result is unsigned: |−128| = 0x80). */
export const PABSB: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n; k++) D.u8[d + k] = Math.abs(S.i8[s + k]);
};
export const PABSW: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n >> 1; k++) D.u16[(d >> 1) + k] = Math.abs(S.i16[(s >> 1) + k]);
};
export const PABSD: PackedOp = (D, d, S, s, n) => {
  for (let k = 0; k < n >> 2; k++) D.u32[(d >> 2) + k] = Math.abs(S.i32[(s >> 2) + k]);
};
/** PSIGN* (SSSE3): dest negated where src < 0, zeroed where src = 0. */
export const PSIGNB: PackedOp = (D, d, S, s, n) => {
  const x = D.i8;
  const y = S.i8;
  for (let k = 0; k < n; k++) {
    const i = d + k;
    const j = s + k;
    x[i] = y[j] < 0 ? -x[i] : y[j] === 0 ? 0 : x[i];
  }
};
export const PSIGNW: PackedOp = (D, d, S, s, n) => {
  const x = D.i16;
  const y = S.i16;
  for (let k = 0; k < n >> 1; k++) {
    const i = (d >> 1) + k;
    const j = (s >> 1) + k;
    x[i] = y[j] < 0 ? -x[i] : y[j] === 0 ? 0 : x[i];
  }
};
export const PSIGND: PackedOp = (D, d, S, s, n) => {
  const x = D.i32;
  const y = S.i32;
  for (let k = 0; k < n >> 2; k++) {
    const i = (d >> 2) + k;
    const j = (s >> 2) + k;
    x[i] = y[j] < 0 ? -x[i] : y[j] === 0 ? 0 : x[i];
  }
};
