/**
 * Compiling by rate (`JitTuning.early`, jit.ts `soon`): a block start whose `early` visits all come
 * within `earlyWindow` instructions of its first compiles then, without waiting for `hot`; one
 * whose visits are spread wider still waits. Only when blocks compile changes, never what runs:
 * the same code in lockstep with the interpreter at every budget.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

/** A loop of three instructions run `n` times, `top` visited once an iteration. */
const loop = (n: number) => `
    mov edx, ${n}
  top:
    add ebx, 1
    dec edx
    jnz top
    hlt`;

/** Iterations of `loop(500)` that ran compiled, with `early` visits within `window` instructions. */
function compiledIterations(early: number, window: number): number {
  const m = protectedMode(loop(500));
  const jit = new Jit({ hot: 1000, early, earlyWindow: window });
  m.cpu.jit = jit;
  runTo(m, undefined, 10_000_000);
  expect(m.cpu.state.gpr[Reg.RBX]).toBe(500);
  return jit.stats.instructions / 3;
}

describe('compiling by rate', () => {
  it('compiles a block start whose early visits come close together, long before hot', () => {
    // `top` compiles at its 20th visit (20 iterations, 60 instructions), not its 1,000th.
    const n = compiledIterations(20, 1_000_000);
    expect(n).toBeGreaterThan(450);
    expect(n).toBeLessThan(481);
    expect(compiledIterations(0, 1_000_000)).toBe(0);
  });

  it('leaves one whose visits spread wider than the window to the threshold', () => {
    // 20 visits take ~60 instructions.
    expect(compiledIterations(20, 40)).toBe(0);
    expect(compiledIterations(20, 80)).toBeGreaterThan(450);
  });

  it('is off at or past the threshold, and for a bare Cpu by default', () => {
    expect(new Jit({ hot: 10, early: 10 }).early).toBe(0);
    expect(new Jit({ hot: 10, early: 20 }).early).toBe(0);
    expect(new Jit({ hot: 10, early: 5 }).early).toBe(5);
    // A bare Cpu's default, with X86EMU_JIT_EARLY unset for the check.
    const was = process.env.X86EMU_JIT_EARLY;
    delete process.env.X86EMU_JIT_EARLY;
    try {
      expect(new Jit({ hot: 1000 }).early).toBe(0);
    } finally {
      if (was !== undefined) process.env.X86EMU_JIT_EARLY = was;
    }
  });

  it('runs in lockstep with the interpreter at every budget, both backends', () => {
    for (const backend of ['js', 'wasm'] as const)
      for (const budget of [1, 7, 61, 333, 1000]) {
        const { stops } = lockstep(() => protectedMode(loop(5000)), [budget], {
          hot: 1000,
          early: 8,
          earlyWindow: 100_000,
          backend,
        });
        expect(stops).toBeGreaterThan(0);
      }
  });
});

describe('compiling by rate with the wasm batch', () => {
  /** A loop `x` of `xs` iterations, then a loop `y` of `ys`: `y` compiles early. */
  const twoLoops = (xs: number, ys: number) => `
    mov edx, ${xs}
  x:
    add eax, 1
    dec edx
    jnz x
    mov edx, ${ys}
  y:
    add ebx, 1
    dec edx
    jnz y
    hlt`;
  /** `x`'s address: after the 5-byte MOV. */
  const X = CODE + 5;

  it('takes a block start half way to early, within the window, along with the next compile', () => {
    const compiled = (env: string | undefined): boolean => {
      const was = process.env.X86EMU_JIT_EARLY_NOTE;
      if (env === undefined) delete process.env.X86EMU_JIT_EARLY_NOTE;
      else process.env.X86EMU_JIT_EARLY_NOTE = env;
      try {
        const m = protectedMode(twoLoops(12, 40));
        const jit = new Jit({ hot: 1000, early: 20, backend: 'wasm' });
        expect(jit.earlyNote).toBe(env === '0' ? 0 : 10);
        m.cpu.jit = jit;
        runTo(m, undefined, 1_000_000);
        expect(m.cpu.state.gpr[Reg.RAX]).toBe(12);
        expect(m.cpu.state.gpr[Reg.RBX]).toBe(40);
        const owners = (jit as unknown as { owners: { jitBlock: { eip: number } | null }[] }).owners;
        return owners.some((i) => i.jitBlock?.eip === X);
      } finally {
        if (was === undefined) delete process.env.X86EMU_JIT_EARLY_NOTE;
        else process.env.X86EMU_JIT_EARLY_NOTE = was;
      }
    };
    // `x` reaches 10 visits (of 20) in its 12 iterations: a rider of `y`'s early compile.
    expect(compiled(undefined)).toBe(true);
    expect(compiled('0')).toBe(false);
  });
});
