/**
 * The byte checksum every ACPI table and the MP structures carry: the sum of all bytes of the
 * structure, checksum included, is 0 modulo 256 (ACPI 6.4 5.2.5.3 / 5.2.6, MP spec 1.4 4.1).
 */

/** The sum of `bytes[start, end)` modulo 256. */
export function byteSum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + bytes[i]) & 0xff;
  return sum;
}

/**
 * Stores at `bytes[at]` the value that makes `bytes[start, end)` sum to 0 (the checksum byte
 * must lie inside the range; it is zeroed first, so calling this twice is harmless).
 */
export function setChecksum(bytes: Uint8Array, start: number, end: number, at: number): void {
  bytes[at] = 0;
  bytes[at] = (0x100 - byteSum(bytes, start, end)) & 0xff;
}
