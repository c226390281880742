/**
 * `revalidateCode` compares a code page's bytes with what its decodes were made from (fetch.ts
 * `unchanged`, a word at a time): a change in any byte of the page, its last word included, drops
 * the page's decodes; an unchanged page keeps them.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

describe('revalidateCode', () => {
  it('drops a page whose bytes changed anywhere, its first and last bytes included', () => {
    const m = protectedMode('inc eax; inc eax; hlt');
    runTo(m);
    const rerun = () => {
      m.cpu.state.rip[0] = CODE;
      m.cpu.state.halted = false;
      m.cpu.revalidateCode();
      const before = m.cpu.stats.decodes;
      runTo(m);
      return m.cpu.stats.decodes - before;
    };
    expect(rerun()).toBe(0);
    for (const off of [4095, 4092, 2048, 3]) {
      m.mem.bytes[CODE + off] ^= 0x5a;
      expect(rerun(), `byte ${off}`).toBe(3);
      expect(rerun(), `byte ${off}, unchanged since`).toBe(0);
    }
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(2 * 10);
  });
});
