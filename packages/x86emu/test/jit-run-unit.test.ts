/**
 * The compile threshold weighs the interpreter's runs (jit.ts `RUN_UNIT`): a visit of a block
 * start counts the larger of 1 and the instructions the interpreter ran from it over `runUnit`,
 * so a long straight block compiles after a few visits where a short one waits for `hot`. Only
 * when blocks compile changes, never what runs: the same code in lockstep with the interpreter.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { Jit, RUN_UNIT } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { runTo } from './machine.js';
import { CODE, protectedMode } from './pm.js';

/** `visits` passes through a loop body of `len` straight-line instructions. */
const program = (visits: number, len: number) => `
    mov edx, ${visits}
  top:
${'    add eax, 1\n'.repeat(len)}    dec edx
    jnz top
    hlt`;
/** `top`'s address: after mov edx (5 bytes). */
const TOP = CODE + 5;

/** Whether a block was compiled at `top` after `visits` passes of `len` instructions. */
function topCompiled(
  visits: number,
  len: number,
  options: { backend: 'js' | 'wasm'; runUnit?: number },
): boolean {
  const m = protectedMode(program(visits, len));
  const jit = new Jit({ hot: 40, ...options });
  m.cpu.jit = jit;
  runTo(m);
  expect(m.cpu.state.gpr[Reg.RAX]).toBe(visits * len);
  const owners = (jit as unknown as { owners: { jitBlock: { eip: number } | null }[] }).owners;
  return owners.some((i) => i.jitBlock?.eip === TOP);
}

describe('the threshold in instructions run', () => {
  for (const backend of ['js', 'wasm'] as const)
    it(`${backend}: a block of 96 instructions compiles after a few visits, one of 2 after the threshold's`, () => {
      expect(RUN_UNIT).toBe(8);
      // The wasm backend's default; the JS backend counts visits alone unless told.
      expect(new Jit({ backend }).runUnit).toBe(backend === 'wasm' ? RUN_UNIT : 0);
      // 98 instructions a visit count 12 of the 40: the credit stops one short of the threshold
      // (and, on wasm, of its quarter, where the batch notes the start), a visit of `top` itself
      // crosses it. Visits alone (runUnit 0) the long body stays interpreted as the short one.
      expect(topCompiled(8, 96, { backend, runUnit: RUN_UNIT })).toBe(true);
      expect(topCompiled(8, 96, { backend, runUnit: 0 })).toBe(false);
      expect(topCompiled(8, 1, { backend, runUnit: RUN_UNIT })).toBe(false);
      expect(topCompiled(45, 1, { backend, runUnit: RUN_UNIT })).toBe(true);
      expect(topCompiled(45, 1, { backend, runUnit: 0 })).toBe(true);
    });

  it('a visit counts at least 1: a block shorter than runUnit compiles at the threshold as before', () => {
    expect(topCompiled(38, 1, { backend: 'js', runUnit: RUN_UNIT })).toBe(false);
    expect(topCompiled(38, 1, { backend: 'js', runUnit: 0 })).toBe(false);
  });

  it('runs in lockstep with the interpreter at every budget', () => {
    for (let budget = 1; budget <= 40; budget++) {
      const { stops } = lockstep(() => protectedMode(program(12, 30)), [budget], {
        hot: 12,
        backend: 'wasm',
      });
      expect(stops).toBeGreaterThan(0);
    }
  });
});
