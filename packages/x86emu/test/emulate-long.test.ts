/**
 * emulate() in 64-bit mode (issue 10): what the hypervisor does on an MMIO or page-table-write
 * exit of a 64-bit guest. Linear addresses reach the ops folded to 48 bits (the canonical address
 * without bits 63:48), as everywhere in x86emu.
 */
import { describe, expect, it } from 'vitest';
import { CpuState, EmulateResultKind, Emulator, Reg, SegAttr } from '../src/index.js';
import { fakeOps } from './emulate-ops.js';

/** A 64-bit-mode state at CPL 0, RIP = 0xFFFF_8000_0000_1000 (a kernel address). */
function longState(): CpuState {
  const s = new CpuState();
  s.cr[0] = 0x80000011;
  s.cr[4] = 0x20;
  s.efer[0] = 0x500;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] =
      r === 1
        ? 0xb | SegAttr.S | SegAttr.P | SegAttr.L | SegAttr.G
        : 3 | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  s.rip[0] = 0x1000;
  s.rip[1] = 0xffff8000;
  return s;
}

describe('emulate() in 64-bit mode', () => {
  const emu = new Emulator();

  it('MOV [RIP + disp], RAX at a kernel RIP: an 8-byte store at the 48-bit linear address', () => {
    const s = longState();
    s.gpr[Reg.RAX] = 0x55667788;
    s.gprHigh[Reg.RAX] = 0x11223344;
    const { ops, mem, log } = fakeOps();
    const insn = new Uint8Array([0x48, 0x89, 0x05, 0x00, 0x01, 0x00, 0x00]); // mov [rip+0x100], rax
    const r = emu.emulate({ state: s, insnBytes: insn }, ops);
    expect(r.kind).toBe(EmulateResultKind.Ok);
    expect(r.instructionLength).toBe(7);
    const target = 0x8000_0000_1107; // 0xFFFF_8000_0000_1107 folded to 48 bits
    expect(log.filter((l) => l.startsWith('write')).length).toBeGreaterThan(0);
    expect(mem.get(target)).toBe(0x88);
    expect(mem.get(target + 7)).toBe(0x11);
    expect([s.rip[0], s.rip[1]]).toEqual([0x1007, 0xffff8000]);
  });

  it('MOV R9, [RBX] loads 8 bytes; MOV EAX, [RBX] zero-extends RAX', () => {
    const s = longState();
    s.gpr[Reg.RBX] = 0x2000;
    s.gprHigh[Reg.RAX] = 0xdead;
    const { ops, mem } = fakeOps();
    for (let i = 0; i < 8; i++) mem.set(0x2000 + i, i + 1);
    let r = emu.emulate({ state: s, insnBytes: new Uint8Array([0x4c, 0x8b, 0x0b]) }, ops);
    expect(r.kind).toBe(EmulateResultKind.Ok);
    expect([s.gpr[Reg.R9], s.gprHigh[Reg.R9]]).toEqual([0x04030201, 0x08070605]);
    r = emu.emulate({ state: s, insnBytes: new Uint8Array([0x8b, 0x03]) }, ops);
    expect([s.gpr[Reg.RAX], s.gprHigh[Reg.RAX]]).toEqual([0x04030201, 0]);
  });

  it('LOCK ADD qword goes through an 8-byte cmpxchg; a non-canonical address is #GP(0) with RIP kept', () => {
    const s = longState();
    s.gpr[Reg.RDI] = 0x3000;
    s.gpr[Reg.RAX] = 1;
    const { ops, mem, log } = fakeOps();
    mem.set(0x3000, 0xff);
    mem.set(0x3001, 0xff);
    mem.set(0x3002, 0xff);
    mem.set(0x3003, 0xff);
    let r = emu.emulate({ state: s, insnBytes: new Uint8Array([0xf0, 0x48, 0x01, 0x07]) }, ops);
    expect(r.kind).toBe(EmulateResultKind.Ok);
    expect(log).toContain('cmpxchg 3000/8');
    expect(mem.get(0x3004)).toBe(1); // the carry reached the upper dword
    s.gprHigh[Reg.RDI] = 0x8000; // non-canonical
    r = emu.emulate({ state: s, insnBytes: new Uint8Array([0x48, 0x8b, 0x07]) }, ops);
    expect(r.kind).toBe(EmulateResultKind.Exception);
    expect([r.vector, r.errorCode]).toEqual([13, 0]);
    expect([s.rip[0], s.rip[1]]).toEqual([0x1004, 0xffff8000]);
  });
});
