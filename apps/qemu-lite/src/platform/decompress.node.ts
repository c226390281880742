/**
 * `#platform/decompress` on Node: a bzImage's gzip payload with node:zlib, its xz payload with
 * `loaders/xz.ts` (whose LZMA2 is @napi-rs/lzma), in process and bounded by the largest kernel.
 * A browser bundle gets `decompress.browser.ts` instead.
 */
import { gunzipSync } from 'node:zlib';
import { MAX_KERNEL_BYTES as MAX_DECOMPRESSED_KERNEL } from '../loaders/limits.js';
import type { PayloadDecompressor } from '../loaders/payload.js';
import { LoaderError } from '../loaders/types.js';
import { decodeXz, XzError } from '../loaders/xz.js';

/** This platform decompresses gzip and xz payloads itself (the bzImage loader's default entry). */
export const HOST_DECOMPRESSES = true;

function corrupt(format: string, detail: string): never {
  throw new LoaderError('bzImage', `kernel payload is corrupt (${format}: ${detail})`);
}

/** gzip and xz, in process; every other format is undefined (see `PayloadDecompressor`). */
export const hostDecompress: PayloadDecompressor = (format, payload) => {
  if (format === 'gzip') {
    try {
      return new Uint8Array(gunzipSync(payload, { maxOutputLength: MAX_DECOMPRESSED_KERNEL }));
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
