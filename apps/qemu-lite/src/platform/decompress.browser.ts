/**
 * `#platform/decompress` in a browser bundle: no payload is decompressed in process (node:zlib and
 * the native LZMA2 decoder are Node's), so the bzImage loader's default entry is the kernel's own
 * decompressor (`QEMU_LITE_BZIMAGE_ENTRY=decompressor` on Node): slower, the same kernel.
 */
import type { PayloadDecompressor } from '../loaders/payload.js';

export const HOST_DECOMPRESSES = false;

/** Undefined for every format: "no decompressor here" (see `PayloadDecompressor`). */
export const hostDecompress: PayloadDecompressor = () => undefined;
