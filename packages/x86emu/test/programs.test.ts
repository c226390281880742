import { describe, expect, it } from 'vitest';
import { Cr0, Flag, Reg, StopReason } from '../src/index.js';
import { realMode, runTo } from './machine.js';

describe('small programs on a bare Cpu', () => {
  it('real mode: arithmetic, loops, calls and REP MOVSB', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      mov es, ax
      mov cx, 100
      xor bx, bx
    1: add bx, cx
      loop 1b
      call double
      mov si, offset msg
      mov di, 0x3000
      mov cx, 5
      cld
      rep movsb
      mov al, [0x3004]
      out 0xe9, al
      hlt
    double:
      shl bx, 1
      ret
    msg: .ascii "hello"
    `);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RBX] & 0xffff).toBe(10100);
    expect(Buffer.from(m.mem.bytes.subarray(0x3000, 0x3005)).toString()).toBe('hello');
    expect(m.out).toEqual(['o'.charCodeAt(0)]);
    expect(s.gpr[Reg.RCX] & 0xffff).toBe(0);
  });

  it('real mode → protected mode → paging with 4 KiB and 4 MiB pages sets A/D bits', () => {
    const m = realMode(`
      cli
      xor ax, ax
      mov ds, ax
      lgdt [gdtr]
      mov eax, cr0
      or eax, 1
      mov cr0, eax
      .byte 0x66, 0xea
      .long pm32
      .word 0x08
    .code32
    pm32:
      mov ax, 0x10
      mov ds, ax
      mov es, ax
      mov ss, ax
      mov esp, 0x9000
      mov edi, 0x11000
      mov eax, 3
      mov ecx, 1024
    2: mov [edi], eax
      add eax, 0x1000
      add edi, 4
      loop 2b
      mov dword ptr [0x10000], 0x11003
      mov dword ptr [0x10004], 0x00000083
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, 0x10000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov dword ptr [0x420000], 0xdeadbeef
      mov ebx, [0x20000]
      hlt
    .align 8
    gdt: .quad 0
      .quad 0x00cf9a000000ffff
      .quad 0x00cf92000000ffff
    gdtr: .word 23
      .long gdt
    `);
    runTo(m);
    const s = m.cpu.state;
    expect((s.cr[0] & (Cr0.PE | Cr0.PG)) >>> 0).toBe((Cr0.PE | Cr0.PG) >>> 0);
    expect(s.gpr[Reg.RBX]).toBe(0xdeadbeef);
    expect(m.mem.read32(0x20000)).toBe(0xdeadbeef);
    // PTE for 0x20000 was used for a read only: accessed, not dirty.
    const pte = m.mem.read32(0x11000 + 0x20 * 4);
    expect(pte & 0x60).toBe(0x20);
    // The 4 MiB PDE was written through: accessed and dirty.
    expect(m.mem.read32(0x10004) & 0x60).toBe(0x60);
    // The code page's PTE was accessed (fetch), the PDE too.
    expect(m.mem.read32(0x10000) & 0x20).toBe(0x20);
    expect(s.segSel[1]).toBe(0x08);
    expect(s.rflags[0] & Flag.IF).toBe(0);
  });

  it('HLT with nothing pending returns Hlt and stays halted', () => {
    const m = realMode('hlt');
    runTo(m, StopReason.Hlt);
    expect(m.cpu.run(10)).toBe(StopReason.Hlt);
    expect(m.cpu.state.halted).toBe(true);
  });
});

describe('stack details', () => {
  it('a 32-bit PUSH of a segment register moves SP by 4 but writes only the selector', () => {
    const m = realMode('xor ax, ax; mov ds, ax; mov dword ptr [0x6ffc], 0xaaaabbbb; .byte 0x66, 0x1e; hlt');
    runTo(m);
    expect(m.mem.read16(0x6ffc)).toBe(0);
    expect(m.mem.read16(0x6ffe)).toBe(0xaaaa);
    expect(m.cpu.state.gpr[Reg.RSP] & 0xffff).toBe(0x6ffc);
  });
});
