/**
 * An .xz stream decoder (xz-file-format.txt 1.2.1): the container — stream header, blocks,
 * index, footer, every CRC32 and the block checks — is parsed here; the LZMA2 data inside each
 * block is decoded by @napi-rs/lzma on Node (a maintained Rust decoder shipped as a prebuilt binary
 * per platform), whose own xz reader lacks the BCJ filters Linux uses, and by `lzma2.ts` in a
 * browser (`#platform/decompress` chooses); the x86 BCJ filter is `bcj-x86.ts`.
 *
 * Corrupt input is an `XzError` saying what is wrong and at which byte offset of the stream; a
 * stream that needs what we lack (a filter other than LZMA2/x86 BCJ, an unknown check) is an
 * `XzError` with `unsupported` set. Output is bounded by `maxOutput`, checked against the sizes
 * the LZMA2 chunk headers declare before any byte is decoded, so a small stream cannot make us
 * allocate gigabytes.
 */
import { crc32, lzma2Decode, sha256 } from '#platform/decompress';
import { bcjX86Decode } from './bcj-x86.js';
import { crc64Xz } from './crc64.js';

export class XzError extends Error {
  /** True when the stream is well formed but uses a feature this decoder does not have. */
  readonly unsupported: boolean;

  constructor(message: string, unsupported = false) {
    super(message);
    this.name = 'XzError';
    this.unsupported = unsupported;
  }
}

const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a]; // "YZ"
const STREAM_HEADER_SIZE = 12;
const STREAM_FOOTER_SIZE = 12;

/** Filter IDs (xz-file-format.txt 5.3). */
const FILTER_LZMA2 = 0x21;
const FILTER_X86 = 0x04;

/** Check IDs (3.1.2) and their sizes; the others are reserved sizes we cannot verify. */
const CHECK_NONE = 0x00;
const CHECK_CRC32 = 0x01;
const CHECK_CRC64 = 0x04;
const CHECK_SHA256 = 0x0a;
function checkSize(id: number): number {
  return id === 0 ? 0 : 4 << Math.floor((id - 1) / 3);
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function u32le(data: Uint8Array, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
}

/** A reader over the stream that says where it is when it finds something wrong. */
class Cursor {
  pos: number;

  constructor(
    readonly data: Uint8Array,
    pos: number,
  ) {
    this.pos = pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.data.length)
      throw new XzError(
        `truncated: ${what} at offset ${this.pos} runs past the end (${this.data.length} bytes)`,
      );
  }

  byte(what: string): number {
    this.need(1, what);
    return this.data[this.pos++]!;
  }

  /** A multibyte integer (1.2): 7 bits a byte, low first, at most 9 bytes, no trailing zero byte. */
  varint(what: string): number {
    const start = this.pos;
    let value = 0;
    for (let i = 0; i < 9; i++) {
      const b = this.byte(what);
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new XzError(`${what} at offset ${start}: non-minimal integer encoding`);
        if (!Number.isSafeInteger(value))
          throw new XzError(`${what} at offset ${start}: ${value} is too large`);
        return value;
      }
    }
    throw new XzError(`${what} at offset ${start}: integer longer than 9 bytes`);
  }

  /** CRC32 of data[from, this.pos) against the 4 bytes at this.pos (1.4). */
  crc32(from: number, what: string): void {
    this.need(4, `${what} CRC32`);
    const stored = u32le(this.data, this.pos);
    const computed = crc32(this.data.subarray(from, this.pos));
    if (stored !== computed)
      throw new XzError(
        `${what} at offset ${from}: CRC32 ${hex(stored)} does not match the data (${hex(computed)})`,
      );
    this.pos += 4;
  }

  zeros(n: number, what: string): void {
    this.need(n, what);
    for (let i = 0; i < n; i++) {
      if (this.data[this.pos + i] !== 0) throw new XzError(`${what} at offset ${this.pos + i} is not zero`);
    }
    this.pos += n;
  }
}

interface BlockHeader {
  compressedSize: number | undefined;
  uncompressedSize: number | undefined;
  /** The x86 BCJ filter's start offset, when the chain has it. */
  x86StartOffset: number | undefined;
}

/** Block header (3.1): size, flags, optional sizes, the filter chain ending in LZMA2, CRC32. */
function readBlockHeader(c: Cursor, sizeByte: number): BlockHeader {
  const start = c.pos - 1;
  const end = start + (sizeByte + 1) * 4;
  c.need(end - c.pos, 'block header');
  const flags = c.byte('block flags');
  if (flags & 0x3c)
    throw new XzError(`block header at offset ${start}: reserved flag bits ${hex(flags)} set`);
  const compressedSize = flags & 0x40 ? c.varint('block compressed size') : undefined;
  const uncompressedSize = flags & 0x80 ? c.varint('block uncompressed size') : undefined;
  const filterCount = (flags & 3) + 1;
  let x86StartOffset: number | undefined;
  let lzma2Seen = false;
  for (let f = 0; f < filterCount; f++) {
    const id = c.varint('filter ID');
    const propsSize = c.varint('filter properties size');
    c.need(propsSize, 'filter properties');
    const props = c.data.subarray(c.pos, c.pos + propsSize);
    c.pos += propsSize;
    const last = f === filterCount - 1;
    if (id === FILTER_LZMA2) {
      if (!last) throw new XzError(`block header at offset ${start}: LZMA2 is not the last filter`);
      if (propsSize !== 1 || props[0]! > 40)
        throw new XzError(`block header at offset ${start}: bad LZMA2 dictionary property`);
      lzma2Seen = true;
    } else if (id === FILTER_X86 && !last && x86StartOffset === undefined) {
      if (propsSize !== 0 && propsSize !== 4)
        throw new XzError(`block header at offset ${start}: x86 filter properties are ${propsSize} bytes`);
      x86StartOffset = propsSize === 4 ? u32le(props, 0) : 0;
    } else {
      throw new XzError(`filter ${hex(id)} (block header at offset ${start}) is not supported`, true);
    }
  }
  if (!lzma2Seen)
    throw new XzError(`block header at offset ${start}: the filter chain does not end in LZMA2`);
  if (c.pos > end - 4)
    throw new XzError(`block header at offset ${start}: fields overrun its ${end - start} bytes`);
  c.zeros(end - 4 - c.pos, 'block header padding');
  c.crc32(start, 'block header');
  return { compressedSize, uncompressedSize, x86StartOffset };
}

/**
 * Walks the LZMA2 chunk headers from `c.pos` to the end marker (chunk control 0x00) without
 * decoding, returning the bytes the chunks declare they decode to. Leaves `c.pos` after the
 * end marker. Control bytes: 0x01/0x02 uncompressed chunk, 0x80–0xFF LZMA chunk (sizes in the
 * header, properties byte from 0xC0), 0x03–0x7F invalid.
 */
function walkLzma2(c: Cursor): number {
  let unpacked = 0;
  for (;;) {
    const at = c.pos;
    const control = c.byte('LZMA2 chunk');
    if (control === 0x00) return unpacked;
    if (control === 0x01 || control === 0x02) {
      c.need(2, 'LZMA2 chunk header');
      const size = ((c.data[c.pos]! << 8) | c.data[c.pos + 1]!) + 1;
      c.pos += 2;
      c.need(size, 'LZMA2 uncompressed chunk');
      c.pos += size;
      unpacked += size;
    } else if (control >= 0x80) {
      const headerSize = control >= 0xc0 ? 5 : 4;
      c.need(headerSize, 'LZMA2 chunk header');
      const d = c.data;
      const p = c.pos;
      unpacked += (control & 0x1f) * 0x10000 + ((d[p]! << 8) | d[p + 1]!) + 1;
      const packed = ((d[p + 2]! << 8) | d[p + 3]!) + 1;
      c.pos += headerSize;
      c.need(packed, 'LZMA2 compressed chunk');
      c.pos += packed;
    } else {
      throw new XzError(`LZMA2 chunk at offset ${at}: invalid control byte ${hex(control)}`);
    }
  }
}

function verifyCheck(checkId: number, output: Uint8Array, c: Cursor, blockStart: number): void {
  if (checkId === CHECK_NONE) return;
  const size = checkSize(checkId);
  c.need(size, 'block check');
  const stored = c.data.subarray(c.pos, c.pos + size);
  let computed: Uint8Array;
  if (checkId === CHECK_CRC32) {
    computed = new Uint8Array(4);
    new DataView(computed.buffer).setUint32(0, crc32(output), true);
  } else if (checkId === CHECK_CRC64) {
    computed = crc64Xz(output);
  } else {
    if (sha256 === undefined) throw new XzError('SHA-256 block checks (no synchronous SHA-256 here)', true);
    computed = sha256(output);
  }
  if (stored.length !== computed.length || stored.some((b, i) => b !== computed[i])) {
    const name = checkId === CHECK_CRC32 ? 'CRC32' : checkId === CHECK_CRC64 ? 'CRC64' : 'SHA-256';
    throw new XzError(
      `block at offset ${blockStart}: its ${name} check does not match the decompressed data`,
    );
  }
  c.pos += size;
}

/** The result of decoding one stream: the data and where the stream ended in the input. */
export interface XzDecoded {
  readonly output: Uint8Array;
  /** Offset just past the stream footer (anything after it is not part of the stream). */
  readonly end: number;
}

/**
 * Decodes the single .xz stream at the start of `input` (what follows it is ignored, as
 * `xz --single-stream` does). Throws `XzError` for corrupt, unsupported or oversized input.
 */
export function decodeXz(input: Uint8Array, maxOutput: number): XzDecoded {
  const c = new Cursor(input, 0);
  c.need(STREAM_HEADER_SIZE, 'stream header');
  if (!HEADER_MAGIC.every((b, i) => input[i] === b))
    throw new XzError('no xz stream header magic at offset 0');
  c.pos = 6;
  if (input[6] !== 0 || (input[7]! & 0xf0) !== 0) throw new XzError('stream header: reserved flag bits set');
  const checkId = input[7]!;
  c.pos = 8;
  c.crc32(6, 'stream header flags');
  if (
    checkId !== CHECK_NONE &&
    checkId !== CHECK_CRC32 &&
    checkId !== CHECK_CRC64 &&
    checkId !== CHECK_SHA256
  )
    throw new XzError(`check type ${hex(checkId)} is not supported`, true);

  const parts: Uint8Array[] = [];
  const records: { unpadded: number; uncompressed: number }[] = [];
  let total = 0;
  for (;;) {
    const blockStart = c.pos;
    const sizeByte = c.byte('block header or index');
    if (sizeByte === 0) break; // the index indicator
    const header = readBlockHeader(c, sizeByte);
    const dataStart = c.pos;
    const declared = walkLzma2(c);
    const compressed = c.pos - dataStart;
    if (header.compressedSize !== undefined && header.compressedSize !== compressed)
      throw new XzError(
        `block at offset ${blockStart}: header says ${header.compressedSize} compressed bytes, the LZMA2 data is ${compressed}`,
      );
    if (header.uncompressedSize !== undefined && header.uncompressedSize !== declared)
      throw new XzError(
        `block at offset ${blockStart}: header says ${header.uncompressedSize} uncompressed bytes, the LZMA2 chunks say ${declared}`,
      );
    if (total + declared > maxOutput)
      throw new XzError(`decompresses to more than ${maxOutput} bytes (block at offset ${blockStart})`);
    let output: Uint8Array;
    try {
      output = lzma2Decode(input.subarray(dataStart, c.pos));
    } catch (error) {
      throw new XzError(`LZMA2 data of the block at offset ${blockStart}: ${(error as Error).message}`);
    }
    if (output.length !== declared)
      throw new XzError(
        `LZMA2 data of the block at offset ${blockStart} decoded to ${output.length} bytes, its chunks say ${declared}`,
      );
    if (header.x86StartOffset !== undefined) bcjX86Decode(output, header.x86StartOffset);
    c.zeros((4 - ((c.pos - blockStart) % 4)) % 4, 'block padding');
    verifyCheck(checkId, output, c, blockStart);
    parts.push(output);
    total += output.length;
    // Unpadded Size (4.3.1): block header + compressed data + check, without the block padding.
    records.push({
      unpadded: (sizeByte + 1) * 4 + compressed + checkSize(checkId),
      uncompressed: output.length,
    });
  }

  // The index (4): its records must describe exactly the blocks just decoded.
  const indexStart = c.pos - 1;
  const count = c.varint('index record count');
  if (count !== records.length)
    throw new XzError(
      `index at offset ${indexStart} lists ${count} blocks, the stream has ${records.length}`,
    );
  for (const [i, record] of records.entries()) {
    const unpadded = c.varint('index unpadded size');
    const uncompressed = c.varint('index uncompressed size');
    if (unpadded !== record.unpadded || uncompressed !== record.uncompressed)
      throw new XzError(
        `index at offset ${indexStart}: record ${i} (${unpadded}, ${uncompressed}) does not match block ${i} (${record.unpadded}, ${record.uncompressed})`,
      );
  }
  c.zeros((4 - ((c.pos - indexStart) % 4)) % 4, 'index padding');
  c.crc32(indexStart, 'index');
  const indexSize = c.pos - indexStart;

  // The footer (2.1.2): CRC32 of backward size and flags, the index size, the header's flags, "YZ".
  const footer = c.pos;
  c.need(STREAM_FOOTER_SIZE, 'stream footer');
  const storedCrc = u32le(input, footer);
  const computedCrc = crc32(input.subarray(footer + 4, footer + 10));
  if (storedCrc !== computedCrc) throw new XzError(`stream footer at offset ${footer}: CRC32 does not match`);
  if ((u32le(input, footer + 4) + 1) * 4 !== indexSize)
    throw new XzError(
      `stream footer at offset ${footer}: backward size does not match the ${indexSize}-byte index`,
    );
  if (input[footer + 8] !== 0 || input[footer + 9] !== checkId)
    throw new XzError(`stream footer at offset ${footer}: flags differ from the stream header's`);
  if (input[footer + 10] !== FOOTER_MAGIC[0] || input[footer + 11] !== FOOTER_MAGIC[1])
    throw new XzError(`stream footer at offset ${footer}: no "YZ" magic`);

  const output = parts.length === 1 ? parts[0]! : concat(parts, total);
  return {
    output: new Uint8Array(output.buffer, output.byteOffset, output.length),
    end: footer + STREAM_FOOTER_SIZE,
  };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
