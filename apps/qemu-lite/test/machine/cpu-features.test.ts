/** `-cpu host|max,+feature,-feature` (machine/cpu-features.ts): parsing, and the bits it clears or insists on. */
import type { KvmCpuidEntry2 } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { applyCpuFeatures, CpuFeatureError, parseCpuArg } from '../../src/machine/cpu-features.js';

const entry = (fn: number, regs: Partial<KvmCpuidEntry2>, flags = 0): KvmCpuidEntry2 => ({
  function: fn,
  index: 0,
  flags,
  eax: 0,
  ebx: 0,
  ecx: 0,
  edx: 0,
  ...regs,
});

const TABLE = [
  entry(1, { ecx: (1 << 30) | (1 << 20) | 1 }),
  entry(7, { ebx: 1 << 18, edx: 1 << 14 }, 1),
  entry(0x80000001, { edx: 1 << 26 }),
];

describe('-cpu', () => {
  it("reads QEMU's spellings: +feature, -feature, feature=on|off, after the model host or max", () => {
    expect(parseCpuArg('host')).toEqual({});
    expect(parseCpuArg('max,-rdrand,+sse4.2,serialize=off,pdpe1gb=on')).toEqual({
      rdrand: false,
      'sse4.2': true,
      serialize: false,
      pdpe1gb: true,
    });
  });

  it('refuses another model, a malformed item and an unknown feature, saying what it takes', () => {
    expect(() => parseCpuArg('qemu64')).toThrow(/one CPU model per engine.*-cpu host or -cpu max/);
    expect(() => parseCpuArg('max,rdrand')).toThrow(/'rdrand' is not \+feature, -feature or feature=on\|off/);
    expect(() => parseCpuArg('max,-avx512f')).toThrow(CpuFeatureError);
    expect(() => parseCpuArg('max,-avx512f')).toThrow(/no feature 'avx512f' \(qemu-lite knows .*rdrand/);
  });

  it('clears the bits of the features taken out, in their leaf and register, and leaves the rest', () => {
    const out = applyCpuFeatures(TABLE, { rdrand: false, serialize: false, pdpe1gb: false });
    expect(out[0].ecx).toBe((1 << 20) | 1);
    expect(out[1].ebx).toBe(1 << 18);
    expect(out[1].edx).toBe(0);
    expect(out[2].edx).toBe(0);
    // The input table is not changed.
    expect(TABLE[0].ecx & (1 << 30)).not.toBe(0);
  });

  it('insists on a feature asked for: there, nothing changes; absent, an error that names it', () => {
    expect(applyCpuFeatures(TABLE, { rdseed: true, 'sse4.2': true })).toEqual(TABLE);
    expect(() => applyCpuFeatures(TABLE, { x2apic: true })).toThrow(
      /\+x2apic: this engine's CPU does not have x2apic/,
    );
    expect(() => applyCpuFeatures(TABLE, { avx: false })).toThrow(/no feature 'avx'/);
  });
});
