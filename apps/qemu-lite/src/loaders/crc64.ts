/**
 * CRC-64/XZ (ECMA-182 polynomial, reflected: 0xC96C5795D7870F42; initial value and final XOR
 * all ones), the xz format's CRC64 check (xz-file-format.txt, 3.4 and 7). Computed on two
 * 32-bit halves with a 256-entry table, so a 60 MiB kernel costs no BigInt per byte.
 */

const POLY_HI = 0xc96c5795;
const POLY_LO = 0xd7870f42;

/** The table as two arrays: entry n is TABLE_HI[n] << 32 | TABLE_LO[n]. */
const TABLE_HI = new Uint32Array(256);
const TABLE_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let k = 0; k < 8; k++) {
    const lsb = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi >>>= 1;
    if (lsb) {
      hi = (hi ^ POLY_HI) >>> 0;
      lo = (lo ^ POLY_LO) >>> 0;
    }
  }
  TABLE_HI[n] = hi;
  TABLE_LO[n] = lo;
}

/** CRC-64/XZ of `data`, as its eight little-endian bytes (the order the xz check field stores). */
export function crc64Xz(data: Uint8Array): Uint8Array {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const index = (lo ^ data[i]!) & 0xff;
    // crc = TABLE[index] ^ (crc >> 8)
    lo = (((lo >>> 8) | (hi << 24)) ^ TABLE_LO[index]!) >>> 0;
    hi = ((hi >>> 8) ^ TABLE_HI[index]!) >>> 0;
  }
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, ~lo >>> 0, true);
  view.setUint32(4, ~hi >>> 0, true);
  return out;
}
