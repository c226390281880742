/**
 * CPUID.1 reports CLFLUSH, which x86emu implements: EDX.CLFSH (bit 19) and the line size in
 * EBX[15:8] (8-byte units: 8 × 8 = 64 bytes), which the SDM gives only when CLFSH is set.
 */
import { describe, expect, it } from 'vitest';
import { CPUID1_EBX, CPUID1_EDX, defaultCpuid, StopReason } from '../src/index.js';
import { protectedMode } from './pm.js';

describe('CPUID leaf 1: CLFLUSH', () => {
  it('has CLFSH and a 64-byte line size', () => {
    const out = new Uint32Array(4);
    defaultCpuid.cpuid(1, 0, out);
    expect((out[3] >>> 19) & 1).toBe(1);
    expect(((out[1] >>> 8) & 0xff) * 8).toBe(64);
    expect(out[1]).toBe(CPUID1_EBX);
    expect(out[3]).toBe(CPUID1_EDX);
  });

  it('is what a guest reads, and CLFLUSH executes', () => {
    const m = protectedMode('mov eax, 1; cpuid; clflush [0x20000]; hlt');
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect((m.cpu.state.gpr[2] >>> 19) & 1).toBe(1);
    expect((m.cpu.state.gpr[3] >>> 8) & 0xff).toBe(8);
  });
});
