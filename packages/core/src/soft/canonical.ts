/**
 * 64-bit addresses as two 32-bit halves, for 48 linear-address bits (4-level paging, SDM Vol. 1
 * 3.3.7.1): a canonical address has bits 63:47 all equal. x86emu hands linear addresses over as
 * plain numbers, in IA-32e mode the canonical address folded to 48 bits (bits 63:48 dropped).
 */

const TWO32 = 4294967296;

/** Is the 64-bit value whose high half is `hi` canonical (bits 63:47 equal)? */
export function isCanonicalHigh(hi: number): boolean {
  const top = hi >> 15;
  return top === 0 || top === -1;
}

/** The high half with bits 63:48 copied from bit 47 (`__canonical_address`). */
export function canonicalHigh(hi: number): number {
  return (hi & 0x8000 ? hi | 0xffff0000 : hi & 0xffff) >>> 0;
}

/** A folded 48-bit linear address (a plain number below 2^48) → the high half of its canonical form. */
export function linearAddressHigh(folded: number): number {
  return canonicalHigh(Math.floor(folded / TWO32));
}

/** A 64-bit linear address in halves → x86emu's folded 48-bit number. */
export function foldLinearAddress(lo: number, hi: number): number {
  return (hi & 0xffff) * TWO32 + (lo >>> 0);
}
