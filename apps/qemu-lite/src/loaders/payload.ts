/**
 * A bzImage's compressed kernel (payload_offset/payload_length, boot protocol 2.08): which
 * compression it uses, by its magic bytes, and decompressing it in process — on Node gzip with
 * node:zlib and xz with `xz.ts` (`platform/decompress.node.ts`); in a browser bundle nothing is
 * decompressed in process (`platform/decompress.browser.ts`) and the kernel decompresses itself —
 * bounded by the largest kernel there can be.
 *
 * Linux builds the payload as arch/x86/boot/compressed/Makefile says: `vmlinux.bin.<fmt>`, the
 * compressor's output followed, for every format but gzip, by `size_append` (the uncompressed
 * size, 32-bit little-endian; gzip's own trailer ends with it). mkpiggy reads those last four
 * bytes as the kernel's output length, and so do we, to check the decompressed size.
 */
import { MAX_KERNEL_BYTES } from './limits.js';

/** Compression of the payload, by its magic bytes (the kernel's `compressed/Makefile` choices). */
export type PayloadFormat = 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'lzma' | 'lzo' | 'lz4' | 'unknown';

const PAYLOAD_MAGICS: readonly (readonly [PayloadFormat, readonly number[]])[] = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['lzo', [0x89, 0x4c, 0x5a, 0x4f]],
  ['lz4', [0x02, 0x21, 0x4c, 0x18]],
  ['lzma', [0x5d, 0x00, 0x00]],
];

export function payloadFormat(payload: Uint8Array): PayloadFormat {
  for (const [format, magic] of PAYLOAD_MAGICS) {
    if (payload.length >= magic.length && magic.every((b, i) => payload[i] === b)) return format;
  }
  return 'unknown';
}

/**
 * Decompresses a payload, or returns undefined when there is no decompressor for the format
 * here. Throws `LoaderError` when there is one and the data is corrupt.
 */
export type PayloadDecompressor = (format: PayloadFormat, payload: Uint8Array) => Uint8Array | undefined;

/** The largest decompressed kernel: what x86-64 Linux can map (KERNEL_IMAGE_SIZE, see limits.ts). */
export const MAX_DECOMPRESSED_KERNEL = MAX_KERNEL_BYTES;

/**
 * gzip and xz in process on Node; in a browser bundle `HOST_DECOMPRESSES` is false and
 * `hostDecompress` answers undefined for every format (see `PayloadDecompressor`).
 */
export { HOST_DECOMPRESSES, hostDecompress } from '#platform/decompress';
