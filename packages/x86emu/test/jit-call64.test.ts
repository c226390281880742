/**
 * Near CALL rel32 and RET compiled inline in 64-bit mode (src/jit/stack64.ts): exact at every
 * budget stop, precise at a push that faults and at a return to a non-canonical address, and
 * chained to the block at the target without the interpreter's handlers.
 */
import { describe, expect, it } from 'vitest';
import { Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { longMode } from './long.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];

// Calls within the page and into the next one, nested, a RET imm16, flags pending across CALL
// and RET (read by the caller after the return), a register written just before each.
const CALLS = `
  mov ecx, 400
  xor ebx, ebx
top:
  mov eax, ecx
  add ebx, 3
  call near1
  adc ebx, 0
  push rcx
  push rax
  call far1
  jnz nz1
  inc r8d
nz1:
  sub ebx, eax
  dec ecx
  jnz top
  hlt
near1:
  mov edx, ecx
  and edx, 7
  cmp edx, 3
  ret
.balign 4096
far1:
  mov r9, [rsp + 8]
  add r9, [rsp + 16]
  call near2
  test r9d, 1
  ret 16
near2:
  imul r9, r9, 5
  add r10, r9
  ret
`;

describe('block compiler, 64-bit mode: CALL and RET', () => {
  it('calls and returns within a page and across pages leave the interpreter state at every budget stop', () => {
    const r = lockstep(() => longMode(CALLS), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(6000);
    expect(r.jit.cpu.state.gpr[Reg.RSP]).toBe(0x8000);
  });

  it('compiled, the return addresses are pushed and popped inline and returns in the page chain', () => {
    const m = longMode(CALLS);
    m.cpu.jit = new Jit({ hot: 2 });
    let slow = 0;
    const cpu = m.cpu;
    const write64 = cpu.write64.bind(cpu);
    const read64 = cpu.read64.bind(cpu);
    cpu.write64 = (seg, off, lo, hi) => {
      slow++;
      write64(seg, off, lo, hi);
    };
    cpu.read64 = (seg, off) => {
      slow++;
      read64(seg, off);
    };
    expect(m.cpu.run(1_000_000)).toBe(StopReason.Hlt);
    // The handlers' push64/peek64 go through write64/read64: 4 calls and 4 returns an iteration.
    expect(slow).toBeLessThan(100);
    const st = m.cpu.jit.stats;
    // near1's RET returns into its caller's page, a block compiled there: chained, not looked up.
    expect(st.linked).toBeGreaterThan(800);
  });

  it('a CALL whose push faults (#PF) leaves RSP as it was and RIP at the CALL', () => {
    // RSP walks up out of the 16 MiB that are mapped, the loop compiled on the way.
    const src = `
      mov rsp, 0xff8010
    top:
      add ebx, 1
      call f
    back:
      add rsp, 0x1008
      jmp top
    f:
      jmp back`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1000]);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([14]);
    expect(r.jit.cpu.jit?.stats.compiled).toBeGreaterThan(0);
    const rsp = r.jit.cpu.state.gpr[Reg.RSP];
    expect(rsp - 8).toBeGreaterThanOrEqual(0x1000000);
  });

  it('a RET to a non-canonical address is #GP(0) at the RET, RSP unchanged', () => {
    const src = `
      mov ecx, 100
    top:
      call f
      dec ecx
      jnz top
      mov rax, 0x8000000000000000
      push rax
      mov rdx, rsp
      jmp f
    f:
      add ebx, 1
      ret`;
    const r = lockstep(() => longMode(src, { captureExceptions: true }), [1, 7, 1000]);
    expect(r.jit.exceptions.map((e) => [e.vector, e.errorCode])).toEqual([[13, 0]]);
    expect(r.jit.cpu.state.gpr[Reg.RSP]).toBe(r.jit.cpu.state.gpr[Reg.RDX]);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(101);
  });
});
