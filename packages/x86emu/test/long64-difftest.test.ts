/** 64-bit behaviour the long64 difftest found on the real CPU (an AMD EPYC under kvm-pvm). */
import { describe, expect, it } from 'vitest';
import { SegAttr } from '../src/index.js';
import { L, longMode } from './long.js';

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
  it('raise the SDM #GP(0) for a null IA32_SYSENTER_CS; with one set, SYSENTER enters 64-bit mode', () => {
    for (const insn of ['sysenter', 'sysexit']) {
      const m = compatMode(insn);
      m.cpu.run(2);
      expect(m.exceptions[0], insn).toMatchObject({ vector: 13, errorCode: 0 });
    }
    const m = compatMode('sysenter');
    m.cpu.state.sysenter[0] = 0x08;
    m.cpu.run(1);
    expect(m.exceptions).toEqual([]); // entered 64-bit mode at CPL 0 (long-sysenter.test.ts)
    expect([m.cpu.long64, m.cpu.state.segSel[1]]).toEqual([true, 0x08]);
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

describe('a REP MOVS that overwrites its own code', () => {
  // The real CPU decodes a REP once: `f3 47 a5` with DF = 1 copying over its own bytes ran to
  // RCX = 0 (long64 difftest, seed 2). x86emu yields every 4096 elements and must not re-fetch.
  const source = [
    'std',
    'mov rsi, 0x20fffc',
    'lea rdi, [rip + tail]',
    'mov ecx, 0x3000',
    '.byte 0xf3, 0x47, 0xa5', // rep movsd with REX.RXB (ignored by MOVS)
    'hlt',
    'tail: hlt',
  ].join('\n');
  it('finishes as decoded, past the 4096-element yields', () => {
    const m = longMode(source, { captureExceptions: true });
    // The source is all HLT bytes: a re-fetch at the REP would halt with RCX = 0x2000.
    m.mem.bytes.fill(0xf4, 0x200000, 0x210000);
    m.cpu.run(100000);
    const s = m.cpu.state;
    expect(m.exceptions).toEqual([]);
    expect(s.gpr[1]).toBe(0);
    expect(s.gpr[6]).toBe(0x20fffc - 0x3000 * 4);
    // Every byte of the program was overwritten with HLT on the way down.
    expect([...m.mem.bytes.subarray(L.CODE, L.CODE + 0x18)].every((b) => b === 0xf4)).toBe(true);
    expect(s.halted).toBe(true);
  });
  it('is fetched again after run() stops between iterations (the caller may change state there)', () => {
    const m = longMode(source, { captureExceptions: true });
    m.mem.bytes.fill(0xf4, 0x200000, 0x210000);
    // A budget stop is a boundary where the caller may change state: the next run re-fetches the
    // (now HLT) bytes, as a real CPU does after an interrupt between iterations.
    m.cpu.run(4 + 5000);
    expect(m.cpu.state.gpr[1]).toBe(0x3000 - 5000);
    m.cpu.run(100000);
    expect(m.cpu.state.gpr[1]).toBe(0x3000 - 5000);
    expect(m.cpu.state.halted).toBe(true);
  });
});

describe('a REP MOVS that overwrites its own code (compatibility mode)', () => {
  it('finishes as decoded, past the 4096-element yields', () => {
    const m = compatMode(
      [
        'std',
        'mov esi, 0x20fffc',
        'mov edi, offset tail',
        'mov ecx, 0x3000',
        'rep movsd',
        'hlt',
        'tail: hlt',
      ].join('\n'),
    );
    m.mem.bytes.fill(0xf4, 0x200000, 0x210000);
    m.cpu.run(100000);
    expect(m.exceptions).toEqual([]);
    expect(m.cpu.state.gpr[1]).toBe(0);
    expect(m.cpu.state.gpr[6]).toBe(0x20fffc - 0x3000 * 4);
    expect(m.cpu.state.halted).toBe(true);
  });
});

describe('16-bit SHLD/SHRD with a count above 16', () => {
  // Undefined in the SDM; the real CPU shifts DST:SRC:SRC / SRC:SRC:DST as 48 bits (long64
  // difftest, seeds 20261205 and 2).
  it('SHLD brings SRC’s bits in again below SRC', () => {
    // 66 0f a4 ff 73: shld di, di, 0x73 (count 19)
    const a = longMode('mov edi, 0x9253; .byte 0x66, 0x0f, 0xa4, 0xff, 0x73; hlt');
    a.cpu.run(10);
    expect(a.cpu.state.gpr[7]).toBe(0x929c);
    // 66 41 0f a4 e4 71: shld r12w, sp, 0x71 (count 17)
    const b = longMode(
      'mov r12d, 0x38ded1f0; mov esp, 0x2fe80; .byte 0x66, 0x41, 0x0f, 0xa4, 0xe4, 0x71; hlt',
    );
    b.cpu.run(10);
    expect(b.cpu.state.gpr[12]).toBe(0x38defd01);
    // 66 0f a4 fa ba: shld dx, di, 0xba (count 26): not DST's bits (that would be FD69h)
    const c = longMode('mov edx, 0x5a64; mov edi, 0xffff; .byte 0x66, 0x0f, 0xa4, 0xfa, 0xba; hlt');
    c.cpu.run(10);
    expect(c.cpu.state.gpr[2]).toBe(0xffff);
  });
  it('SHRD brings SRC’s bits in again above SRC', () => {
    // 66 45 0f ac d8 13: shrd r8w, r11w, 0x13 (count 19): SRC rotated right by 3
    const m = longMode('mov r8d, 0x1234; mov r11d, 0xb15b; .byte 0x66, 0x45, 0x0f, 0xac, 0xd8, 0x13; hlt');
    m.cpu.run(10);
    expect(m.cpu.state.gpr[8]).toBe(0x762b);
  });
});

describe('BTC/BTS with a 64-bit register bit offset above 2^53', () => {
  // The byte displacement keeps the offset's low bits (long64 difftest: CR2 was rounded).
  it('faults at the byte the offset selects (32-bit address size)', () => {
    // 67 4f 0f bb 77 24: btc [r15d + 0x24], r14
    const a = longMode(
      'mov r15, 0x21a48; mov r14, 0x6fe26748ea76f1c2; .byte 0x67, 0x4f, 0x0f, 0xbb, 0x77, 0x24; hlt',
      { captureExceptions: true },
    );
    a.cpu.run(10);
    expect(a.exceptions[0]).toMatchObject({ vector: 14, faultAddress: 0x1d50f8a4 });
    // f0 67 4d 0f ab b7 37 fe ff ff: lock bts [r15d - 0x1c9], r14
    const b = longMode(
      'mov r15, 0x0000c1be0b3b377c; mov r14, 0xd3066753778f9a99; .byte 0xf0, 0x67, 0x4d, 0x0f, 0xab, 0xb7, 0x37, 0xfe, 0xff, 0xff; hlt',
      { captureExceptions: true },
    );
    b.cpu.run(10);
    expect(b.exceptions[0]).toMatchObject({ vector: 14, faultAddress: 0x7a2d2903 });
  });
  it('a 64-bit address keeps every bit of a canonical result', () => {
    // bts [rdi], rax, RAX = 2^55 + 0x3ff (no double holds it): the qword at RDI + 2^52 + 0x78,
    // bit 63; RDI = 0x1000 - 2^52.
    const m = longMode('mov rdi, 0xfff0000000001000; mov rax, 0x00800000000003ff; bts [rdi], rax; hlt');
    m.cpu.run(10);
    expect(m.mem.bytes[0x1000 + 0x7f]).toBe(0x80);
    expect(m.mem.bytes[0x1000 + 0x87]).toBe(0);
  });
});

describe('CMPXCHG16B alignment', () => {
  it('a misaligned operand at a non-canonical RBP-based address is #GP(0), not #SS(0)', () => {
    // f0 3e 4a 0f c7 8d 0f 07 00 00: lock cmpxchg16b ds:[rbp + 0x70f] (seed 20261206, case 8531)
    const m = longMode(
      'mov rbp, 0x0000804baaba1ff0; .byte 0xf0, 0x3e, 0x4a, 0x0f, 0xc7, 0x8d, 0x0f, 0x07, 0, 0',
      {
        captureExceptions: true,
      },
    );
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
  });
  it('an aligned non-canonical RBP-based operand is still #SS(0)', () => {
    const m = longMode('mov rbp, 0x0000804baaba1ff0; .byte 0xf0, 0x4a, 0x0f, 0xc7, 0x8d, 0x00, 0x07, 0, 0', {
      captureExceptions: true,
    });
    m.cpu.run(5);
    expect(m.exceptions[0]).toMatchObject({ vector: 12, errorCode: 0 });
  });
});

describe('64-bit INC/DEC after a 64-bit arithmetic result', () => {
  it('keep the CF that the previous operation left (lazy 64-bit flags)', () => {
    // cmp rax, rbx borrows (CF = 1), then inc r9 / dec r10 (REX.W): CF stays 1 (seed 1, case 356).
    const m = longMode('mov eax, 1; mov ebx, 2; cmp rax, rbx; inc r9; setc cl; dec r10; setc dl; hlt');
    m.cpu.run(20);
    expect([m.cpu.state.gpr[1] & 0xff, m.cpu.state.gpr[2] & 0xff]).toEqual([1, 1]);
  });
});
