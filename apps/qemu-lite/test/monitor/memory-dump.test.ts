/** `x`/`xp` formats: QEMU's /NFU parsing and its line layout. */
import { describe, expect, it } from 'vitest';
import { dumpMemory, parseFormat } from '../../src/monitor/memory-dump.js';

const mem = Uint8Array.from({ length: 64 }, (_, i) => i);
const read = (a: bigint, n: number) => (a + BigInt(n) <= 64n ? mem.slice(Number(a), Number(a) + n) : null);
const word = { count: 1, format: 'x', size: 4 };

describe('monitor memory dumps', () => {
  it('parses count, format and unit in either order, keeping the last format and size', () => {
    expect(parseFormat('/4xb', word)).toEqual({ count: 4, format: 'x', size: 1 });
    expect(parseFormat('/2g', word)).toEqual({ count: 2, format: 'x', size: 8 });
    expect(parseFormat('/hd', word)).toEqual({ count: 1, format: 'd', size: 2 });
    expect(parseFormat('/c', word)).toEqual({ count: 1, format: 'c', size: 1 });
    expect(() => parseFormat('/4q', word)).toThrow(/invalid format/);
  });

  it('prints 16 bytes of units per line led by the address, in hex, signed, unsigned, octal and char', () => {
    expect(dumpMemory(0n, { count: 5, format: 'x', size: 4 }, read)).toBe(
      '0000000000000000: 0x03020100 0x07060504 0x0b0a0908 0x0f0e0d0c\n0000000000000010: 0x13121110\n',
    );
    expect(dumpMemory(0x3en, { count: 1, format: 'd', size: 2 }, read)).toBe('000000000000003e: 16190\n');
    expect(dumpMemory(0n, { count: 1, format: 'o', size: 1 }, (_a, _n) => Uint8Array.of(8))).toBe(
      '0000000000000000: 010\n',
    );
    expect(dumpMemory(0n, { count: 1, format: 'd', size: 1 }, (_a, _n) => Uint8Array.of(0xff))).toBe(
      '0000000000000000: -1\n',
    );
    expect(dumpMemory(0x20n, { count: 2, format: 'c', size: 1 }, read)).toBe("0000000000000020: ' ' '!'\n");
    expect(dumpMemory(0x40n, word, read)).toBe('Cannot access memory at 0x40\n');
  });
});
