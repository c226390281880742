/** The x87/SSE state's conversions (fpu-state.ts) and the edge-value generators (fp-values.ts). */
import { CpuState } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { randomFpu } from '../src/fp-values.js';
import { compareFpu, type FpuState, fpuFromCpu, fpuToCpu, st80 } from '../src/fpu-state.js';
import { Prng } from '../src/prng.js';

function reg(lo: number, hi: number, se: number): number[] {
  const b = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  return [...b(lo), ...b(hi), se & 0xff, se >>> 8];
}

describe('the x87/SSE state of a case', () => {
  it('round-trips through CpuState: ST(i) is R((TOP + i) mod 8), the abridged tag by physical register', () => {
    const p = new Prng(3);
    for (let k = 0; k < 50; k++) {
      const f = randomFpu(p);
      const c = new CpuState();
      fpuToCpu(f, c);
      expect(fpuFromCpu(c)).toEqual(f);
    }
  });

  it('reconstructs the full tag as FXRSTOR does: zero 01, special 10, valid 00, empty 11', () => {
    const st = [
      ...reg(0, 0, 0), // +0: zero
      ...reg(0, 0x80000000, 0x7fff), // ∞: special
      ...reg(1, 0, 0), // denormal: special
      ...reg(0, 0x40000000, 0x3fff), // unnormal: special
      ...reg(0, 0x80000000, 0x3fff), // 1.0: valid
      ...reg(0, 0, 0),
      ...reg(0, 0, 0),
      ...reg(0, 0, 0),
    ];
    const f: FpuState = {
      fcw: 0x37f,
      fsw: 3 << 11,
      ftw: 0x1f << 3,
      st,
      mxcsr: 0x1f80,
      xmm: new Array(256).fill(0),
    };
    const c = new CpuState();
    fpuToCpu(f, c);
    // TOP = 3: ST0..ST4 are R3..R7; R0–R2 empty.
    expect(c.fpuTag[0].toString(2).padStart(16, '0')).toBe(
      ['00', '10', '10', '10', '01', '11', '11', '11'].join(''),
    );
    expect(st80(fpuFromCpu(c).st, 4)).toBe('3fff:8000000000000000');
  });

  it('names what differs: a register, the control word, an XMM register', () => {
    const p = new Prng(4);
    const a = randomFpu(p);
    const b: FpuState = { ...a, st: [...a.st], xmm: [...a.xmm], fcw: a.fcw ^ 0x400 };
    b.st[12] ^= 1;
    b.xmm[16 * 9] ^= 0x80;
    expect(compareFpu(a, b).map((d) => d.field)).toEqual(['fcw', 'st1', 'xmm9']);
  });

  it('draws edges: every randomFpu leaves MXCSR without reserved bits, FCW with its reserved bits clear', () => {
    const p = new Prng(5);
    for (let k = 0; k < 200; k++) {
      const f = randomFpu(p);
      expect(f.mxcsr & ~0xffff).toBe(0);
      expect(f.fcw & 0xe0c0).toBe(0x0040);
      expect(f.st.length).toBe(80);
      expect(f.xmm.length).toBe(256);
    }
  });
});
