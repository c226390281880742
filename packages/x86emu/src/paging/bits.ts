/**
 * Bit fields of physical and linear addresses kept as plain numbers (non-negative integers below
 * 2^53), for the page walkers' hot loops. `%` on a double is a floating-point remainder (fmod, a
 * call into the C library) and `2 ** n` with a variable `n` a call to `pow`: the 4-level and EPT
 * walks paid both at every level (`Math.floor(gva / 2 ** (3 + 9 * level)) % 512`), and Debian's
 * boot on the engine fills ~190,000 TLB entries through a guest walk whose every table read is an
 * EPT walk. ToUint32 is the value modulo 2^32, so `v >>> 0` is bits 31:0 exactly and
 * `(v - lo) / 2^32` bits 52:32.
 */

export const TWO32 = 4294967296;

/** Bits 11:0 of `v`. */
export function pageOffset(v: number): number {
  return (v >>> 0) & 0xfff;
}

/** `v` with bits 11:0 clear. */
export function pageBase(v: number): number {
  return v - ((v >>> 0) & 0xfff);
}

/** Bits 52:32 of `v`, given its bits 31:0 `lo` (`v >>> 0`). */
export function high32(v: number, lo: number): number {
  return (v - lo) / TWO32;
}

/**
 * The 9-bit table index that 4-level paging and EPT take at `level` (4: bits 47:39, 3: 38:30,
 * 2: 29:21, 1: 20:12; SDM Vol. 3 Figure 4-8, 29.3.2) from an address whose halves are `lo`
 * (bits 31:0) and `hi` (bits 52:32).
 */
export function tableIndex(lo: number, hi: number, level: number): number {
  const shift = 3 + 9 * level;
  return shift >= 32 ? (hi >>> (shift - 32)) & 511 : ((lo >>> shift) | (hi << (32 - shift))) & 511;
}
