/**
 * `Cpu.segInline`, the segments a 64-bit wasm function may access inline, that `chainSig` reads at
 * every entry into compiled code: kept by `updateSegFlags`, it must say what `segFlags` says
 * after every instruction, through segment loads and mode changes (32-bit protected mode,
 * compatibility mode, 64-bit mode, and a null data segment in between).
 */
import { describe, expect, it } from 'vitest';
import { SF_FLAT, SF_LONG, SF_R, SF_W } from '../src/cpu/consts.js';
import type { Cpu } from '../src/index.js';
import { ENTER_COMPAT, L, longMode } from './long.js';

/** `segInline` as its definition has it, from `segFlags`. */
function fromFlags(cpu: Cpu): number {
  let m = 0;
  for (let seg = 0; seg < 6; seg++) {
    const f = cpu.segFlags[seg];
    if ((f & (SF_R | SF_FLAT | SF_LONG)) === (SF_R | SF_FLAT | SF_LONG)) m |= 1 << seg;
    if ((f & (SF_W | SF_FLAT | SF_LONG)) === (SF_W | SF_FLAT | SF_LONG)) m |= 64 << seg;
  }
  return m;
}

describe('segInline', () => {
  it('follows segFlags through segment loads and into 64-bit mode', () => {
    const m = longMode(
      `
      xor eax, eax
      mov fs, ax
      ${ENTER_COMPAT}
      ljmp ${L.CODE64}, offset long64
    .code64
    long64:
      xor eax, eax
      mov gs, ax
      hlt
    `,
      { startIn32: true },
    );
    const seen = new Set<number>();
    for (let steps = 0; !m.cpu.state.halted && steps < 100; steps++) {
      expect(m.cpu.segInline).toBe(fromFlags(m.cpu));
      seen.add(m.cpu.segInline);
      m.cpu.run(1);
    }
    expect(m.cpu.long64).toBe(true);
    expect(m.cpu.segInline).toBe(fromFlags(m.cpu));
    // Outside 64-bit mode none; in it every one of ES–GS, a null GS too (no checks there).
    expect(seen.has(0)).toBe(true);
    expect(m.cpu.segInline).toBe(0xfff);
  });
});
