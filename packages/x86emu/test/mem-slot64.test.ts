/**
 * 64-bit mode's memory-operand fast path (exec/long/mem-slot64.ts: the effective address's halves
 * straight to the TLB) against what it must leave to the general path: non-canonical addresses
 * whose low 48 bits name a mapped page (#GP(0), #SS(0) on the stack), operands across a page
 * boundary, FS/GS bases carried into the high half, RIP-relative and scaled-index operands.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { longMode, r64 } from './long.js';
import { runTo } from './machine.js';

const SS = 12;
const GP = 13;

describe('64-bit memory operands', () => {
  it('a non-canonical address is #GP(0) (#SS(0) through RBP) even where its low 48 bits are mapped', () => {
    // 0x9000 is mapped and was just used; 0xFFFF0000_00009000 folds to the same 48 bits.
    for (const [op, vector] of [
      ['mov rbx, [rax]', GP],
      ['mov ebx, [rax]', GP],
      ['add ebx, [rax]', GP],
      ['mov qword ptr [rax], rbx', GP],
      ['mov dword ptr [rax], 7', GP],
      ['mov rbx, [rbp]', SS],
    ] as const) {
      const m = longMode(
        `mov qword ptr [0x9000], rcx; mov rbx, [0x9000]; mov rax, 0xffff000000009000; mov rbp, rax; ${op}; hlt`,
        { captureExceptions: true },
      );
      m.cpu.run(10);
      expect(m.exceptions[0], op).toMatchObject({ vector, errorCode: 0 });
    }
  });

  it('operands across a page boundary, scaled indexes, RIP-relative and FS-based operands', () => {
    const m = longMode(`
      mov rax, 0x1122334455667788
      mov qword ptr [0x8ffc], rax
      mov rbx, [0x8ffc]
      mov dword ptr [0x9ffe], 0x12345678
      mov ecx, [0x9ffe]
      mov rsi, 0x8000
      mov rdi, 0x1ff
      mov r10, [rsi + rdi*8 + 4]
      mov r8, [rip + data]
      mov ecx, 0xc0000100
      mov eax, 0x9000
      xor edx, edx
      wrmsr
      mov r9d, fs:[-4]
      mov ecx, [0x9ffe]
      mov r11d, 1
      add r11d, fs:[-4]
      hlt
    data: .quad 0x0102030405060708
    `);
    runTo(m);
    expect(r64(m, Reg.RBX)).toBe(0x1122334455667788n);
    expect(r64(m, Reg.R10)).toBe(0x1122334455667788n);
    expect(r64(m, Reg.R8)).toBe(0x0102030405060708n);
    expect(r64(m, Reg.R9)).toBe(0x55667788n);
    expect(r64(m, Reg.RCX)).toBe(0x12345678n);
    expect(r64(m, Reg.R11)).toBe(0x55667789n);
  });
});
