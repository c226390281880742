/**
 * Legacy-mode rules found wrong by external x86 test material (issue 9): the 386 forms of AAA and
 * AAS, the ESP image of PUSHAD on a 16-bit stack, POP SS switching stack size, ENTER's final
 * write check.
 */
import { describe, expect, it } from 'vitest';
import { Reg, SegAttr } from '../src/index.js';
import { realMode, runTo } from './machine.js';
import { GDT, protectedMode, SEL } from './pm.js';

describe('AAA / AAS (386 and later: AX ± 106H)', () => {
  it('AAA carries out of AL into AH: AX = 00FAH gives 0200H', () => {
    const m = realMode('mov ax, 0x00fa; aaa; hlt');
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0x0200);
    expect(m.cpu.state.rflags[0] & 0x11).toBe(0x11); // CF and AF
  });
  it('AAS borrows from AH: AL = 01H with AF set gives AH − 2', () => {
    // 0x10 − 0x0F = 0x01 with a borrow out of bit 3: AF = 1.
    const m = realMode('mov ax, 0x0510; sub al, 0x0f; aas; hlt');
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0x030b);
    expect(m.cpu.state.rflags[0] & 0x11).toBe(0x11);
  });
  it('no adjustment: AL keeps its low nibble only, CF = AF = 0', () => {
    const m = realMode('mov ax, 0x0735; add al, 0; aaa; hlt');
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX] & 0xffff).toBe(0x0705);
    expect(m.cpu.state.rflags[0] & 0x11).toBe(0);
  });
});

describe('PUSHAD on a 16-bit stack', () => {
  it('pushes the whole ESP, not SP', () => {
    const m = realMode(`
      mov esp, 0xabcd7000
      pushad
      mov bp, sp
      mov eax, [bp + 12]
      hlt
    `);
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(0xabcd7000);
    expect(m.cpu.state.gpr[Reg.RSP]).toBe(0xabcd7000 - 32);
  });
});

describe('POP SS changing the stack size', () => {
  it('advances ESP by the old (16-bit) stack size', () => {
    const m = protectedMode(`
      mov dword ptr [0xfffc], ${SEL.DATA0}
      mov esp, 0x1fffc
      pop ss
      hlt
    `);
    // A 16-bit data segment (B = 0) for the starting stack.
    m.mem.write32(GDT + 0x40, 0x0000ffff);
    m.mem.write32(GDT + 0x44, 0x00009300);
    const s = m.cpu.state;
    s.dtLimit[0] = 0x47;
    s.segSel[2] = 0x40;
    s.segBase[2] = 0;
    s.segLimit[2] = 0xffff;
    s.segAttr[2] = 3 | SegAttr.S | SegAttr.P;
    m.cpu.stateChanged();
    runTo(m);
    expect(s.segSel[2]).toBe(SEL.DATA0);
    // SP wrapped from FFFCH to 0000H; the upper half of ESP is untouched.
    expect(s.gpr[Reg.RSP]).toBe(0x00010000);
  });
});

describe('ENTER final write check', () => {
  it('at CPL 3, a frame ending in a supervisor page is #PF(U|W|P) with nothing committed', () => {
    const m = protectedMode('enter 0x20, 0; hlt', { captureExceptions: true });
    const pd = 0x3ff000;
    m.mem.write32(pd, 0x400000 | 7);
    for (let i = 0; i < 1024; i++) m.mem.write32(0x400000 + i * 4, (i * 0x1000) | 7);
    m.mem.write32(0x400000 + 8 * 4, 0x8000 | 3); // page 8000H: supervisor
    const s = m.cpu.state;
    s.cr[3] = pd;
    s.cr[0] |= 0x80000000;
    for (const r of [0, 2, 3, 4, 5]) {
      s.segSel[r] = SEL.DATA3;
      s.segAttr[r] = 3 | SegAttr.S | (3 << 5) | SegAttr.P | SegAttr.DB | SegAttr.G;
    }
    s.segSel[1] = SEL.CODE3;
    s.segAttr[1] = 0xb | SegAttr.S | (3 << 5) | SegAttr.P | SegAttr.DB | SegAttr.G;
    s.cpl = 3;
    s.gpr[Reg.RSP] = 0x9010;
    s.gpr[Reg.RBP] = 0x1234;
    m.cpu.stateChanged();
    m.cpu.run(10);
    expect(m.exceptions[0]).toEqual({ vector: 14, errorCode: 7, faultAddress: 0x8fec });
    expect(s.gpr[Reg.RSP]).toBe(0x9010);
    expect(s.gpr[Reg.RBP]).toBe(0x1234);
  });
});
