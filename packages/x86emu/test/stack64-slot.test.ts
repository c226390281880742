/**
 * 64-bit mode's stack fast path (exec/long/stack64.ts `stackSlot`: RSP's halves straight to the
 * TLB) against the cases it must hand to the general path: a slot across a page boundary, a
 * non-canonical RSP (#SS(0)), a slot in a page that is not mapped (#PF with the push undone), and
 * CALL/RET through it.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { L, longMode, r64 } from './long.js';
import { runTo } from './machine.js';

const SS = 12;
const PF = 14;

describe('64-bit pushes and pops', () => {
  it('a slot across a page boundary holds all 8 bytes, and POP and RET read them back', () => {
    const m = longMode(`
      mov rsp, 0x9004
      mov rax, 0x1122334455667788
      push rax
      mov rdx, qword ptr [0x8ffc]
      pop rbx
      call f
      hlt
    f: mov rcx, [rsp]
      ret
    `);
    runTo(m);
    expect(r64(m, Reg.RBX)).toBe(0x1122334455667788n);
    expect(r64(m, Reg.RDX)).toBe(0x1122334455667788n);
    expect(m.cpu.state.gpr[Reg.RSP]).toBe(0x9004);
    expect(r64(m, Reg.RCX)).toBeGreaterThan(0n);
  });

  it('a push at a non-canonical RSP is #SS(0) and leaves RSP alone', () => {
    // The second RSP's bits 47:0 name a mapped page (0x9000) that the stack has just used: only
    // the canonical check stands between it and that page's TLB entry.
    for (const rsp of [0x0000800000000008n, 0xffff000000009008n]) {
      const m = longMode(`mov rsp, 0x9008; push rax; pop rax; mov rsp, ${rsp}; push rax`, {
        captureExceptions: true,
      });
      m.cpu.run(10);
      expect(m.exceptions[0]).toMatchObject({ vector: SS, errorCode: 0 });
      expect(r64(m, Reg.RSP)).toBe(rsp);
    }
  });

  it('a push into an unmapped page is #PF with RSP unchanged; the pushes before it stay', () => {
    // The first 16 MiB are mapped; the third push wraps RSP to the top of the address space,
    // which is not (the fault address folded to 48 bits).
    const m = longMode('mov rsp, 0x10; push 1; push 2; push 3', { captureExceptions: true });
    m.cpu.run(10);
    expect(m.exceptions[0]).toMatchObject({ vector: PF, faultAddress: 0xfffffffffff8 });
    expect(r64(m, Reg.RSP)).toBe(0n);
    expect(m.mem.read32(8)).toBe(1);
    expect(m.mem.read32(0)).toBe(2);
  });

  it('a far CALL with a 32-bit operand size pushes CS and EIP as 4 bytes each', () => {
    // FF /3 without REX.W: an m16:32 pointer; the return address is pushed whole (the 4-byte
    // push, which the 8-byte fast path leaves to the general one, once kept only 16 bits).
    const m = longMode(`
      call fword ptr [rip + ptr]
      hlt
    target:
      mov eax, [rsp]
      mov ebx, [rsp + 4]
      mov rcx, rsp
      hlt
    ptr: .long target
      .word ${L.CODE64}
    `);
    runTo(m);
    expect(r64(m, Reg.RAX)).toBe(BigInt(L.CODE + 6));
    expect(r64(m, Reg.RBX) & 0xffffn).toBe(BigInt(L.CODE64));
    expect(r64(m, Reg.RCX)).toBe(0x8000n - 8n);
  });
});
