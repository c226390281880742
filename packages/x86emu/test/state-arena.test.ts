/**
 * CpuState's arrays share one buffer (copyFrom is one copy): no two overlap, XMM0–15 are its first
 * 256 bytes, and copyFrom carries every array and scalar field.
 */
import { describe, expect, it } from 'vitest';
import { CpuState } from '../src/index.js';

type Arr = Uint8Array | Uint16Array | Uint32Array;

/** The state's own typed arrays (fpuWords is a view of fpuRegs, by design). */
function arrays(s: CpuState): [string, Arr][] {
  return Object.entries(s).filter(
    ([k, v]) => ArrayBuffer.isView(v) && k !== 'fpuWords' && !(v instanceof DataView),
  ) as [string, Arr][];
}

describe('CpuState arena', () => {
  it('no two arrays overlap: a distinct pattern written to each reads back intact', () => {
    const s = new CpuState();
    const all = arrays(s);
    expect(all.length).toBeGreaterThan(35);
    all.forEach(([, a], k) => {
      for (let i = 0; i < a.length; i++) a[i] = (k * 37 + i + 1) & 0xff;
    });
    all.forEach(([name, a], k) => {
      for (let i = 0; i < a.length; i++) expect(a[i], `${name}[${i}]`).toBe((k * 37 + i + 1) & 0xff);
    });
    // XMM at offset 0 of the shared buffer, as views over xmm.buffer assume.
    expect(s.xmm.byteOffset).toBe(0);
    expect(new Uint8Array(s.xmm.buffer, 0, 256)[17]).toBe(s.xmm[17]);
    expect(s.fpuWords.byteOffset).toBe(s.fpuRegs.byteOffset);
  });

  it('copyFrom copies every array and the scalar fields', () => {
    const a = new CpuState();
    arrays(a).forEach(([, v], k) => {
      for (let i = 0; i < v.length; i++) v[i] = (k * 13 + i * 7 + 3) & 0xff;
    });
    a.cpl = 3;
    a.interruptibility = 2;
    a.halted = true;
    a.pendingType = 3;
    a.pendingVector = 14;
    a.pendingErrorCode = 6;
    a.pendingHasErrorCode = true;
    a.pendingInstructionLength = 2;
    const b = new CpuState();
    b.copyFrom(a);
    for (const [name, v] of arrays(a))
      expect([...(b as unknown as Record<string, Arr>)[name]], name).toEqual([...v]);
    expect([b.cpl, b.interruptibility, b.halted, b.pendingType, b.pendingVector]).toEqual([
      3,
      2,
      true,
      3,
      14,
    ]);
    expect([b.pendingErrorCode, b.pendingHasErrorCode, b.pendingInstructionLength]).toEqual([6, true, 2]);
    // The two states stay separate.
    a.gpr[0] = 1;
    b.gpr[0] = 2;
    expect(a.gpr[0]).toBe(1);
  });
});
