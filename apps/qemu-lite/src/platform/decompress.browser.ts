/**
 * `#platform/decompress` in a browser bundle: LZMA2 with our TypeScript decoder (`lzma2.ts`) and
 * CRC32 from a table, so an xz kernel (Debian's) is decompressed in the page as on Node; no gunzip
 * (a browser's DecompressionStream is asynchronous, the loader is not), so a gzip kernel
 * decompresses itself; no synchronous SHA-256 (WebCrypto's digest is asynchronous): an xz stream
 * with that check is refused as unsupported (Linux's use CRC32).
 */
import { decodeLzma2 } from '../loaders/lzma2.js';

export const gunzip: ((payload: Uint8Array, maxOutput: number) => Uint8Array) | undefined = undefined;

export const lzma2Decode = (data: Uint8Array): Uint8Array => decodeLzma2(data);

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32 (IEEE 802.3, reflected, as xz and gzip use it), unsigned. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const sha256: ((data: Uint8Array) => Uint8Array) | undefined = undefined;
