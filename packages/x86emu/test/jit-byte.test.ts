/**
 * The block compiler's byte-operand forms (src/jit/emit8.ts) and hint NOPs with a memory operand:
 * compiled, they leave the CPU as the interpreter does at every budget stop (flags of size 1 held
 * in the block's locals, byte register writes keeping the rest of the register), and they run
 * without the interpreter's handlers.
 */
import { describe, expect, it } from 'vitest';
import { Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';
import type { Machine } from './machine.js';
import { protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];

// Every byte form emit8.ts compiles, on low, high (AH…BH), REX (SPL, R9B) registers and memory,
// with the flags read by Jcc/SETcc/ADC after each kind (ADD, SUB/CMP, logic) and left pending at
// the loop's branch; hint NOPs with memory operands between them.
const BYTES64 = `
  mov ecx, 700
  mov rsi, 0x200000
  mov rbx, 0x1122334455667788
  mov r9, -1
top:
  mov eax, ecx
  imul eax, eax, 0x9e3779b1
  mov edx, eax
  shr edx, 13
  test al, al
  js neg1
  add bl, al
  adc r10d, 0
neg1:
  cmp dl, 0x80
  jb low1
  sub ah, dl
  setc r11b
  add r12d, r11d
low1:
  mov [rsi + rcx], al
  nop word ptr [rax + rax]
  cmp byte ptr [rsi + rcx], 0x40
  jae hi1
  and bh, 0x3c
  or r9b, dl
  xor spl, 0
  test byte ptr [rsi + rcx], 0x11
  jz hi1
  inc r13d
hi1:
  mov byte ptr [rsi + rcx + 0x400], 0x5a
  mov dh, [rsi + rcx]
  mov r14b, al
  mov bl, dh
  mov bpl, 7
  mov ch, ch
  xor r14b, dl
  cmp al, r14b
  sete r15b
  add al, 0xf0
  jo ovf
  xor dl, [rsi + rcx + 0x400]
  cmp [rsi + rcx], dh
  ja ovf
  sub r9b, [rsi + rcx]
ovf:
  nop dword ptr [rsi]
  adc r8d, 0
  test al, 0x80
  dec ecx
  jnz top
  hlt
`;

// The same outside 64-bit mode: compares, tests and stores of bytes compiled; byte register
// writes stay with the handler there (a compiled store would clear the upper halves).
const BYTES32 = `
  mov ecx, 700
  mov esi, 0x200000
top:
  mov eax, ecx
  imul eax, eax, 0x9e3779b1
  mov edx, eax
  shr edx, 11
  test al, al
  js neg1
  add bl, al
  adc edi, 0
neg1:
  cmp dl, 0x80
  jb low1
  sub ah, dl
  setc bh
low1:
  mov [esi + ecx], al
  nop word ptr [eax + eax]
  cmp byte ptr [esi + ecx], 0x40
  jae hi1
  test byte ptr [esi + ecx], 0x11
  jz hi1
  inc ebp
hi1:
  mov byte ptr [esi + ecx + 0x400], 0x5a
  cmp al, [esi + ecx + 0x400]
  seta dh
  cmp [esi + ecx], dl
  adc edi, 0
  test al, 0x80
  dec ecx
  jnz top
  hlt
`;

/** Interpreter handler calls that record byte flags (`setLazy` with size 1) in `m` while it runs. */
function countByteHandlers(m: Machine): () => number {
  let n = 0;
  const cpu = m.cpu;
  const setLazy = cpu.setLazy.bind(cpu);
  cpu.setLazy = (op, dst, src, res, size) => {
    if (size === 1) n++;
    setLazy(op, dst, src, res, size);
  };
  return () => n;
}

describe('block compiler: byte operands', () => {
  it('64-bit mode: byte ALU, TEST, CMP and MOV on registers and memory leave the interpreter state at every budget stop', () => {
    const make = () => {
      const m = longMode(BYTES64);
      m.cpu.state.gprHigh[Reg.RDX] = 0xdeadbeef;
      m.cpu.state.gprHigh[Reg.RBP] = 0x12345;
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(10_000);
    // A byte write keeps the upper halves (SDM Vol. 1 3.4.1.1).
    expect(r.jit.cpu.state.gprHigh[Reg.RBP]).toBe(0x12345);
  });

  it('64-bit mode: a compiled loop of byte forms calls no handler', () => {
    const m = longMode(BYTES64);
    m.cpu.jit = new Jit({ hot: 2 });
    const byteHandlers = countByteHandlers(m);
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    // Before compiling, and the few iterations that leave a block midway: not one per iteration.
    expect(byteHandlers()).toBeLessThan(100);
  });

  it('outside 64-bit mode: byte compares, tests and stores compiled, byte register writes by the handler, at every budget stop', () => {
    const make = () => {
      const m = protectedMode(BYTES32);
      m.cpu.state.gprHigh[Reg.RBX] = 0x77;
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(10_000);
    expect(r.jit.cpu.state.gprHigh[Reg.RBX]).toBe(0x77);
  });

  it('a hint NOP with a memory operand is compiled and reads no memory, whatever the address', () => {
    const src = `
      mov ecx, 3000
      mov rax, 0x8000000000000000
    top:
      nop dword ptr [rax]
      nop word ptr [rax + rax*8 + 0x1000]
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => longMode(src), [10_000]);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.exceptions).toEqual([]);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(11_000);
    // Compiled, the NOPs do not even compute their address (the handler's `ea`).
    const m = longMode(src);
    m.cpu.jit = new Jit({ hot: 2 });
    let eas = 0;
    const ea = m.cpu.ea.bind(m.cpu);
    m.cpu.ea = (i) => {
      eas++;
      return ea(i);
    };
    expect(m.cpu.run(100_000)).toBe(StopReason.Hlt);
    expect(eas).toBeLessThan(20);
  });
});
