/** 64-bit behaviour the long64 difftest found on the real CPU (an AMD EPYC under kvm-pvm). */
import { describe, expect, it } from 'vitest';
import { SegAttr } from '../src/index.js';
import { longMode } from './long.js';

describe('an SS override in 64-bit mode', () => {
  it('makes a non-canonical RSI-based access a stack reference: #SS(0), not #GP(0)', () => {
    // 36 8a 06: mov al, ss:[rsi]
    const m = longMode('mov rsi, 0x0000800000000000; .byte 0x36, 0x8a, 0x06', { captureExceptions: true });
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 12, errorCode: 0 });
  });
  it('a LOCKed read-modify-write with an SS override is #SS(0) too', () => {
    // f0 36 10 2b: lock adc ss:[rbx], ch
    const m = longMode('mov rbx, 0xffff000000000000; .byte 0xf0, 0x36, 0x10, 0x2b', {
      captureExceptions: true,
    });
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 12, errorCode: 0 });
  });
  it('without it the same access is #GP(0); a canonical SS-override access reads normally', () => {
    const m = longMode('mov rsi, 0x0000800000000000; mov al, [rsi]', { captureExceptions: true });
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
    const ok = longMode('lea rsi, [rip + d]; .byte 0x36, 0x8a, 0x06; hlt; d: .byte 0x5a', {
      captureExceptions: true,
    });
    ok.cpu.run(5);
    expect(ok.exceptions).toEqual([]);
    expect(ok.cpu.state.gpr[0] & 0xff).toBe(0x5a);
  });
});

/** A machine in compatibility mode (CS 0x40: L = 0, D = 1) at CPL 0 running 32-bit `source`. */
function compatMode(source: string) {
  const m = longMode(`.code32\n${source}`, { captureExceptions: true });
  const s = m.cpu.state;
  s.segSel[1] = 0x40;
  s.segAttr[1] = 0xb | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  m.cpu.stateChanged();
  return m;
}

describe('REP MOVS checks its source before its destination (compatibility mode)', () => {
  it('a null FS source is #GP(0) even when the destination page is not present', () => {
    const m = compatMode('mov esi, 0x1000; mov edi, 0x1000000; mov ecx, 9; rep movsb es:[edi], fs:[esi]');
    m.cpu.state.segSel[4] = 0;
    m.cpu.state.segAttr[4] = SegAttr.UNUSABLE;
    m.cpu.stateChanged();
    m.cpu.run(10);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
  });
  it('a not-present source page faults first, with the source address in CR2', () => {
    const m = compatMode('mov esi, 0x1000000; mov edi, 0x1400000; mov ecx, 9; rep movsb');
    m.cpu.run(10);
    expect(m.exceptions[0]).toEqual({ vector: 14, errorCode: 0, faultAddress: 0x1000000 });
  });
});

describe('SYSENTER/SYSEXIT in compatibility mode', () => {
  it('raise the SDM #GP(0) for a null IA32_SYSENTER_CS before the IA-32e #UD', () => {
    for (const insn of ['sysenter', 'sysexit']) {
      const m = compatMode(insn);
      m.cpu.run(2);
      expect(m.exceptions[0], insn).toMatchObject({ vector: 13, errorCode: 0 });
    }
    const m = compatMode('sysenter');
    m.cpu.state.sysenter[0] = 0x08;
    m.cpu.run(2);
    expect(m.exceptions[0]).toMatchObject({ vector: 6 }); // the entry itself: not implemented
  });
});

describe('a write that runs into a not-present page', () => {
  it('reports that page’s first byte in CR2 (REP STOSQ across a page boundary)', () => {
    // 0x1000000 is the first unmapped page; the 8-byte store covers 0xFFFFFE..0x1000005.
    const m = longMode('mov rdi, 0xfffffe; mov ecx, 1; rep stosq', { captureExceptions: true });
    m.cpu.run(5);
    expect(m.exceptions[0]).toEqual({ vector: 14, errorCode: 2, faultAddress: 0x1000000 });
  });
});
