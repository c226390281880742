/** Instructions the oracle cannot run on a 64-bit host, or that need memory and descriptors. */
import { describe, expect, it } from 'vitest';
import { Reg, StopReason } from '../src/index.js';
import { realMode, runTo } from './machine.js';
import { CODE, protectedMode, SEL, setGate } from './pm.js';

const g = (m: ReturnType<typeof realMode>, r: number) => m.cpu.state.gpr[r];

describe('string compares', () => {
  it('REPE CMPSB stops at the first difference; REPNE SCASB at the first match', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      mov es, ax
      cld
      mov si, offset a
      mov di, offset b
      mov cx, 8
      repe cmpsb
      mov bx, cx
      mov dx, si
      mov di, offset b
      mov al, 'x'
      mov cx, 8
      repne scasb
      hlt
    a: .ascii "abcdefgh"
    b: .ascii "abcXefgx"
    `);
    runTo(m);
    expect(g(m, Reg.RBX) & 0xffff).toBe(4); // stopped after comparing 'd' with 'X' (4 left)
    expect(g(m, Reg.RCX) & 0xffff).toBe(0); // 'x' is the 8th byte
    expect(m.cpu.state.rflags[0] & 0x40).toBe(0x40); // found: ZF = 1
  });
  it('LODSW with DF = 1 walks down; LOOPNE ends on ZF', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      std
      mov si, offset w + 4
      mov cx, 3
      xor bx, bx
    1: lodsw
      add bx, ax
      cmp ax, 0x20
      loopne 1b
      cld
      hlt
    w: .word 0x10, 0x20, 0x30
    `);
    runTo(m);
    expect(g(m, Reg.RBX) & 0xffff).toBe(0x50); // 0x30 then 0x20 (ZF=1 stops the loop)
    expect(g(m, Reg.RCX) & 0xffff).toBe(1);
  });
});

describe('stack frames', () => {
  it('PUSHA/POPA round trip with the original SP pushed; ENTER with nesting; LEAVE', () => {
    const m = realMode(`
      mov ax, 1
      mov cx, 2
      mov dx, 3
      mov bx, 4
      mov bp, 5
      mov si, 6
      mov di, 7
      pusha
      mov bp, sp
      mov ax, [bp + 6]
      mov [0x3000], ax
      xor ax, ax
      xor cx, cx
      xor di, di
      popa
      mov bp, 0x6000
      enter 4, 2
      mov [0x3002], bp
      mov [0x3004], sp
      leave
      hlt
    `);
    m.cpu.state.segSel[2] = 0;
    m.cpu.state.segBase[2] = 0;
    m.mem.write16(0x6000 - 2, 0xbeef); // [BP-2] in the caller frame, copied by ENTER level 2
    m.cpu.stateChanged();
    runTo(m);
    const s = m.cpu.state;
    expect(m.mem.read16(0x3000)).toBe(0x7000); // SP before PUSHA
    expect([s.gpr[0] & 0xffff, s.gpr[1] & 0xffff, s.gpr[7] & 0xffff]).toEqual([1, 2, 7]);
    // ENTER 4,2: push BP (0x6FFE), push [BP-2] (0x6FFC), push frame (0x6FFA), SP -= 4.
    expect(m.mem.read16(0x3002)).toBe(0x7000 - 2);
    expect(m.mem.read16(0x3004)).toBe(0x7000 - 6 - 4);
    expect(m.mem.read16(0x7000 - 4)).toBe(0xbeef);
    expect(s.gpr[Reg.RSP] & 0xffff).toBe(0x7000);
    expect(s.gpr[Reg.RBP] & 0xffff).toBe(0x6000);
  });
  it('BOUND raises #BR outside the bounds', () => {
    const m = realMode(
      'xor ax, ax; mov ds, ax; mov word ptr [0x3000], 10; mov word ptr [0x3002], 20; mov ax, 15; bound ax, [0x3000]; mov ax, 21; bound ax, [0x3000]',
      { captureExceptions: true },
    );
    runTo(m, StopReason.Exception);
    expect(m.exceptions[0]).toMatchObject({ vector: 5 });
    expect(g(m, Reg.RAX) & 0xffff).toBe(21);
  });
  it('XLAT and BT with a negative register bit offset into memory', () => {
    const m = realMode(`
      xor ax, ax
      mov ds, ax
      mov bx, offset t
      mov al, 2
      xlat
      mov dl, al
      mov bx, 0x3004
      mov byte ptr [0x3003], 0x80
      mov ax, -1
      bt [bx], ax
      setc cl
      hlt
    t: .byte 5, 6, 7, 8
    `);
    runTo(m);
    expect(g(m, Reg.RDX) & 0xff).toBe(7);
    expect(g(m, Reg.RCX) & 0xff).toBe(1); // bit -1 of [0x3004] is bit 7 of [0x3003]
  });
});

describe('descriptor instructions', () => {
  it('LAR/LSL/VERR/VERW report on GDT entries; ARPL raises RPL; SLDT/STR/SMSW store', () => {
    const m = protectedMode(`
      mov ax, ${SEL.CODE3}
      lar ebx, ax
      mov [0x5008], ebx
      lsl ecx, ax
      verr ax
      setz dl
      verw ax
      setz dh
      mov ax, 0x48
      lsl esi, ax
      setz al
      movzx edi, al
      mov ax, 0x0008
      mov bx, 0x0003
      arpl ax, bx
      mov [0x5000], ax
      str word ptr [0x5002]
      sldt word ptr [0x5004]
      smsw word ptr [0x5006]
      hlt
    `);
    runTo(m);
    const s = m.cpu.state;
    // Bits 19:16 of a 32-bit LAR result are undefined (SDM LAR: masked by 00FxFF00H).
    expect(m.mem.read32(0x5008) & 0x00f0ff00).toBe(0x00c0fa00);
    expect(s.gpr[Reg.RCX]).toBe(0xffffffff);
    expect(s.gpr[Reg.RDX] & 0xffff).toBe(0x0001); // readable code: VERR yes, VERW no
    expect(s.gpr[Reg.RDI]).toBe(0); // beyond the GDT: ZF = 0
    expect(m.mem.read16(0x5000)).toBe(0x000b);
    expect(m.mem.read16(0x5002)).toBe(SEL.TSS);
    expect(m.mem.read16(0x5004)).toBe(0);
    expect(m.mem.read16(0x5006)).toBe(0x0011);
  });
  it('a data segment from the LDT loads through LLDT', () => {
    const m = protectedMode(`
      mov ax, 0x40
      lldt ax
      mov ax, 0x04 | 4
      mov es, ax
      mov eax, es:[0x10]
      hlt
    `);
    // GDT 0x40: an LDT at 0x6000 with one data descriptor (index 0 → selector 0x04), base 0x7000.
    m.mem.write32(0x800 + 0x40, (0x6000 << 16) | 0x0f);
    m.mem.write32(0x800 + 0x44, 0x00008200);
    m.mem.write32(0x6000, (0x7000 << 16) | 0xffff);
    m.mem.write32(0x6004, 0x00009200);
    m.mem.write32(0x7010, 0xcafef00d);
    m.cpu.state.dtLimit[0] = 0x47;
    m.cpu.stateChanged();
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0xcafef00d);
    expect(m.cpu.state.segSel[0]).toBe(0x04);
  });
});

describe('read-modify-write on memory', () => {
  it('ALU, INC/DEC, NOT/NEG, shifts, XADD, XCHG, CMPXCHG and BTS with memory destinations', () => {
    const m = protectedMode(`
      mov dword ptr [0x5000], 10
      add dword ptr [0x5000], 5
      lock sub dword ptr [0x5000], 1
      inc dword ptr [0x5000]
      not dword ptr [0x5004]
      neg dword ptr [0x5008]
      shl dword ptr [0x500c], 4
      mov eax, 7
      xadd [0x5010], eax
      mov ebx, 9
      xchg [0x5014], ebx
      mov eax, 0x44
      mov ecx, 0x55
      lock cmpxchg [0x5018], ecx
      setz dl
      mov eax, 0
      cmpxchg [0x5018], ecx
      mov esi, eax
      lock bts dword ptr [0x501c], 3
      setc dh
      mov edi, 0x1234
      shld [0x5020], edi, 8
      hlt
    `);
    const w = (a: number, v: number) => m.mem.write32(a, v);
    w(0x5004, 0x0f0f0f0f);
    w(0x5008, 5);
    w(0x500c, 0x10000001);
    w(0x5010, 100);
    w(0x5014, 3);
    w(0x5018, 0x44);
    w(0x501c, 0);
    w(0x5020, 0x11223344);
    runTo(m);
    const r = (a: number) => m.mem.read32(a);
    const s = m.cpu.state;
    expect(r(0x5000)).toBe(15);
    expect(r(0x5004)).toBe(0xf0f0f0f0);
    expect(r(0x5008)).toBe(0xfffffffb);
    expect(r(0x500c)).toBe(0x00000010);
    expect([r(0x5010), s.gpr[Reg.RAX] === 0x55 ? 0x55 : -1]).toEqual([107, 0x55]);
    expect([r(0x5014), s.gpr[Reg.RBX]]).toEqual([9, 3]);
    expect(r(0x5018)).toBe(0x55);
    expect(s.gpr[Reg.RDX] & 0xff).toBe(1); // first CMPXCHG matched
    expect(s.gpr[Reg.RSI]).toBe(0x55); // second one failed and loaded EAX
    expect([r(0x501c), (s.gpr[Reg.RDX] >>> 8) & 0xff]).toEqual([8, 0]);
    expect(r(0x5020)).toBe(0x22334400);
  });
});

describe('time stamp counter', () => {
  it('RDTSC advances with instructions; WRMSR 0x10 sets it', () => {
    const m = realMode(`
      rdtsc
      mov esi, eax
      nop
      nop
      rdtsc
      mov edi, eax
      mov ecx, 0x10
      mov eax, 0x1000
      xor edx, edx
      wrmsr
      rdtsc
      hlt
    `);
    runTo(m);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RDI] - s.gpr[Reg.RSI]).toBe(4); // one tick per instruction retired in between
    expect(s.gpr[Reg.RAX]).toBe(0x1001); // the written value, plus the WRMSR itself retiring
  });
});

describe('virtual-8086 mode at IOPL 3', () => {
  it('CLI/STI/PUSHF/POPF run; INT n goes to the ring-0 handler and IRET returns to v86', () => {
    const m = protectedMode(`
      push 0x0
      push 0x0
      push 0x3000
      push 0x3000
      push 0x5000
      push 0x0100
      push 0x23002    # VM, IOPL 3
      push 0x2000
      push 0x0
      iretd
      .org 0x100
    monitor:
      mov esi, [esp + 4]              # CS of the v86 caller
      add ebx, 0x100
      iretd
    `);
    setGate(m.mem, 0x30, CODE + 0x100, 0xe, 3);
    // v86 code at 0x2000:0: cli; sti; pushf; pop ax; mov bx, 1; int 0x30; inc bx; hlt → HLT at CPL 3 is #GP
    m.mem.bytes.set([0xfa, 0xfb, 0x9c, 0x58, 0xbb, 0x01, 0x00, 0xcd, 0x30, 0x43, 0xf4], 0x20000);
    m.intercepts.exceptionMask = 1 << 13;
    m.intercepts.exception = () => true;
    runTo(m, StopReason.Exception);
    const s = m.cpu.state;
    expect(s.gpr[Reg.RAX] & 0x3200).toBe(0x3200); // PUSHF saw IOPL 3 and IF
    expect(s.gpr[Reg.RSI] & 0xffff).toBe(0x2000);
    expect(s.gpr[Reg.RBX] & 0xffff).toBe(0x102); // 1, +0x100 in the monitor, +1 back in v86
    expect(s.rflags[0] & 0x20000).toBe(0x20000); // still in v86 when HLT faulted
    expect(s.segSel[3]).toBe(0x3000); // DS restored from the v86 frame
  });
});
