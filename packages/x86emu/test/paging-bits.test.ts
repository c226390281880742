import { describe, expect, it } from 'vitest';
import { high32, pageBase, pageOffset, tableIndex } from '../src/paging/bits.js';

/** The formulas the walkers used before (floating-point division, pow and remainder). */
const slowIndex = (v: number, level: number) => Math.floor(v / 2 ** (3 + 9 * level)) % 512;

describe('paging bits', () => {
  // Addresses across the whole range the walkers see: 48-bit linear (folded canonical) and 52-bit
  // physical, with bits set on both sides of bit 32 and at each index field's edges.
  const samples = [
    0,
    0xfff,
    0x1000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_2345_6789,
    0x7fff_ffff_f000,
    0x8880_1234_5abc,
    0xffff_ffff_ffff,
    0xf_ffff_ffff_ffff,
    2 ** 39 - 1,
    2 ** 39,
    2 ** 30 + 2 ** 29 + 4095,
  ];
  // And 200 more from a fixed sequence (xorshift32, two draws an address).
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < 200; i++) samples.push((next() & 0xfffff) * 2 ** 32 + next());

  it('takes the 9-bit index of every 4-level/EPT level as the division, pow and remainder did', () => {
    for (const v of samples) {
      const lo = v >>> 0;
      const hi = high32(v, lo);
      for (let level = 1; level <= 4; level++)
        expect(tableIndex(lo, hi, level), `${v} L${level}`).toBe(slowIndex(v, level));
    }
  });

  it('splits and page-aligns addresses above 4 GiB exactly', () => {
    for (const v of samples) {
      const lo = v >>> 0;
      expect(lo + high32(v, lo) * 2 ** 32).toBe(v);
      expect(pageOffset(v)).toBe(v % 4096);
      expect(pageBase(v)).toBe(v - (v % 4096));
    }
  });
});
