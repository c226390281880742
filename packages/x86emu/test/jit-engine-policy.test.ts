/**
 * The software engine's compile policy (src/jit/engine-policy.ts): its threshold, and the
 * environment override the test runs use.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, ENGINE_HOT, ENGINE_RUN_UNIT, engineJitTuning, FlatPhysicalMemory } from '../src/index.js';
import { HOT } from '../src/jit/jit.js';

describe('the engine compile policy', () => {
  it('compiles after ENGINE_HOT visits, far later than a bare Cpu (a kernel’s code runs too few times to pay)', () => {
    // '' is "X86EMU_JIT_HOT not set" (an explicit undefined would read the environment, where the
    // eager suite run sets it).
    expect(engineJitTuning('', '')).toEqual({ hot: ENGINE_HOT, runUnit: ENGINE_RUN_UNIT });
    expect(ENGINE_HOT).toBeGreaterThanOrEqual(10 * HOT);
    const cpu = new Cpu({
      memory: new FlatPhysicalMemory(1 << 16),
      jit: { ...engineJitTuning('', ''), backend: 'wasm' },
    });
    expect(cpu.jit?.hot).toBe(ENGINE_HOT);
    // Visits alone, on the wasm backend too (whose bare default weighs the interpreter's runs).
    expect(cpu.jit?.runUnit).toBe(0);
  });

  it('takes X86EMU_JIT_HOT when it is a positive number, else keeps ENGINE_HOT', () => {
    expect(engineJitTuning('2', '')).toEqual({ hot: 2, runUnit: ENGINE_RUN_UNIT });
    expect(engineJitTuning('0', '')).toEqual({ hot: ENGINE_HOT, runUnit: ENGINE_RUN_UNIT });
    expect(engineJitTuning('x', '')).toEqual({ hot: ENGINE_HOT, runUnit: ENGINE_RUN_UNIT });
  });

  it('takes X86EMU_JIT_RUN_UNIT when it is a number of 0 or more', () => {
    expect(engineJitTuning('', '8').runUnit).toBe(8);
    expect(engineJitTuning('', '0').runUnit).toBe(0);
    expect(engineJitTuning('', '-1').runUnit).toBe(ENGINE_RUN_UNIT);
    expect(engineJitTuning('', 'x').runUnit).toBe(ENGINE_RUN_UNIT);
  });
});
