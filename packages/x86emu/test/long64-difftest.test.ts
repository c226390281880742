/** 64-bit behaviour the long64 difftest found on the real CPU (an AMD EPYC under kvm-pvm). */
import { describe, expect, it } from 'vitest';
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
