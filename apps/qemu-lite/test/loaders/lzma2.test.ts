import { spawnSync } from 'node:child_process';
import { lzma2 } from '@napi-rs/lzma';
import { describe, expect, it } from 'vitest';
import { decodeLzma2, Lzma2Error, lzma2UnpackedSize } from '../../src/loaders/lzma2.js';

const haveXz = spawnSync('xz', ['--version']).status === 0;

/** Raw LZMA2 (no container) made by xz itself, with the given filter options. */
function xzRaw(input: Uint8Array, options: string): Uint8Array {
  const r = spawnSync('xz', ['-c', '--format=raw', `--lzma2=${options}`], { input, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return new Uint8Array(r.stdout);
}

function text(bytes: number): Uint8Array {
  const words = ['kvm', 'vcpu', 'shadow', 'page', 'exit', 'reason', 'mmu', 'guest', '\n', 'the', 'of'];
  let x = 12345;
  let s = '';
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += `${words[x % words.length]} `;
  }
  return new TextEncoder().encode(s.slice(0, bytes));
}

function noise(bytes: number): Uint8Array {
  const b = new Uint8Array(bytes);
  let x = 99;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe.skipIf(!haveXz)('decodeLzma2 (the TypeScript decoder) on raw LZMA2 made by xz', () => {
  it.each([
    ['text, preset 6', text(300_000), 'preset=6'],
    ['text, lc=0 lp=2 pb=0', text(100_000), 'preset=6,lc=0,lp=2,pb=0'],
    ['text, lc=4 pb=4', text(100_000), 'preset=1,lc=4,pb=4'],
    ['noise (uncompressed chunks)', noise(200_000), 'preset=6'],
    ['noise then text (both chunk kinds)', new Uint8Array([...noise(70_000), ...text(150_000)]), 'preset=9e'],
    ['runs of one byte (overlapping matches)', new Uint8Array(250_000).fill(7), 'preset=6'],
    ['empty', new Uint8Array(0), 'preset=6'],
  ])('%s: byte for byte what the input was, and what @napi-rs/lzma decodes', (_name, input, options) => {
    const raw = xzRaw(input, options);
    expect(lzma2UnpackedSize(raw)).toBe(input.length);
    const out = decodeLzma2(raw);
    expect(Buffer.from(out).equals(Buffer.from(input))).toBe(true);
    if (input.length > 0) expect(Buffer.from(lzma2.decompressSync(raw)).equals(Buffer.from(out))).toBe(true);
  });

  it('refuses corrupt data with an Lzma2Error, never anything else', () => {
    const raw = xzRaw(text(50_000), 'preset=6');
    expect(() => decodeLzma2(raw.subarray(0, raw.length - 50))).toThrow(Lzma2Error);
    expect(() => decodeLzma2(new Uint8Array([0x42]))).toThrow(/invalid control byte 0x42/);
    expect(() => decodeLzma2(raw, 1000)).toThrow(/more than 1000/);
    // Flipped bytes inside the LZMA data: an Lzma2Error or (rarely) other output, but no other throw.
    for (let i = 0; i < 40; i++) {
      const bad = raw.slice();
      bad[20 + i * 37] ^= 0x5a;
      try {
        decodeLzma2(bad);
      } catch (error) {
        expect(error).toBeInstanceOf(Lzma2Error);
      }
    }
  });
});
