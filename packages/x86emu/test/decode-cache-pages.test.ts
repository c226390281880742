/**
 * The decode cache across code-page changes: a call to another page and the return, or the first
 * fetch after a TLB flush, find the page's decoded instructions instead of decoding again.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

describe('decode cache across code pages', () => {
  it('a loop calling a function on another page decodes each instruction once', () => {
    // The function sits one page above the loop; every call and return changes the code page.
    const m = protectedMode(`
      mov ecx, 100
    top:
      call ${CODE + 0x1000}
      dec ecx
      jnz top
      hlt
      .org 0x1000
      inc eax
      ret
    `);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(100);
    // mov, call, dec, jnz, hlt, inc, ret: seven decodes, not two per call.
    expect(m.cpu.stats.decodes).toBe(7);
  });

  it('after a TLB flush the next fetch reuses the decoded instruction', () => {
    const m = protectedMode('inc eax; inc eax; hlt');
    runTo(m);
    const decodes = m.cpu.stats.decodes;
    m.cpu.state.rip[0] = CODE;
    m.cpu.state.halted = false;
    m.cpu.flushTlb();
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(4);
    expect(m.cpu.stats.decodes).toBe(decodes);
  });

  it('revalidateCode: bytes written from outside the CPU run as written; unchanged pages are not decoded again', () => {
    // inc eax ; inc eax ; hlt — then someone else (a VMM, DMA, a debugger) rewrites the first byte.
    const m = protectedMode('inc eax; inc eax; hlt');
    runTo(m);
    const restart = () => {
      m.cpu.state.rip[0] = CODE;
      m.cpu.state.halted = false;
    };
    restart();
    m.cpu.revalidateCode();
    const decodes = m.cpu.stats.decodes;
    runTo(m);
    expect(m.cpu.stats.decodes).toBe(decodes);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(4);
    m.mem.bytes[CODE] = 0x43; // inc ebx
    restart();
    m.cpu.revalidateCode();
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(1);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(5);
  });

  it('revalidateCode reaches compiled blocks: a hot loop rewritten from outside runs the new code', () => {
    // A loop hot enough to be compiled, then its body rewritten (add eax, 1 → add eax, 2).
    const m = protectedMode(`
      mov ecx, 1000
    top:
      add eax, 1
      dec ecx
      jnz top
      hlt
    `);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(1000);
    const at = m.mem.bytes.indexOf(0x83, CODE); // add eax, imm8: 83 C0 01
    expect([...m.mem.bytes.subarray(at, at + 3)]).toEqual([0x83, 0xc0, 0x01]);
    m.mem.bytes[at + 2] = 2;
    m.cpu.state.rip[0] = CODE;
    m.cpu.state.halted = false;
    m.cpu.state.gpr[Reg.RAX] = 0;
    m.cpu.revalidateCode();
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(2000);
  });

  it("an instruction in a page's last 15 bytes that ends in the page is decoded once", () => {
    // The loop's three instructions sit at page offsets 0xFF8-0xFFB, where an instruction could
    // run into the next page: they were decoded anew at every execution until they were cached
    // like the rest of the page's (Debian's kernel did 78 % of its decodes there).
    const m = protectedMode(`
      mov ecx, 100
      jmp tail
      .org 0xff8
    tail:
      inc eax
      dec ecx
      jnz tail
      hlt
    `);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(100);
    // mov, jmp, inc, dec, jnz, hlt.
    expect(m.cpu.stats.decodes).toBe(6);
  });

  it('an instruction running into the next page sees a write there', () => {
    // mov eax, imm32 at offset 0xFFE: the top three bytes of its immediate are the next page's, so
    // it must not be kept with this page's decodes (a write to the next page drops only that
    // page's). The second pass runs it after its top byte was rewritten.
    const m = protectedMode(`
      mov ecx, 2
      jmp tail
      .org 0xffe
    tail:
      mov eax, 0x11111111
      mov byte ptr [${CODE + 0x1002}], 0x22
      dec ecx
      jnz tail
      hlt
    `);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0x22111111);
  });
});
