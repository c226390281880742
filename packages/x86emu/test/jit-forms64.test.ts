/**
 * More forms compiled inline (src/jit/shift64.ts, emit64.ts, emit.ts, emit8.ts): SHL/SAL/SHR/SAR
 * of a 64-bit register by a constant, NOT, CMOVcc (64- and 32-bit, register and memory) and SETcc.
 * Compiled, they leave the CPU as the interpreter does at every budget stop, and a loop of them
 * runs without the interpreter's handlers.
 */
import { describe, expect, it } from 'vitest';
import { Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';
import type { Machine } from './machine.js';
import { protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];

// Every constant count class (1, < 32, 32, > 32, 63) of each shift, its CF/OF/SF/ZF/PF read by
// Jcc, SETcc and CMOVcc; CMOVcc with false conditions (the 32-bit form still clears the
// upper half); NOT of both sizes.
const FORMS = `
  mov ecx, 500
  mov rsi, 0x200000
  mov rbx, 0x8123456789abcdef
  mov r8, 0x7edcba9876543210
top:
  mov rax, rbx
  shl rax, 1
  setc r9b
  mov rdx, r8
  shr rdx, 7
  seto r10b
  sar rbx, 33
  cmovs r11, rdx
  shl r8, 32
  cmovc r12, [rsi + 8]
  sal rdx, 63
  setc [rsi + rcx]
  shr rax, 32
  jo ovf
  sar rdx, 1
  cmovz r13d, eax
ovf:
  mov rdi, rax
  shl rdi, 40
  cmovnz r14d, [rsi]
  not rdi
  not r15d
  sar rdi, 63
  setp dl
  shr r8, 63
  cmovbe rbp, rdi
  cmovl r12d, ecx
  xor rbx, rdi
  add rbx, rcx
  lea r8, [rbx + rbx*4 + 0x2545]
  mov [rsi], rbx
  mov [rsi + 8], r8
  add r8, rax
  dec ecx
  jnz top
  hlt
`;

// Outside 64-bit mode: CMOVcc r32 (register and memory), NOT r32 and SETcc to memory compiled.
const FORMS32 = `
  mov ecx, 500
  mov esi, 0x200000
top:
  mov eax, ecx
  imul eax, eax, 0x9e3779b1
  cmp eax, 0x80000000
  cmovb ebx, eax
  setbe [esi + ecx]
  not edx
  test eax, 0x100
  cmovnz edi, [esi + ecx]
  add edx, edi
  cmp eax, edx
  cmovg ebp, edx
  dec ecx
  jnz top
  hlt
`;

/** Counts the interpreter's handler calls from now on: every decoded instruction's `exec` wrapped. */
function countHandlers(m: Machine): () => number {
  let n = 0;
  for (const pc of m.cpu.codePages.values()) {
    pc.insns.forEach((insn) => {
      if (insn === undefined) return;
      const exec = insn.exec;
      insn.exec = (cpu, i) => {
        n++;
        exec(cpu, i);
      };
    });
  }
  return () => n;
}

describe('block compiler: shifts by a constant, NOT, CMOVcc, SETcc', () => {
  it('64-bit mode: every count class and condition leaves the interpreter state at every budget stop', () => {
    const make = () => {
      const m = longMode(FORMS);
      m.cpu.state.gprHigh[Reg.R13] = 0x55;
      m.cpu.state.gprHigh[Reg.R14] = 0x66;
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(5_000);
  });

  it('NOT Eb under REX.W stays a byte operation in compiled blocks (4D F6 D5: NOT R13B)', () => {
    // REX.W does not widen a byte-operand instruction (SDM Vol. 2 2.2.1.2); a 64-bit NOT there
    // inverted all of R13 (found by the difftest, seed 20261208).
    const make = () =>
      longMode(`
  mov ecx, 200
  mov r13, 0x5df6f017
top:
  .byte 0x4d, 0xf6, 0xd5
  add r13, rcx
  dec ecx
  jnz top
  hlt
`);
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(300);
  });

  it('outside 64-bit mode: CMOVcc, NOT and SETcc leave the interpreter state at every budget stop', () => {
    const r = lockstep(() => protectedMode(FORMS32), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(2_000);
  });

  it('a compiled loop of them calls no handler', () => {
    const m = longMode(FORMS);
    // One iteration interpreted decodes the loop; then the handlers are counted and it compiles.
    expect(m.cpu.run(40)).toBe(StopReason.Budget);
    const handlers = countHandlers(m);
    m.cpu.jit = new Jit({ hot: 2 });
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    // The few instructions stepped before the loop compiles, and those after it.
    expect(handlers()).toBeLessThan(200);
  });
});
