/**
 * REP MOVS / REP STOS on host views a page at a time (string.ts fastChunk, string64-fast.ts): the
 * same memory, registers and faults as the element-by-element loop (SDM Vol. 2 REP, MOVS, STOS).
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { longMode, r64 } from './long.js';
import { runTo } from './machine.js';
import { protectedMode } from './pm.js';

/** The element loop of MOVS with `size`-byte elements, DF = 0, on a byte array. */
function elementMovs(b: Uint8Array, src: number, dst: number, size: number, n: number): void {
  for (let e = 0; e < n; e++) {
    const v = b.slice(src + e * size, src + (e + 1) * size);
    b.set(v, dst + e * size);
  }
}

describe('REP STOS / REP MOVS in bulk, 64-bit mode', () => {
  it('REP STOSQ across three pages from an unaligned start stores RAX and ends RDI/RCX as the element loop', () => {
    const m = longMode(`
      mov rax, 0x8877665544332211
      mov rdi, 0x200ffc
      mov rcx, 1030
      cld
      rep stosq
      hlt
    `);
    runTo(m);
    const b = m.mem.bytes;
    const want = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    for (let k = 0; k < 1030 * 8; k++) if (b[0x200ffc + k] !== want[k % 8]) throw new Error(`byte ${k}`);
    expect(b[0x200ffc + 1030 * 8]).toBe(0);
    expect(r64(m, Reg.RDI)).toBe(BigInt(0x200ffc + 1030 * 8));
    expect(r64(m, Reg.RCX)).toBe(0n);
  });

  it('REP MOVSQ with the destination 4 bytes past the source reads what the previous element wrote', () => {
    const m = longMode(`
      mov rsi, 0x300000
      mov rdi, 0x300004
      mov rcx, 64
      cld
      rep movsq
      hlt
    `);
    for (let k = 0; k < 600; k++) m.mem.bytes[0x300000 + k] = (k * 7 + 1) & 0xff;
    const want = m.mem.bytes.slice(0x300000, 0x300000 + 600);
    elementMovs(want, 0, 4, 8, 64);
    runTo(m);
    expect(Array.from(m.mem.bytes.subarray(0x300000, 0x300000 + 600))).toEqual(Array.from(want));
    expect(r64(m, Reg.RSI)).toBe(BigInt(0x300000 + 512));
    expect(r64(m, Reg.RDI)).toBe(BigInt(0x300004 + 512));
  });

  it('REP STOSQ running into an unmapped page faults there with CR2 at its first byte, RCX/RDI at that element', () => {
    const m = longMode(
      `
      mov rax, -1
      mov rdi, 0xffffe0
      mov rcx, 8
      cld
      rep stosq
      hlt
    `,
      { captureExceptions: true },
    );
    m.cpu.run(1000);
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 2, faultAddress: 0x1000000 }]);
    expect(r64(m, Reg.RCX)).toBe(4n);
    expect(r64(m, Reg.RDI)).toBe(0x1000000n);
    expect(m.mem.read32(0xfffffc)).toBe(0xffffffff);
  });
});

describe('REP MOVS in bulk, 32-bit mode', () => {
  it('REP MOVSD with the destination 2 bytes past the source gives the element loop result', () => {
    const m = protectedMode(`
      mov esi, 0x300000
      mov edi, 0x300002
      mov ecx, 100
      cld
      rep movsd
      hlt
    `);
    for (let k = 0; k < 500; k++) m.mem.bytes[0x300000 + k] = (k * 13 + 5) & 0xff;
    const want = m.mem.bytes.slice(0x300000, 0x300000 + 500);
    elementMovs(want, 0, 2, 4, 100);
    runTo(m);
    expect(Array.from(m.mem.bytes.subarray(0x300000, 0x300000 + 500))).toEqual(Array.from(want));
    expect(m.cpu.state.gpr[Reg.RDI]).toBe(0x300002 + 400);
  });
});
