/**
 * The software engine's compile policy (src/jit/engine-policy.ts): its thresholds by code
 * generator, and the environment overrides the test runs use.
 */
import { describe, expect, it } from 'vitest';
import {
  Cpu,
  ENGINE_EARLY,
  ENGINE_HOT,
  ENGINE_HOT_JS,
  ENGINE_RUN_UNIT,
  engineJitTuning,
  FlatPhysicalMemory,
} from '../src/index.js';
import { HOT, MAX_BLOCKS } from '../src/jit/jit.js';

describe('the engine compile policy', () => {
  // '' is "X86EMU_JIT_HOT not set" (an explicit undefined would read the environment, where the
  // eager suite run sets it).
  it('compiles after ENGINE_HOT visits with the wasm backend, later than a bare Cpu (a kernel’s code runs too few times to pay)', () => {
    expect(engineJitTuning('wasm', '', '', '', '')).toEqual({
      backend: 'wasm',
      hot: ENGINE_HOT,
      runUnit: ENGINE_RUN_UNIT,
      early: ENGINE_EARLY,
    });
    expect(ENGINE_HOT).toBeGreaterThanOrEqual(4 * HOT);
    const cpu = new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: engineJitTuning('wasm', '', '') });
    expect(cpu.jit?.backend).toBe('wasm');
    expect(cpu.jit?.hot).toBe(ENGINE_HOT);
    // Visits alone, on the wasm backend too (whose bare default weighs the interpreter's runs).
    expect(cpu.jit?.runUnit).toBe(0);
  });

  it('compiles later still with the JS backend, whose compiles cost more (the tracefs initcall)', () => {
    expect(ENGINE_HOT_JS).toBeGreaterThan(ENGINE_HOT);
    expect(engineJitTuning('js', '', '', '', '')).toEqual({
      backend: 'js',
      hot: ENGINE_HOT_JS,
      runUnit: ENGINE_RUN_UNIT,
      early: 0,
    });
    const cpu = new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: engineJitTuning('js', '', '') });
    expect(cpu.jit?.backend).toBe('js');
    expect(cpu.jit?.hot).toBe(ENGINE_HOT_JS);
  });

  it('takes the backend the Jit itself would when none is given (X86EMU_JIT_BACKEND, else js)', () => {
    const want = process.env.X86EMU_JIT_BACKEND === 'wasm' ? 'wasm' : 'js';
    const t = engineJitTuning(undefined, '', '');
    expect(t.backend).toBe(want);
    expect(t.hot).toBe(want === 'wasm' ? ENGINE_HOT : ENGINE_HOT_JS);
    expect(new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: t }).jit?.backend).toBe(want);
  });

  it('takes X86EMU_JIT_HOT when it is a positive number, else keeps the backend’s threshold', () => {
    expect(engineJitTuning('wasm', '2', '').hot).toBe(2);
    expect(engineJitTuning('js', '2', '').hot).toBe(2);
    expect(engineJitTuning('wasm', '0', '').hot).toBe(ENGINE_HOT);
    expect(engineJitTuning('js', 'x', '').hot).toBe(ENGINE_HOT_JS);
  });

  it('compiles hot loops early with the wasm backend, X86EMU_JIT_EARLY overriding; never at or past the threshold', () => {
    expect(ENGINE_EARLY).toBeGreaterThan(0);
    expect(ENGINE_EARLY).toBeLessThan(ENGINE_HOT);
    const cpu = new Cpu({
      memory: new FlatPhysicalMemory(1 << 16),
      jit: engineJitTuning('wasm', '', '', '', ''),
    });
    expect(cpu.jit?.early).toBe(ENGINE_EARLY);
    expect(engineJitTuning('wasm', '', '', '', '0').early).toBe(0);
    expect(engineJitTuning('wasm', '', '', '', '100').early).toBe(100);
    expect(engineJitTuning('wasm', '', '', '', 'x').early).toBe(ENGINE_EARLY);
    // The eager test runs (X86EMU_JIT_HOT=2) compile at 2: early is off below it.
    const eager = new Cpu({
      memory: new FlatPhysicalMemory(1 << 16),
      jit: engineJitTuning('wasm', '2', '', '', ''),
    });
    expect(eager.jit?.hot).toBe(2);
    expect(eager.jit?.early).toBe(0);
  });

  it('takes X86EMU_JIT_RUN_UNIT when it is a number of 0 or more', () => {
    expect(engineJitTuning('wasm', '', '8').runUnit).toBe(8);
    expect(engineJitTuning('wasm', '', '0').runUnit).toBe(0);
    expect(engineJitTuning('wasm', '', '-1').runUnit).toBe(ENGINE_RUN_UNIT);
    expect(engineJitTuning('wasm', '', 'x').runUnit).toBe(ENGINE_RUN_UNIT);
  });

  it('takes X86EMU_JIT_MAX_BLOCKS as the code cache size when it is a positive number, else the Jit’s own', () => {
    const t = engineJitTuning('wasm', '', '', '16384');
    expect(t.maxBlocks).toBe(16384);
    expect(new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: t }).jit?.maxBlocks).toBe(16384);
    expect(engineJitTuning('wasm', '', '', '')).not.toHaveProperty('maxBlocks');
    expect(engineJitTuning('wasm', '', '', '0')).not.toHaveProperty('maxBlocks');
    expect(
      new Cpu({ memory: new FlatPhysicalMemory(1 << 16), jit: engineJitTuning('wasm', '', '', 'x') }).jit
        ?.maxBlocks,
    ).toBe(MAX_BLOCKS);
  });
});
