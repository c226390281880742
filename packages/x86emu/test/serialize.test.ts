/**
 * SERIALIZE (NP 0F 01 E8): CPUID leaf 7 says so, F2/F3 (other instructions) and the memory forms
 * of 0F 01 /5 are #UD, compiled blocks hold it (Linux's sync_core: one per text patch), and where
 * other threads write the RAM (`serializingCpuid`) it makes the next fetch see their code.
 */
import { describe, expect, it } from 'vitest';
import { CPUID7_EDX, defaultCpuid, StopReason, serializingCpuid } from '../src/index.js';
import { longMode } from './long.js';
import { runTo } from './machine.js';
import { protectedMode } from './pm.js';

describe('SERIALIZE', () => {
  it('is in CPUID leaf 7.0 EDX (bit 14)', () => {
    const out = new Uint32Array(4);
    defaultCpuid.cpuid(7, 0, out);
    expect(out[3]).toBe(CPUID7_EDX);
    expect((out[3] >>> 14) & 1).toBe(1);
  });

  it('runs on, changing nothing; #UD with F2 (XSUSLDTRK) or F3 (SETSSBSY) and for 0F 01 /5 with memory', () => {
    const m = longMode('mov rax, 5\nserialize\nadd rax, 1\nhlt');
    runTo(m);
    expect(m.cpu.state.gpr[0]).toBe(6);
    for (const bytes of [
      [0xf2, 0x0f, 0x01, 0xe8],
      [0xf3, 0x0f, 0x01, 0xe8],
      [0x0f, 0x01, 0x28], // /5, [rax]
    ]) {
      const u = longMode(`mov rax, 0x100000\n.byte ${bytes.join(', ')}\nhlt`, { captureExceptions: true });
      expect(u.cpu.run(100)).toBe(StopReason.Exception);
      expect(u.exceptions.map((e) => e.vector)).toEqual([6]);
    }
  });

  it('compiled blocks hold it: a hot loop with SERIALIZE runs in compiled code', () => {
    const m = protectedMode(`
      mov ecx, 20000
      xor eax, eax
    1:
      add eax, ecx
      serialize
      dec ecx
      jnz 1b
      hlt
    `);
    runTo(m);
    expect(m.cpu.state.gpr[0]).toBe((20000 * 20001) / 2);
    const jit = m.cpu.jit;
    expect(jit).not.toBeNull();
    // Nearly all of the loop's 80,000 instructions retire in compiled code; if SERIALIZE ended
    // every block, each iteration would go back to the interpreter.
    expect(jit?.stats.instructions).toBeGreaterThan(70_000);
  });

  it('with other threads writing the RAM (serializingCpuid), the code after it is fetched anew; without, the old decode runs', () => {
    // A routine at 0x3000 (mov eax, 1; ret), called until decoded and compiled; then another
    // thread's store (a write straight into RAM, past the CPU) makes it return 2.
    const results = [true, false].map((revalidate) => {
      const m = protectedMode(`
        mov ecx, 3000
      1:
        call 0x3000
        dec ecx
        jnz 1b
        hlt
        serialize
        call 0x3000
        hlt
      `);
      m.mem.bytes.set([0xb8, 1, 0, 0, 0, 0xc3], 0x3000);
      if (revalidate) serializingCpuid(m.cpu);
      runTo(m);
      m.mem.bytes[0x3001] = 2;
      m.cpu.state.halted = false;
      runTo(m);
      return m.cpu.state.gpr[0];
    });
    expect(results).toEqual([2, 1]);
  });
});
