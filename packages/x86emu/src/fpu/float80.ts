/**
 * The x87 80-bit extended-precision value as plain numbers (SDM Vol. 1 4.2.2, 8.2.2): sign and
 * 15-bit biased exponent in `signExp` (the memory layout's bytes 8-9), the 64-bit significand
 * with its explicit integer bit as two unsigned 32-bit halves, `hi` (bits 63-32) and `lo`.
 */
export class Ext80 {
  /**
   * The three words live in a typed array, not in object fields: V8 keeps number fields either
   * tagged (every store of a word ≥ 2^31 boxes a new heap number) or as doubles (boxed again
   * on reads); a Uint32Array store or load allocates nothing. Measured with V8's heap
   * profiler: 16 bytes per rounding before (44 an ADDPS), none after.
   */
  private readonly w = new Uint32Array(3);

  constructor(signExp = 0, hi = 0, lo = 0) {
    this.w[0] = signExp;
    this.w[1] = hi;
    this.w[2] = lo;
  }

  /** Sign (bit 15) and biased exponent. */
  get signExp(): number {
    return this.w[0];
  }
  set signExp(v: number) {
    this.w[0] = v;
  }
  /** Significand bits 63-32 (the integer bit is bit 31 here), unsigned. */
  get hi(): number {
    return this.w[1];
  }
  set hi(v: number) {
    this.w[1] = v;
  }
  /** Significand bits 31-0, unsigned. */
  get lo(): number {
    return this.w[2];
  }
  set lo(v: number) {
    this.w[2] = v;
  }

  set(signExp: number, hi: number, lo: number): this {
    this.signExp = signExp & 0xffff;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }

  copy(o: Ext80): this {
    this.signExp = o.signExp;
    this.hi = o.hi;
    this.lo = o.lo;
    return this;
  }
}

export const EXP_MAX = 0x7fff;
export const EXP_BIAS = 16383;
export const INT_BIT = 0x80000000;
/** Bit 62 of the significand: set in a QNaN, clear in an SNaN. */
export const QUIET_BIT = 0x40000000;

/** The x87 "real indefinite": the default NaN of a masked invalid operation (SDM Vol. 1 4.8.3.7). */
export const INDEFINITE_SE = 0xffff;
export const INDEFINITE_HI = 0xc0000000;

/** Classes of an 80-bit encoding (SDM Vol. 1 Table 8-3 and 8.2.2 "unsupported"). */
export const enum F80Class {
  Zero = 0,
  /** Exponent 0, integer bit 0, fraction non-zero: 0.f × 2^-16382. */
  Denormal = 1,
  /** Exponent 0, integer bit 1: 1.f × 2^-16382, accepted as an operand (DE), never produced. */
  PseudoDenormal = 2,
  Normal = 3,
  Infinity = 4,
  QNaN = 5,
  SNaN = 6,
  /** Pseudo-NaN, pseudo-infinity, unnormal: integer bit clear with a non-zero exponent → IE. */
  Unsupported = 7,
}

export function classify80(signExp: number, hi: number, lo: number): F80Class {
  const e = signExp & EXP_MAX;
  const intBit = hi & INT_BIT;
  if (e === 0) {
    if (intBit) return F80Class.PseudoDenormal;
    return (hi | lo) === 0 ? F80Class.Zero : F80Class.Denormal;
  }
  if (!intBit) return F80Class.Unsupported;
  if (e !== EXP_MAX) return F80Class.Normal;
  if ((hi & 0x7fffffff) === 0 && lo === 0) return F80Class.Infinity;
  return hi & QUIET_BIT ? F80Class.QNaN : F80Class.SNaN;
}

export function isNaNClass(c: F80Class): boolean {
  return c === F80Class.QNaN || c === F80Class.SNaN;
}

/** The significand of `o`, as a BigInt-free decimal-free debug string `se:hi:lo` (tests, errors). */
export function hex80(o: Ext80): string {
  return `${o.signExp.toString(16)}:${o.hi.toString(16).padStart(8, '0')}:${o.lo.toString(16).padStart(8, '0')}`;
}
