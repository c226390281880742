/**
 * A bzImage's compressed kernel (payload_offset/payload_length, boot protocol 2.08): which
 * compression it uses, by its magic bytes, and decompressing it in process, bounded by the largest
 * kernel there can be: xz with `xz.ts` everywhere (its LZMA2 decoder is @napi-rs/lzma on Node,
 * `lzma2.ts` in a browser: `#platform/decompress`), gzip with node:zlib on Node; a browser has no
 * synchronous gunzip, so there a gzip kernel decompresses itself (`hostDecompresses`).
 *
 * Linux builds the payload as arch/x86/boot/compressed/Makefile says: `vmlinux.bin.<fmt>`, the
 * compressor's output followed, for every format but gzip, by `size_append` (the uncompressed
 * size, 32-bit little-endian; gzip's own trailer ends with it). mkpiggy reads those last four
 * bytes as the kernel's output length, and so do we, to check the decompressed size.
 */
import { gunzip } from '#platform/decompress';
import { MAX_KERNEL_BYTES } from './limits.js';
import { LoaderError } from './types.js';
import { decodeXz, XzError } from './xz.js';

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

function corrupt(format: string, detail: string): never {
  throw new LoaderError('bzImage', `kernel payload is corrupt (${format}: ${detail})`);
}

/** Whether `hostDecompress` decompresses `format` here: xz everywhere, gzip where the platform has zlib. */
export function hostDecompresses(format: PayloadFormat): boolean {
  return format === 'xz' || (format === 'gzip' && gunzip !== undefined);
}

/** gzip (where the platform has it) and xz, in process; every other format is undefined. */
export const hostDecompress: PayloadDecompressor = (format, payload) => {
  if (format === 'gzip') {
    if (gunzip === undefined) return undefined;
    try {
      return gunzip(payload, MAX_DECOMPRESSED_KERNEL);
    } catch (error) {
      corrupt('gzip', (error as Error).message);
    }
  }
  if (format !== 'xz') return undefined;
  let output: Uint8Array;
  try {
    output = decodeXz(payload, MAX_DECOMPRESSED_KERNEL).output;
  } catch (error) {
    if (!(error instanceof XzError)) throw error;
    if (error.unsupported) {
      throw new LoaderError('bzImage', `kernel payload: unsupported xz feature: ${error.message}`);
    }
    corrupt('xz', error.message);
  }
  // size_append: the last four bytes of the payload are the uncompressed size.
  if (payload.length >= 4) {
    const at = payload.length - 4;
    const declared =
      (payload[at]! | (payload[at + 1]! << 8) | (payload[at + 2]! << 16) | (payload[at + 3]! << 24)) >>> 0;
    if (declared !== output.length) {
      corrupt(
        'xz',
        `the stream decodes to ${output.length} bytes, the size appended after it says ${declared}`,
      );
    }
  }
  return output;
};
