/**
 * A boundary reached from a compiled block's exit (jit.ts `lookup`) counts `EXIT_VISIT` toward
 * compiling a block there, and the run loop's `blockAt` one more: code next to compiled code
 * compiles after `hot / (EXIT_VISIT + 1)` visits, the interpreter's own boundaries after `hot`.
 * Only when blocks compile changes, never what runs: the same code in lockstep with the
 * interpreter at every budget.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { EXIT_VISIT, Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

/** `outer` times: an inner loop (compiled in the first pass), then `after`, reached from its exit. */
const program = (outer: number) => `
    mov edx, ${outer}
  outer:
    mov ecx, 50
  inner:
    inc eax
    dec ecx
    jnz inner
  after:
    add ebx, 1
    dec edx
    jnz outer
    hlt`;
/** `after`'s address: mov edx (5 bytes), mov ecx (5), inc (1), dec (1), jnz rel8 (2). */
const AFTER = CODE + 14;

describe('visits from a compiled block exit', () => {
  it('count EXIT_VISIT + 1 each: the block after an inner loop compiles at a quarter of the threshold', () => {
    const HOT = 40;
    const afterCompiled = (outer: number): boolean => {
      const m = protectedMode(program(outer));
      const jit = new Jit({ hot: HOT });
      // The wasm backend's count, on the JS backend's blocks (what is counted is the same).
      Object.assign(jit, { exitVisit: EXIT_VISIT });
      m.cpu.jit = jit;
      runTo(m);
      expect(m.cpu.state.gpr[Reg.RAX]).toBe(outer * 50);
      expect(m.cpu.state.gpr[Reg.RBX]).toBe(outer);
      const owners = (jit as unknown as { owners: { jitBlock: { eip: number } | null }[] }).owners;
      return owners.some((i) => i.jitBlock?.eip === AFTER);
    };
    // The first visit finds `after` not yet decoded (the run loop's step decodes it): 1. Each
    // later one EXIT_VISIT + 1, so after k visits 1 + 4 (k - 1); the 11th's lookup reaches 40 and
    // compiles. Counted 2 a visit (1 + 1) it would take 21 visits, counted 1 a visit 40.
    expect(EXIT_VISIT).toBe(3);
    expect(new Jit({ backend: 'wasm' }).exitVisit).toBe(EXIT_VISIT);
    expect(new Jit({ backend: 'js' }).exitVisit).toBe(1);
    expect(afterCompiled(10)).toBe(false);
    expect(afterCompiled(11)).toBe(true);
  });

  it('run in lockstep with the interpreter at every budget', () => {
    for (let budget = 1; budget <= 40; budget++) {
      const { stops } = lockstep(() => protectedMode(program(30)), [budget], { hot: 12, backend: 'wasm' });
      expect(stops).toBeGreaterThan(0);
    }
  });
});
