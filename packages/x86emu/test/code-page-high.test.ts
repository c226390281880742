/**
 * The decode cache's code page in 64-bit mode (fetch.ts): a fetch tests RIP's page with RIP[63:32]
 * and RIP[31:12], and a TLB entry remembers the decodes of its frame (Cpu.tlbCode). Two linear
 * pages with the same RIP[31:12] in different halves must not share decodes, and code a guest
 * rewrites is decoded again even when it is reached through an entry that remembered it.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { asm } from './asm.js';
import { L, longMode, r64 } from './long.js';
import { runTo } from './machine.js';

/** Maps linear 0xFFFFFFFF00000000 (PML4[511], PDPT[508]) to physical 0x400000 by a 2 MiB page. */
function mapHigh(mem: { write32(a: number, v: number): void }): void {
  mem.write32(L.PML4 + 511 * 8, (L.PML4 + 0x3000) | 7);
  mem.write32(L.PML4 + 511 * 8 + 4, 0);
  mem.write32(L.PML4 + 0x3000 + 508 * 8, (L.PML4 + 0x4000) | 7);
  mem.write32(L.PML4 + 0x4000, 0x400000 | 0x87);
}

describe('64-bit code pages', () => {
  it('pages that differ only in RIP[63:32] run their own code, reached straight from each other', () => {
    const m = longMode(`
      mov rsi, 0x20000
      mov rdi, 0xffffffff00020000
      call rsi
      call rdi
      mov rdx, rdi
      mov rax, 0x20010
      call rax
      hlt
    `);
    mapHigh(m.mem);
    // 0x20000: add ebx, 1; ret.  0x20010: add ebx, 1; jmp rdx (into the high page at offset 0).
    m.mem.bytes.set(asm('add ebx, 1\nret', { bits: 64 }), 0x20000);
    m.mem.bytes.set(asm('add ebx, 1\njmp rdx', { bits: 64 }), 0x20010);
    // 0xFFFFFFFF00020000 (physical 0x420000): add ecx, 100; ret.
    m.mem.bytes.set(asm('add ecx, 100\nret', { bits: 64 }), 0x420000);
    m.cpu.stateChanged();
    runTo(m);
    expect(r64(m, Reg.RBX)).toBe(2n);
    expect(r64(m, Reg.RCX)).toBe(200n);
  });

  it('a function the guest rewrites through another linear alias runs its new code on the next call', () => {
    const m = longMode(`
      mov rsi, 0xffffffff00020000
      call rsi
      mov byte ptr [0x420002], 5
      call rsi
      hlt
    `);
    mapHigh(m.mem);
    // 0xFFFFFFFF00020000 = physical 0x420000 (also linear 0x420000): add ebx, 1; ret, then
    // add ebx, 5 once rewritten through the identity map.
    m.mem.bytes.set([0x83, 0xc3, 0x01, 0xc3], 0x420000);
    m.cpu.stateChanged();
    runTo(m);
    expect(r64(m, Reg.RBX)).toBe(6n);
  });
});
