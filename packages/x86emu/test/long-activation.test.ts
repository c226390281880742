/**
 * Entering and leaving IA-32e mode (SDM Vol. 3 9.8.5): EFER.LME/LMA, the CR0.PG / CR4.PAE / EFER
 * sequence with its #GP(0) checks, CS.L selecting 64-bit or compatibility mode.
 */
import { describe, expect, it } from 'vitest';
import { Efer, Reg } from '../src/index.js';
import { ENTER_COMPAT, L, longMode, r64 } from './long.js';
import { runTo } from './machine.js';

describe('activation', () => {
  it('PAE, CR3, EFER.LME, then CR0.PG: LMA = 1 in compatibility mode; a far JMP to an L = 1 segment enters 64-bit mode', () => {
    const m = longMode(
      `${ENTER_COMPAT}
      mov ebx, 0xc0000080
      xchg ebx, ecx
      rdmsr
      mov esi, eax
      ljmp ${L.CODE64}, offset long64
    .code64
    long64:
      mov rdx, 0x100000000
      add rdx, rdx
      hlt
    `,
      { startIn32: true },
    );
    let compat = false;
    let steps = 0;
    while (!m.cpu.state.halted && steps++ < 100) {
      m.cpu.run(1);
      if (m.cpu.lma && !m.cpu.long64) compat = true;
    }
    expect(compat).toBe(true);
    expect(m.cpu.long64).toBe(true);
    expect(m.cpu.state.gpr[Reg.RSI] & (Efer.LME | Efer.LMA)).toBe(Efer.LME | Efer.LMA);
    expect(r64(m, Reg.RDX)).toBe(0x200000000n);
  });

  it('CR0.PG with EFER.LME but CR4.PAE = 0 is #GP(0), nothing changed', () => {
    const m = longMode(
      `
      mov ecx, 0xc0000080
      mov eax, 0x100
      xor edx, edx
      wrmsr
      mov eax, ${L.PML4}
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      hlt`,
      { startIn32: true, captureExceptions: true },
    );
    m.cpu.run(100);
    expect(m.exceptions[0]).toEqual({ vector: 13, errorCode: 0, faultAddress: 0 });
    expect(m.cpu.state.cr[0] & 0x80000000).toBe(0);
    expect(m.cpu.state.efer[0] & Efer.LMA).toBe(0);
  });

  it('CR0.PG with EFER.LME from a code segment with L = 1 is #GP(0)', () => {
    const m = longMode(`${ENTER_COMPAT} hlt`, { startIn32: true, captureExceptions: true });
    // L set in the cached CS while LMA = 0: ignored for execution, checked by the activation.
    m.cpu.state.segAttr[1] |= 1 << 13;
    m.cpu.state.segAttr[1] &= ~(1 << 14);
    m.cpu.state.segAttr[1] |= 1 << 14; // keep D = 1 so the 32-bit code still decodes
    m.cpu.stateChanged();
    m.cpu.run(100);
    expect(m.exceptions[0]?.vector).toBe(13);
    expect(m.cpu.state.efer[0] & Efer.LMA).toBe(0);
  });

  it('WRMSR EFER with a reserved bit, or changing LME while paging is on, is #GP(0)', () => {
    for (const [eax, edx] of [
      [0x502, 0],
      [0x500, 1],
      [0x400, 0], // clears LME under CR0.PG = 1
    ]) {
      const m = longMode(`mov ecx, 0xc0000080; mov eax, ${eax}; mov edx, ${edx}; wrmsr; hlt`, {
        captureExceptions: true,
      });
      m.cpu.run(10);
      expect(m.exceptions[0]?.vector).toBe(13);
      expect(m.cpu.state.efer[0]).toBe(Efer.LME | Efer.LMA);
    }
  });

  it('WRMSR EFER keeps LMA whatever is written, and sets SCE and NXE', () => {
    const m = longMode('mov ecx, 0xc0000080; mov eax, 0x901; xor edx, edx; wrmsr; rdmsr; hlt');
    runTo(m);
    expect(m.cpu.state.efer[0]).toBe(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0xd01);
  });
});

describe('leaving and staying', () => {
  it('clearing CR4.PAE in IA-32e mode is #GP(0)', () => {
    const m = longMode('mov rax, cr4; and eax, ~0x20; mov cr4, rax; hlt', { captureExceptions: true });
    m.cpu.run(10);
    expect(m.exceptions[0]?.vector).toBe(13);
    expect(m.cpu.state.cr[4] & 0x20).toBe(0x20);
  });

  it('clearing CR0.PG in 64-bit mode is #GP(0); from compatibility mode it leaves IA-32e mode', () => {
    const bad = longMode('mov rax, cr0; btr eax, 31; mov cr0, rax; hlt', { captureExceptions: true });
    bad.cpu.run(10);
    expect(bad.exceptions[0]?.vector).toBe(13);
    expect(bad.cpu.lma).toBe(true);

    const m = longMode(
      `
      push ${L.CODE32}
      lea rax, [rip + compat]
      push rax
      retfq
    .code32
    compat:
      mov eax, cr0
      and eax, 0x7fffffff
      mov cr0, eax
      hlt
    `,
      { captureExceptions: true },
    );
    runTo(m);
    expect(m.exceptions).toEqual([]);
    expect(m.cpu.lma).toBe(false);
    expect(m.cpu.state.efer[0]).toBe(Efer.LME);
  });

  it('MOV CR with bits 63:32 set: CR0/CR4 #GP(0); CR3 above MAXPHYADDR #GP(0); CR8 holds the TPR', () => {
    const m = longMode('mov rax, 0x100000011; mov cr0, rax; hlt', { captureExceptions: true });
    m.cpu.run(10);
    expect(m.exceptions[0]?.vector).toBe(13);
    const m3 = longMode('mov rax, 0x1000000000; mov cr3, rax; hlt', { captureExceptions: true });
    m3.cpu.run(10);
    expect(m3.exceptions[0]?.vector).toBe(13);
    const m8 = longMode('mov eax, 9; mov cr8, rax; mov rbx, cr8; mov eax, 16; mov cr8, rax; hlt', {
      captureExceptions: true,
    });
    m8.cpu.run(10);
    expect(r64(m8, Reg.RBX)).toBe(9n);
    expect(m8.exceptions[0]?.vector).toBe(13);
  });
});
