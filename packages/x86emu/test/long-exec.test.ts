/** 64-bit mode execution on a bare Cpu: registers, addressing, stack, branches (issue 10). */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { L, longMode, r64 } from './long.js';
import { runTo } from './machine.js';

describe('64-bit registers and operands', () => {
  it('MOV r64, imm64; ADD r64 carries across bit 31; a 32-bit write zero-extends', () => {
    const m = longMode(`
      mov rax, 0x123456789abcdef0
      mov rbx, 0x11111111ffffffff
      add rax, rbx
      mov rcx, -1
      mov ecx, 5
      mov r9, -2
      mov r9w, 7
      hlt
    `);
    runTo(m);
    expect(r64(m, Reg.RAX)).toBe(0x2345678a_9abcdeefn);
    expect(r64(m, Reg.RCX)).toBe(5n);
    expect(r64(m, Reg.R9)).toBe(0xffff_ffff_ffff_0007n);
  });

  it('RIP-relative loads and stores; PUSH/POP move RSP by 8', () => {
    const m = longMode(`
      mov rdi, [rip + data]
      mov qword ptr [rip + slot], rdi
      push rdi
      pop r12
      mov r13, rsp
      hlt
    data: .quad 0xfedcba9876543210
    slot: .quad 0
    `);
    runTo(m);
    expect(r64(m, Reg.RDI)).toBe(0xfedcba9876543210n);
    expect(r64(m, Reg.R12)).toBe(0xfedcba9876543210n);
    expect(r64(m, Reg.R13)).toBe(0x8000n);
    expect(m.mem.read32(L.CODE + 0x1d)).toBe(0x76543210); // slot: after 21 bytes of code and 8 of data
  });

  it('CALL/RET push 8-byte return addresses; Jcc and LOOP use 64-bit RCX', () => {
    const m = longMode(`
      mov rcx, 0x100000001
      xor eax, eax
      loop 1f
      mov al, 1
    1: call f
    r: hlt
    f: mov rbx, [rsp]
      lea rdx, [rip + r]
      ret
    `);
    runTo(m);
    expect(r64(m, Reg.RAX)).toBe(0n); // RCX = 1_0000_0000H after LOOP: taken
    expect(r64(m, Reg.RCX)).toBe(0x100000000n);
    expect(r64(m, Reg.RBX)).toBe(r64(m, Reg.RDX));
    expect(m.cpu.state.gpr[Reg.RSP]).toBe(0x8000);
  });
});
