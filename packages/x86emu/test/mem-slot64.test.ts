/**
 * 64-bit mode's memory-operand fast path (exec/long/mem-slot64.ts: the effective address's halves
 * straight to the TLB) against what it must leave to the general path: non-canonical addresses
 * whose low 48 bits name a mapped page (#GP(0), #SS(0) on the stack), operands across a page
 * boundary, FS/GS bases carried into the high half, RIP-relative and scaled-index operands; the
 * byte, word and dword operands and the read-modify-write destinations that take it too
 * (exec/operands.ts readE, writeE, rmwLinear), against a read-only or absent page, a non-canonical
 * address and the instruction's own code.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { L, longMode, r64 } from './long.js';
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

  it('byte, word and dword operands read, written and read-modify-written in place agree with memory', () => {
    const m = longMode(`
      mov dword ptr [0x9000], 0x80402010
      movsxd rax, dword ptr [0x9000]
      cmp byte ptr [0x9001], 0x20
      sete bl
      mov word ptr [0x9004], 0x1234
      add word ptr [0x9004], 0x1111
      inc byte ptr [0x9006]
      not byte ptr [0x9007]
      mov dword ptr [0x9ffc], 0xffffffff
      mov dword ptr [0xa000], 0
      add dword ptr [0x9ffe], 0x00010001
      mov ecx, 5
      lock xadd dword ptr [0x9000], ecx
      mov edx, 0x0f
      and byte ptr [0x9001], dl
      hlt
    `);
    runTo(m);
    expect(r64(m, Reg.RAX)).toBe(0xffffffff80402010n);
    expect(r64(m, Reg.RBX) & 0xffn).toBe(1n);
    expect(m.mem.read32(0x9004)).toBe(0xff012345);
    // Across the page end: the general path, both pages written.
    expect(m.mem.read32(0x9ffc)).toBe(0x0000ffff);
    expect(m.mem.read32(0xa000)).toBe(0x0002);
    expect(r64(m, Reg.RCX)).toBe(0x80402010n);
    expect(m.mem.read32(0x9000)).toBe(0x80400015);
  });

  it('a read-modify-write of a page the TLB holds read-only or not at all faults as a write, memory unchanged', () => {
    for (const [addr, errorCode] of [
      [0x600000, 3], // present, read-only (CR0.WP): P | W
      [0x400000, 2], // not present: W
    ] as const) {
      const m = longMode(`mov eax, [0x600000]; add dword ptr [${addr}], 1; hlt`, { captureExceptions: true });
      m.mem.write32(L.PML4 + 0x2000 + 3 * 8, 0x600000 | 0x81); // 0x600000: a supervisor 2 MiB page, no W
      m.mem.write32(L.PML4 + 0x2000 + 2 * 8, 0); // 0x400000: absent
      m.mem.write32(0x600000, 41);
      m.cpu.state.cr[0] |= 0x10000; // WP
      m.cpu.stateChanged();
      m.cpu.run(10);
      expect(m.exceptions[0], addr.toString(16)).toMatchObject({ vector: 14, errorCode, faultAddress: addr });
      expect(m.mem.read32(0x600000)).toBe(41);
    }
  });

  it('a non-canonical read-modify-write is #GP(0); one into its own code is seen by the next fetch', () => {
    const m = longMode('mov rax, 0xffff000000009000; add dword ptr [rax], 1; hlt', {
      captureExceptions: true,
    });
    m.cpu.run(10);
    expect(m.exceptions[0]).toMatchObject({ vector: GP, errorCode: 0 });
    const smc = longMode(`
      mov ecx, 3
    top:
      add byte ptr [rip + patch + 1], 1
    patch:
      mov eax, 5
      dec ecx
      jnz top
      hlt
    `);
    runTo(smc);
    expect(r64(smc, Reg.RAX)).toBe(8n);
  });

  it('read-modify-writes at a kernel-half address reach the frame its own mapping names', () => {
    // 0xffff800000000000 + x maps to 0x800000 + x (PML4[256] -> its own PDPT and directory), so an
    // address with its upper bits lost would land at x instead.
    const m = longMode(`
      mov rax, 0xffff800000009000
      mov dword ptr [rax], 10
      add dword ptr [rax], 5
      mov ecx, 100
      lock xadd dword ptr [rax], ecx
      inc word ptr [rax + 4]
      sub byte ptr [rax + 6], 1
      hlt
    `);
    m.mem.write32(L.PML4 + 256 * 8, (L.PML4 + 0x4000) | 3);
    m.mem.write32(L.PML4 + 0x4000, (L.PML4 + 0x5000) | 3);
    m.mem.write32(L.PML4 + 0x5000, 0x800000 | 0x83);
    runTo(m);
    expect(m.mem.read32(0x809000)).toBe(115);
    expect(m.mem.read32(0x809004)).toBe(0x00ff0001);
    expect(r64(m, Reg.RCX)).toBe(15n);
    expect(m.mem.read32(0x9000)).toBe(0);
    expect(m.mem.read32(0x9004)).toBe(0);
  });
});
