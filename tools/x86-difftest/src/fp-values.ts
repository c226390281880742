/**
 * Floating-point operands at the edges (issue 11): ±0, denormals, the normal range's ends,
 * infinities, QNaNs and SNaNs with payloads, values on and one ulp around rounding ties, the
 * integer-conversion limits and the overflow/underflow thresholds of each narrower format — in
 * 32-bit, 64-bit and 80-bit formats — and random x87 control/status/tag words and MXCSRs
 * (rounding, precision, DAZ/FTZ, masked and unmasked exceptions).
 */
import type { FpuState } from './fpu-state.js';
import type { Prng } from './prng.js';

const F32_EDGES = [
  0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x007fffff, 0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff,
  0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc00001, 0x7f800001, 0xff800001, 0x7fa00000, 0x7fbfffff,
  0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000, 0x40200000, 0x3f800001, 0x3f7fffff, 0x4b000000, 0x4b000001,
  0x4effffff, 0x4f000000, 0xcf000000, 0xcf000001, 0x5f000000, 0xdf000000, 0x33800000, 0x34000000, 0x0c000000,
];

/** 64-bit values as [lo, hi] dwords. */
const F64_EDGES: [number, number][] = [
  [0, 0],
  [0, 0x80000000],
  [1, 0],
  [0xffffffff, 0x000fffff],
  [0, 0x00100000],
  [0, 0x80100000],
  [0xffffffff, 0x7fefffff],
  [0, 0x7ff00000],
  [0, 0xfff00000],
  [0, 0x7ff80000],
  [0, 0xfff80000],
  [1, 0x7ff80000],
  [1, 0x7ff00000],
  [0, 0x7ff40000],
  [0xffffffff, 0x7ff7ffff],
  [0, 0x3ff00000],
  [0, 0xbff00000],
  [0, 0x3fe00000],
  [0, 0x3ff80000],
  [0, 0x40040000],
  [1, 0x3ff00000],
  [0xffffffff, 0x3fefffff],
  [0x10000000, 0x3ff00000], // 1 + 2^-24: a tie when rounded to single precision
  [0x10000001, 0x3ff00000],
  [0x0fffffff, 0x3ff00000],
  [0xe0000000, 0x47efffff], // FLT_MAX + half an ulp: the single-precision overflow threshold
  [0, 0x36a00000], // 2^-149: the smallest single denormal
  [0, 0x36900000], // 2^-150: below it, a tie to zero
  [0, 0x41e00000], // 2^31
  [0x00200000, 0xc1e00000], // -2^31 - 1
  [0xffc00000, 0x41dfffff], // 2^31 - 0.5
  [0, 0x43e00000], // 2^63
  [0, 0xc3e00000],
  [0, 0x43300000], // 2^52
];

/** 80-bit values as [significand lo, significand hi, sign/exponent]. */
const F80_EDGES: [number, number, number][] = [
  [0, 0, 0],
  [0, 0, 0x8000],
  [1, 0, 0], // denormal
  [0, 0x80000000, 0], // pseudo-denormal
  [0, 0x80000000, 0x7fff], // +∞
  [0, 0x80000000, 0xffff],
  [0, 0xc0000000, 0x7fff], // QNaN
  [0, 0xc0000000, 0xffff], // the indefinite
  [1, 0x80000000, 0x7fff], // SNaN
  [0x1234, 0xa0000000, 0x7fff],
  [0, 0, 0x7fff], // pseudo-infinity (invalid operand)
  [0x5678, 0x12345678, 0x3fff], // unnormal
  [0, 0x80000000, 0x3fff], // 1.0
  [0, 0x80000000, 0xbfff],
  [0xffffffff, 0xffffffff, 0x7ffe], // the largest
  [0, 0x80000000, 0x0001], // the smallest normal
  [0, 0x80000000, 0x403e], // 2^63
  [0, 0x80000000, 0x401e], // 2^31
  [0x00000400, 0x80000000, 0x3fff], // 1 + 2^-53: a tie at double precision
  [0x00000000, 0x80000080, 0x3fff], // 1 + 2^-24: a tie at single precision
  [0xffffffff, 0xffffffff, 0x3ffe], // just below 1
  [0xc90fdaa2, 0x2168c234, 0x4000], // ≈ π (the transcendentals' reduction)
  [0, 0x80000000, 0x43fe], // overflows double
  [0, 0x80000000, 0x3bcd], // underflows double
];

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
}

/** One 32-bit float: an edge (70%) or random bits. */
export function f32(p: Prng): number {
  return p.chance(0.7) ? p.pick(F32_EDGES) : p.u32();
}

/** One 64-bit float as [lo, hi]: an edge (70%) or a random normal near 1 or random bits. */
export function f64(p: Prng): [number, number] {
  if (p.chance(0.7)) return p.pick(F64_EDGES);
  return p.chance(0.5) ? [p.u32(), (0x3f000000 + p.below(0x1000000)) >>> 0] : [p.u32(), p.u32()];
}

/** One 80-bit value as 10 bytes (significand low first, then sign/exponent). */
export function f80(p: Prng): number[] {
  let v: [number, number, number];
  if (p.chance(0.6)) v = p.pick(F80_EDGES);
  else
    v = [p.u32(), (p.u32() | 0x80000000) >>> 0, (0x3fff + p.range(-80, 80)) | (p.chance(0.5) ? 0x8000 : 0)];
  return [...le32(v[0]), ...le32(v[1]), v[2] & 0xff, (v[2] >>> 8) & 0xff];
}

/** 16 bytes of SIMD data: four singles, two doubles, an 80-bit value, or integers at the edges. */
export function simd16(p: Prng): number[] {
  const k = p.below(5);
  if (k === 0) return [...le32(f32(p)), ...le32(f32(p)), ...le32(f32(p)), ...le32(f32(p))];
  if (k === 1) {
    const [a, b] = [f64(p), f64(p)];
    return [...le32(a[0]), ...le32(a[1]), ...le32(b[0]), ...le32(b[1])];
  }
  if (k === 2) return [...f80(p), ...le32(p.u32()), p.below(256), p.below(256)];
  const out: number[] = [];
  for (let i = 0; i < 4; i++)
    out.push(
      ...le32(p.chance(0.5) ? p.pick([0, 0xffffffff, 0x80000000, 0x7fffffff, 0x8000, 0x80]) : p.u32()),
    );
  return out;
}

/**
 * A random x87/SSE state at the edges: FCW with random rounding and precision control and now
 * and then unmasked exceptions, TOP anywhere, registers empty or holding edge values, MXCSR with
 * random rounding, DAZ/FTZ and masks, XMM0–15 filled by `simd16`.
 */
export function randomFpu(p: Prng): FpuState {
  let fcw = 0x037f;
  if (p.chance(0.5)) fcw = (fcw & ~0x0c00) | (p.below(4) << 10);
  if (p.chance(0.4)) fcw = (fcw & ~0x0300) | (p.pick([0, 2, 3]) << 8);
  if (p.chance(0.15)) fcw &= ~(1 << p.below(6));
  const top = p.below(8);
  const fsw = top << 11;
  let ftw = 0;
  const st: number[] = [];
  for (let i = 0; i < 8; i++) {
    st.push(...f80(p));
    if (p.chance(0.7)) ftw |= 1 << ((top + i) & 7);
  }
  let mxcsr = 0x1f80;
  if (p.chance(0.5)) mxcsr = (mxcsr & ~0x6000) | (p.below(4) << 13);
  if (p.chance(0.2)) mxcsr |= 0x8000; // FTZ
  if (p.chance(0.2)) mxcsr |= 0x0040; // DAZ
  if (p.chance(0.15)) mxcsr &= ~(0x80 << p.below(6));
  if (p.chance(0.1)) mxcsr |= 1 << p.below(6);
  const xmm: number[] = [];
  for (let n = 0; n < 16; n++) xmm.push(...simd16(p));
  return { fcw, fsw, ftw, st, mxcsr, xmm };
}
