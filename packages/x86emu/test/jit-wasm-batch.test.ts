/**
 * Batching in the wasm backend (src/jit/wasm/batch.ts): block starts that are warm (a quarter of
 * the threshold) are compiled into the module of the next one that gets hot, exactly (lockstep
 * with the interpreter), and a candidate whose code was rewritten since is not compiled.
 */
import { describe, expect, it } from 'vitest';
import { Jit } from '../src/jit/jit.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';
import type { Machine } from './machine.js';
import { protectedMode } from './pm.js';

/** `m` with its 64-bit regions compiled to wasm (`WasmBackend.long`). */
function long(m: Machine): Machine {
  wasmBackend(m.cpu).long = true;
  return m;
}

const calls = (n: number) => Array.from({ length: n }, (_, k) => `call f${k}`).join('\n');
const funcs = (n: number, w: string) =>
  Array.from({ length: n }, (_, k) => `f${k}:\n add ${w}ax, ${k + 1}\n xor ${w}dx, ${w}ax\n ret`).join('\n');

describe('wasm backend: batching', () => {
  for (const [mode, make] of [
    [
      '64-bit',
      () => long(longMode(`mov ecx, 40\ntop:\n${calls(12)}\ndec ecx\njnz top\nhlt\n${funcs(12, 'r')}`)),
    ],
    [
      '32-bit',
      () => protectedMode(`mov ecx, 40\ntop:\n${calls(12)}\ndec ecx\njnz top\nhlt\n${funcs(12, 'e')}`),
    ],
  ] as const) {
    it(`warm block starts ride in the module of the first hot one (${mode}), exactly`, () => {
      const r = lockstep(make, [1, 7, 29, 100_000], { hot: 8, backend: 'wasm' });
      expect(r.jit.cpu.state.halted).toBe(true);
      const jit = r.jit.cpu.jit as Jit;
      const st = wasmBackend(r.jit.cpu).stats;
      // 12 functions, 12 return points and the loop head: far fewer modules than regions.
      expect(jit.stats.compiled).toBeGreaterThanOrEqual(20);
      expect(st.compiled).toBe(jit.stats.compiled);
      expect(st.modules).toBeLessThanOrEqual(4);
      expect(jit.batch?.stats.riders).toBeGreaterThanOrEqual(16);
    });
  }

  it('a candidate whose code was rewritten after it was noted is not compiled from its old decode', () => {
    // f0's ADD immediate is rewritten (0x11 → 0x22) once f0 is warm, before anything is hot.
    const src = `
      mov ecx, 12
    top:
      call f0
      call f1
      cmp ecx, 10
      jne skip
      mov byte ptr [rip + f0 + 3], 0x22
    skip:
      dec ecx
      jnz top
      hlt
    f0:
      add rax, 0x11
      ret
    f1:
      add rbx, 1
      ret`;
    const r = lockstep(() => long(longMode(src)), [100_000], { hot: 8, backend: 'wasm' });
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[0]).toBe(0x11 * 3 + 0x22 * 9);
    expect((r.jit.cpu.jit as Jit).batch?.stats.stale).toBeGreaterThan(0);
  });

  it('the JS backend has no batch and its default threshold; wasm has its own', () => {
    expect(new Jit({ backend: 'js' }).batch).toBeNull();
    expect(new Jit({ backend: 'js', hot: 40 }).warm).toBe(0);
    expect(new Jit({ backend: 'wasm', hot: 40 }).warm).toBe(10);
  });
});
