/**
 * `#platform/decompress` on Node: the codecs behind a bzImage's payload — gunzip with node:zlib,
 * LZMA2 with @napi-rs/lzma's native decoder, CRC32 with zlib, SHA-256 with node:crypto. The
 * container parsing and checks are portable (`loaders/xz.ts`, `loaders/payload.ts`); a browser
 * bundle gets `decompress.browser.ts`.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, crc32 as zlibCrc32 } from 'node:zlib';
import { lzma2 } from '@napi-rs/lzma';

/** gzip, in process, at most `maxOutput` bytes (more is an error). */
export const gunzip: ((payload: Uint8Array, maxOutput: number) => Uint8Array) | undefined = (
  payload,
  maxOutput,
) => new Uint8Array(gunzipSync(payload, { maxOutputLength: maxOutput }));

/** A raw LZMA2 stream (one xz block's data) decoded; throws on corrupt data. */
export const lzma2Decode = (data: Uint8Array): Uint8Array => lzma2.decompressSync(data);

/** CRC32 (IEEE, as xz and gzip use it), unsigned. */
export const crc32 = (data: Uint8Array): number => zlibCrc32(data) >>> 0;

/** SHA-256, or undefined where the platform has none to give synchronously. */
export const sha256: ((data: Uint8Array) => Uint8Array) | undefined = (data) =>
  new Uint8Array(createHash('sha256').update(data).digest());
