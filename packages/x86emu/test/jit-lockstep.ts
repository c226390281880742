/**
 * Test helper for the block compiler: the same machine built twice, one CPU with an eager `Jit`
 * and one interpreting, run side by side with the same budgets; after every `run()` the stop
 * reason and the whole architectural state must be equal.
 */
import { expect } from 'vitest';
import { type Cpu, StopReason } from '../src/index.js';
import { Jit, type JitOptions } from '../src/jit/jit.js';
import type { Machine } from './machine.js';

/** What a guest can observe of a CPU, plus the instruction count. */
export function snapshot(cpu: Cpu): Record<string, unknown> {
  const s = cpu.state;
  return {
    gpr: [...s.gpr],
    gprHigh: [...s.gprHigh],
    rip: [...s.rip],
    rflags: s.rflags[0].toString(16),
    seg: [...s.segSel],
    cr: [...s.cr],
    dr6: s.dr[6],
    tsc: [...s.tsc],
    // SIMD and x87 state (the SSE forms emit-sse.ts inlines, MMX forms by their handlers).
    xmm: Buffer.from(s.xmm).toString('hex'),
    mxcsr: s.mxcsr[0].toString(16),
    fpuStatus: s.fpuStatus[0],
    fpuTag: s.fpuTag[0],
    interruptibility: s.interruptibility,
    halted: s.halted,
    pending: s.pendingType,
    retired: cpu.instructionsRetired,
  };
}

export interface Lockstep {
  jit: Machine;
  interp: Machine;
  /** Runs ended by the budget. */
  stops: number;
}

/**
 * Builds `make()` twice (jit on with `options`, off), runs both with `budgets` in turn (cycled)
 * until any other stop (HLT, an exception the machine captures, …) or `maxRuns`, and asserts equal
 * state after each run; `between(n, jit, interp)` runs after run `n` of both ended by the budget
 * (drain a compile worker, rewrite code, ...). Returns the machines.
 */
export function lockstep(
  make: () => Machine,
  budgets: number[],
  options: JitOptions = { hot: 2 },
  maxRuns = 100_000,
  between: (n: number, jit: Machine, interp: Machine) => void = () => {},
): Lockstep {
  const a = make();
  const b = make();
  a.cpu.jit = new Jit(options);
  b.cpu.jit = null;
  let stops = 0;
  for (let n = 0; n < maxRuns; n++) {
    const budget = budgets[n % budgets.length];
    const ra = a.cpu.run(budget);
    const rb = b.cpu.run(budget);
    expect(ra, `run ${n} (budget ${budget}) stop reason`).toBe(rb);
    expect(snapshot(a.cpu), `run ${n} (budget ${budget}) state`).toEqual(snapshot(b.cpu));
    expect(a.out).toEqual(b.out);
    expect(a.exceptions).toEqual(b.exceptions);
    if (ra !== StopReason.Budget) break;
    stops++;
    between(n, a, b);
  }
  return { jit: a, interp: b, stops };
}

/**
 * A loop whose store, at ECX = 500, hits the immediate of the `mov eax, 1` right after it, in the
 * same block (the store's target is `patch + 1` then, a scratch word at 0x100000 otherwise): a
 * compiled block must see its own code change at the next instruction. EBX ends at
 * 1500 + 500 * 7.
 */
export const PATCH_OWN_BLOCK = `
      mov ecx, 2000
      lea ebp, [patch + 1]
    top:
      mov edi, 0x100000
      cmp ecx, 500
      jne store
      mov edi, ebp
    store:
      mov dword ptr [edi], 7
    patch:
      mov eax, 1
      add ebx, eax
      dec ecx
      jnz top
      hlt`;
