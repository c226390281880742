/** SYSENTER/SYSEXIT in IA-32e mode (SDM Vol. 2 SYSENTER, SYSEXIT; Intel semantics, AMD #UD). */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { L, longMode, r64 } from './long.js';
import type { Machine } from './machine.js';

/** Writes IA32_SYSENTER_CS/ESP/EIP, then runs `entry` (the SYSENTER side) and the kernel code. */
const MSRS = `
  mov ecx, 0x174; mov eax, 0x08; xor edx, edx; wrmsr
  mov ecx, 0x175; mov eax, 0x8000; mov edx, 1; wrmsr
  mov ecx, 0x176; lea rax, [rip + kernel]; xor edx, edx; wrmsr
`;

function amd(m: Machine): void {
  m.cpu.cpuidOps = {
    cpuid(leaf, _sub, out) {
      out[0] = out[1] = out[2] = out[3] = 0;
      if (leaf === 0) {
        out[1] = 0x68747541; // "Auth"
        out[3] = 0x69746e65; // "enti"
        out[2] = 0x444d4163; // "cAMD"
      }
    },
  };
}

describe('SYSENTER in IA-32e mode (Intel)', () => {
  it('enters 64-bit code at CPL 0 with the 64-bit IA32_SYSENTER_ESP/EIP; SYSEXIT with REX.W returns to 64-bit CPL 3', () => {
    const m = longMode(`
      ${MSRS}
      lea rdx, [rip + user]
      mov rcx, 0x00007fffffff0000
      pushfq; or qword ptr [rsp], 0x200; popfq
      sysenter
    kernel:
      mov r8, rsp
      mov r9d, cs
      mov r10d, ss
      .byte 0x48, 0x0f, 0x35   # sysexit with REX.W
    user:
      mov r12d, cs
      mov r13, rsp
      hlt
    `);
    // RDX/RCX reach the kernel unchanged: it returns through them.
    m.cpu.run(100);
    const s = m.cpu.state;
    expect(r64(m, Reg.R8)).toBe(0x1_0000_8000n);
    expect([r64(m, Reg.R9), r64(m, Reg.R10)]).toEqual([0x08n, 0x10n]);
    expect(s.rflags[0] & 0x200).toBe(0); // IF cleared on entry (SYSEXIT leaves RFLAGS alone)
    expect(r64(m, Reg.R12)).toBe(BigInt(0x08 + 32) | 3n);
    expect(r64(m, Reg.R13)).toBe(0x00007fffffff0000n);
    expect(s.cpl).toBe(3);
    expect(s.segSel[2]).toBe((0x08 + 40) | 3);
    expect(m.cpu.long64).toBe(true);
  });

  it('SYSEXIT without REX.W returns to compatibility mode (CS = SYSENTER_CS + 16, EIP = EDX)', () => {
    const m = longMode(`
      ${MSRS}
      sysenter
    kernel:
      lea rdx, [rip + user32]
      mov eax, 0xffffffff
      shl rax, 32
      or rdx, rax
      mov rcx, 0xffffffff00007000
      .byte 0x0f, 0x35   # sysexit
    user32:
      hlt
    `);
    m.cpu.run(20);
    const s = m.cpu.state;
    expect(s.segSel[1]).toBe(L.CODE32_3);
    expect(m.cpu.lma && !m.cpu.long64).toBe(true);
    expect([s.rip[1], s.gprHigh[Reg.RSP], s.gpr[Reg.RSP]]).toEqual([0, 0, 0x7000]);
    expect(s.cpl).toBe(3);
  });

  it('SYSEXIT with REX.W to a non-canonical RDX is #GP(0)', () => {
    const m = longMode(
      'mov ecx, 0x174; mov eax, 8; xor edx, edx; wrmsr; mov rdx, 0x0000800000000000; .byte 0x48, 0x0f, 0x35',
      {
        captureExceptions: true,
      },
    );
    m.cpu.run(10);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
  });

  it('IA32_SYSENTER_ESP/EIP hold 64 bits and must be canonical (WRMSR #GP(0))', () => {
    const m = longMode(
      `
      mov ecx, 0x176; mov eax, 0x1234; mov edx, 0xffff8000; wrmsr
      xor eax, eax; xor edx, edx; rdmsr
      mov r8d, edx
      mov edx, 0x00008000; wrmsr
    `,
      { captureExceptions: true },
    );
    m.cpu.run(20);
    expect(r64(m, Reg.R8)).toBe(0xffff8000n);
    expect(m.exceptions[0]).toMatchObject({ vector: 13, errorCode: 0 });
    expect([m.cpu.state.sysenter[2], m.cpu.state.sysenterHigh[2]]).toEqual([0x1234, 0xffff8000]);
  });
});

describe('SYSENTER/SYSEXIT with an AMD CPUID', () => {
  it('are #UD in long mode (APM: not supported there), after the #GP(0) of a null SYSENTER_CS', () => {
    for (const insn of ['sysenter', 'sysexit']) {
      const m = longMode(
        `mov ecx, 0x174; mov eax, 8; xor edx, edx; wrmsr; ${insn === 'sysenter' ? insn : '.byte 0x0f, 0x35'}`,
        { captureExceptions: true },
      );
      amd(m);
      m.cpu.run(10);
      expect(m.exceptions[0], insn).toMatchObject({ vector: 6 });
    }
  });
});
