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
});
