/**
 * The software engine's compile policy (src/jit/engine-policy.ts): its threshold, and the
 * environment override the test runs use.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, ENGINE_HOT, engineJitTuning, FlatPhysicalMemory } from '../src/index.js';
import { HOT } from '../src/jit/jit.js';

describe('the engine compile policy', () => {
  it('compiles after ENGINE_HOT visits, far later than a bare Cpu (a kernel’s code runs too few times to pay)', () => {
    // '' is "X86EMU_JIT_HOT not set" (an explicit undefined would read the environment, where the
    // eager suite run sets it).
    expect(engineJitTuning('')).toEqual({ hot: ENGINE_HOT });
    expect(ENGINE_HOT).toBeGreaterThanOrEqual(10 * HOT);
    const cpu = new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: engineJitTuning('') });
    expect(cpu.jit?.hot).toBe(ENGINE_HOT);
  });

  it('takes X86EMU_JIT_HOT when it is a positive number, else keeps ENGINE_HOT', () => {
    expect(engineJitTuning('2')).toEqual({ hot: 2 });
    expect(engineJitTuning('0')).toEqual({ hot: ENGINE_HOT });
    expect(engineJitTuning('x')).toEqual({ hot: ENGINE_HOT });
  });
});
