/**
 * Seeded operand generators aimed at the hard cases: zeros, denormals, pseudo-denormals,
 * unsupported encodings, infinities, NaNs with payloads, extreme and mid exponents, and
 * significands with long runs of ones or zeros (halfway and carry-out rounding cases).
 */
export class Rng {
  constructor(private s: number) {}
  /** xorshift32 */
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)];
  }
}

/** A 32-bit word biased towards runs of ones/zeros at either end. */
export function word(r: Rng): number {
  switch (r.below(6)) {
    case 0:
      return 0;
    case 1:
      return 0xffffffff;
    case 2:
      return (0xffffffff << r.below(32)) >>> 0;
    case 3:
      return 0xffffffff >>> r.below(32);
    case 4:
      return (1 << r.below(32)) >>> 0;
    default:
      return r.u32();
  }
}

/** A 64-bit significand with its integer bit set (hi, lo). */
export function sig64(r: Rng): [number, number] {
  return [(0x80000000 | word(r)) >>> 0, word(r)];
}

/** An 80-bit operand: [signExp, hi, lo]. */
export function ext80(r: Rng, near?: number): [number, number, number] {
  const s = r.below(2) << 15;
  const k = r.below(40);
  if (k === 0) return [s, 0, 0];
  if (k === 1) return [s, word(r) >>> 1, word(r)]; // denormal
  if (k === 2) return [s, (0x80000000 | word(r)) >>> 0, word(r)]; // pseudo-denormal
  if (k === 3) return [s | 0x7fff, 0x80000000, 0]; // infinity
  if (k === 4) return [s | 0x7fff, (0xc0000000 | word(r)) >>> 0, word(r)]; // QNaN
  if (k === 5) {
    const hi = (0x80000000 | (word(r) & 0x3fffffff)) >>> 0;
    const lo = word(r);
    return [s | 0x7fff, hi, hi === 0x80000000 && lo === 0 ? 1 : lo]; // SNaN
  }
  if (k === 6 && r.below(4) === 0) return [s | r.below(0x8000), word(r) & 0x7fffffff, word(r)]; // unnormal etc.
  const [hi, lo] = sig64(r);
  let e: number;
  if (near !== undefined && k < 24) e = Math.max(1, Math.min(0x7ffe, near + r.below(140) - 70));
  else if (k < 12) e = 0x3fff + r.below(128) - 64;
  else if (k < 15) e = 1 + r.below(80);
  else if (k < 18) e = 0x7ffe - r.below(80);
  else e = 1 + r.below(0x7ffe);
  return [s | e, hi, lo];
}

/** A control word: masks mostly all set, sometimes a random subset; PC 24/53/64; RC 0-3. */
export function controlWord(r: Rng): number {
  const masks = r.below(4) === 0 ? r.below(64) : 0x3f;
  const pc = r.pick([0, 1, 2, 3, 3]); // 01 is reserved, but the CPU accepts it
  return 0x40 | masks | (pc << 8) | (r.below(4) << 10);
}

/** A float32 bit pattern; `near` correlates the exponent with another operand's. */
export function f32(r: Rng, near?: number): number {
  const s = (r.below(2) << 31) >>> 0;
  const k = r.below(32);
  if (k === 0) return s;
  if (k === 1) return (s | (word(r) & 0x7fffff) | 1) >>> 0; // denormal
  if (k === 2) return (s | 0x7f800000) >>> 0;
  if (k === 3) return (s | 0x7fc00000 | (word(r) & 0x3fffff)) >>> 0; // QNaN
  if (k === 4) return (s | 0x7f800000 | (word(r) & 0x3fffff) | 1) >>> 0; // SNaN
  let e: number;
  if (near !== undefined && k < 20) e = Math.max(1, Math.min(254, ((near >>> 23) & 0xff) + r.below(60) - 30));
  else if (k < 10) e = 127 + r.below(64) - 32;
  else if (k < 13) e = 1 + r.below(30);
  else if (k < 16) e = 254 - r.below(30);
  else e = 1 + r.below(254);
  return (s | (e << 23) | (word(r) & 0x7fffff)) >>> 0;
}

/** A float64 bit pattern as [hi, lo]. */
export function f64(r: Rng, nearHi?: number): [number, number] {
  const s = (r.below(2) << 31) >>> 0;
  const k = r.below(32);
  if (k === 0) return [s, 0];
  if (k === 1) return [(s | (word(r) & 0xfffff)) >>> 0, (word(r) | 1) >>> 0]; // denormal
  if (k === 2) return [(s | 0x7ff00000) >>> 0, 0];
  if (k === 3) return [(s | 0x7ff80000 | (word(r) & 0x7ffff)) >>> 0, word(r)]; // QNaN
  if (k === 4) return [(s | 0x7ff00000 | (word(r) & 0x7ffff)) >>> 0, (word(r) | 1) >>> 0]; // SNaN
  let e: number;
  if (nearHi !== undefined && k < 20)
    e = Math.max(1, Math.min(2046, ((nearHi >>> 20) & 0x7ff) + r.below(120) - 60));
  else if (k < 10) e = 1023 + r.below(128) - 64;
  else if (k < 13) e = 1 + r.below(60);
  else if (k < 16) e = 2046 - r.below(60);
  else e = 1 + r.below(2046);
  return [(s | (e << 20) | (word(r) & 0xfffff)) >>> 0, word(r)];
}

/** MXCSR: masks mostly all set, RC 0-3, DAZ and FTZ sometimes, flags clear. */
export function mxcsrValue(r: Rng): number {
  const masks = r.below(4) === 0 ? r.below(64) : 0x3f;
  return (masks << 7) | (r.below(4) << 13) | (r.below(4) === 0 ? 0x40 : 0) | (r.below(4) === 0 ? 0x8000 : 0);
}
