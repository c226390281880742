/**
 * The xz decoder against real streams made by the machine's own `xz` (XZ Utils), byte for byte,
 * in the variants Linux and xz produce: the kernel's `--x86 --lzma2` with a CRC32 check, each
 * check type, several blocks with their sizes in the headers; and every corruption refused.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { bcjX86Decode } from '../../src/loaders/bcj-x86.js';
import { crc64Xz } from '../../src/loaders/crc64.js';
import { decodeXz, XzError } from '../../src/loaders/xz.js';

const haveXz = spawnSync('xz', ['--version']).status === 0;
if (!haveXz) console.warn('xz.test: skipping the cases that need xz (XZ Utils) to make streams');

function xz(args: string[], input: Uint8Array): Uint8Array {
  const r = spawnSync('xz', ['-c', ...args], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`xz ${args.join(' ')}: ${r.stderr}`);
  return new Uint8Array(r.stdout);
}

/** x86-like bytes: code with many CALL/JMP rel32, so the BCJ filter has work on every path. */
function machineCode(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 16;
  };
  for (let i = 0; i < length; ) {
    const r = next() % 8;
    if (r < 3 && i + 5 <= length) {
      out[i] = r === 0 ? 0xe9 : 0xe8;
      const rel = (next() % 0x20000) - 0x10000;
      new DataView(out.buffer).setInt32(i + 1, rel, true);
      i += 5;
    } else {
      out[i++] = r === 3 ? 0xff : r === 4 ? 0x00 : next() & 0xff;
    }
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function xzError(input: Uint8Array, max = 1 << 28): XzError {
  try {
    decodeXz(input, max);
  } catch (error) {
    expect(error).toBeInstanceOf(XzError);
    return error as XzError;
  }
  throw new Error('expected an XzError, the stream decoded');
}

describe('CRC-64/XZ', () => {
  it('gives the catalogue check value for "123456789" (0x995DC9BBDF1939FA)', () => {
    const crc = crc64Xz(new TextEncoder().encode('123456789'));
    expect(Buffer.from(crc).toString('hex')).toBe('fa3919dfbbc95d99');
  });
});

describe.skipIf(!haveXz)('decodeXz on streams made by xz', () => {
  const code = machineCode(1024 * 1024 + 3);
  const variants: [string, string[]][] = [
    ["the kernel's options (x86 BCJ, LZMA2, CRC32)", ['--check=crc32', '--x86', '--lzma2=dict=32MiB']],
    ['a CRC64 check (xz default)', ['--check=crc64', '-1']],
    ['a SHA-256 check', ['--check=sha256', '-1']],
    ['no check', ['--check=none', '--x86', '--lzma2=preset=1']],
    [
      'several blocks, sizes in the block headers',
      ['-T2', '--block-size=300000', '--x86', '--lzma2=preset=1'],
    ],
    ['an x86 start offset', ['--x86=start=4096', '--lzma2=preset=0']],
  ];
  for (const [what, args] of variants) {
    it(`decodes ${what} byte for byte`, () => {
      const stream = xz(args, code);
      const { output, end } = decodeXz(stream, 1 << 28);
      expect(same(output, code)).toBe(true);
      expect(end).toBe(stream.length);
    });
  }

  it('decodes an empty stream and ignores what follows the stream (size_append)', () => {
    const stream = xz([], new Uint8Array(0));
    const withSize = new Uint8Array([...stream, 0, 0, 0, 0]);
    const { output, end } = decodeXz(withSize, 100);
    expect(output.length).toBe(0);
    expect(end).toBe(stream.length);
  });

  it('refuses a stream that would decompress past the limit before decoding it', () => {
    const stream = xz(['--check=crc32'], new Uint8Array(1 << 20));
    expect(xzError(stream, 1000).message).toBe('decompresses to more than 1000 bytes (block at offset 12)');
  });

  it('says a filter it lacks is unsupported, naming it', () => {
    const error = xzError(xz(['--delta=dist=4', '--lzma2'], code.subarray(0, 4096)));
    expect(error.unsupported).toBe(true);
    expect(error.message).toBe('filter 0x3 (block header at offset 12) is not supported');
  });

  it('refuses every one-byte corruption with an XzError, never a wrong result or another error', () => {
    const data = machineCode(20000, 7);
    const stream = xz(['--check=crc32', '--x86', '--lzma2=preset=6'], data);
    const offsets = new Set<number>();
    for (let at = 0; at < 64; at++) offsets.add(at); // header, block header, first chunk
    for (let at = stream.length - 64; at < stream.length; at++) offsets.add(at); // check, index, footer
    for (let at = 64; at < stream.length - 64; at += 97) offsets.add(at); // LZMA2 data
    for (const at of offsets) {
      const bad = stream.slice();
      bad[at] ^= 0x41;
      let result: Uint8Array | undefined;
      try {
        result = decodeXz(bad, 1 << 20).output;
      } catch (error) {
        expect(error, `byte ${at}`).toBeInstanceOf(XzError);
        continue;
      }
      // A flip the format cannot see (there is none in a CRC32-checked stream) must still decode right.
      expect(same(result, data), `byte ${at} decoded to different data`).toBe(true);
    }
  });

  it('says where a stream is cut short', () => {
    const stream = xz(['--check=crc32'], code.subarray(0, 100000));
    expect(xzError(stream.subarray(0, 40)).message).toMatch(
      /^truncated: LZMA2 .* at offset \d+ runs past the end/,
    );
    expect(xzError(stream.subarray(0, stream.length - 3)).message).toMatch(/^truncated: stream footer/);
  });

  it('names the check that does not match', () => {
    const stream = xz(
      ['--check=crc32', '--lzma2=preset=0'],
      new TextEncoder().encode('hello, kernel\n'.repeat(50)),
    );
    // The check is the 4 bytes before the index; the index is 12 bytes before the 12-byte footer here.
    const bad = stream.slice();
    const check = stream.length - 12 - 12 - 4;
    bad[check] ^= 1;
    expect(xzError(bad).message).toBe(
      'block at offset 12: its CRC32 check does not match the decompressed data',
    );
  });
});

describe('bcjX86Decode', () => {
  it('turns an absolute CALL target back into a relative one', () => {
    // E8 with absolute target 0x1000 at position 0x10: relative = 0x1000 - (0x10 + 5).
    const buf = new Uint8Array(0x20);
    buf[0x10] = 0xe8;
    new DataView(buf.buffer).setUint32(0x11, 0x1000, true);
    bcjX86Decode(buf);
    expect(new DataView(buf.buffer).getInt32(0x11, true)).toBe(0x1000 - 0x15);
  });

  it('leaves a displacement whose high byte is not 00/FF alone (not a near call)', () => {
    const buf = new Uint8Array(0x20);
    buf[0x8] = 0xe8;
    new DataView(buf.buffer).setUint32(0x9, 0x12345678, true);
    const before = buf.slice();
    bcjX86Decode(buf);
    expect(buf).toEqual(before);
  });
});
