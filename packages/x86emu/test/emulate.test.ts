import { describe, expect, it } from 'vitest';
import { CpuState, EmulateResultKind, Emulator, Flag, Reg, SegAttr, X86EmulStatus } from '../src/index.js';
import { fakeOps } from './emulate-ops.js';

/** A flat 32-bit protected-mode state at CPL 0. */
function flatState(): CpuState {
  const s = new CpuState();
  s.cr[0] = 0x11;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] = (r === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  s.rip[0] = 0x1000;
  return s;
}

describe('emulate()', () => {
  const emu = new Emulator();

  it('a store to MMIO goes to ops.write at the linear address; RIP advances by the length', () => {
    const s = flatState();
    s.gpr[Reg.RBX] = 0xfee00000;
    s.gpr[Reg.RAX] = 0x11223344;
    const { ops, mem, log } = fakeOps();
    const r = emu.emulate({ state: s, insnBytes: new Uint8Array([0x89, 0x43, 0x04]) }, ops);
    expect(r.kind).toBe(EmulateResultKind.Ok);
    expect(r.instructionLength).toBe(3);
    expect(s.rip[0]).toBe(0x1003);
    expect(log).toEqual(['write fee00004/4']);
    expect(mem.get(0xfee00004)).toBe(0x44);
  });

  it('fetches the bytes it was not given through ops.fetch', () => {
    const s = flatState();
    const { ops, mem, log } = fakeOps();
    for (const [i, b] of [0x8b, 0x43, 0x04].entries()) mem.set(0x1000 + i, b);
    const r = emu.emulate({ state: s, insnBytes: new Uint8Array([0x8b]) }, ops);
    expect(r.kind).toBe(EmulateResultKind.Ok);
    expect(log).toEqual(['fetch 1001', 'fetch 1002', 'read 4/4']);
  });

  it('Userspace leaves the state untouched; the retry completes', () => {
    const s = flatState();
    s.gpr[Reg.RAX] = 7;
    let ready = false;
    const { ops } = fakeOps({
      read: (_gva, data) => {
        if (!ready) return X86EmulStatus.Userspace;
        data.set([0xef, 0xbe, 0xad, 0xde]);
        return X86EmulStatus.Ok;
      },
    });
    const insn = new Uint8Array([0xa1, 0x00, 0x00, 0xc0, 0xfe]); // mov eax, [0xfec00000]
    expect(emu.emulate({ state: s, insnBytes: insn }, ops).kind).toBe(EmulateResultKind.Userspace);
    expect([s.gpr[Reg.RAX], s.rip[0]]).toEqual([7, 0x1000]);
    ready = true;
    expect(emu.emulate({ state: s, insnBytes: insn }, ops).kind).toBe(EmulateResultKind.Ok);
    expect([s.gpr[Reg.RAX], s.rip[0]]).toEqual([0xdeadbeef, 0x1005]);
  });

  it('an op that raises #PF gives an Exception result with the address; RIP stays', () => {
    const s = flatState();
    const { ops } = fakeOps({
      write: (gva, _data, ctx) => {
        ctx.raise(14, 2, true, gva);
        return X86EmulStatus.Exception;
      },
    });
    const r = emu.emulate(
      { state: s, insnBytes: new Uint8Array([0xc7, 0x05, 0, 0x20, 0, 0, 1, 0, 0, 0]) },
      ops,
    );
    expect([r.kind, r.vector, r.errorCode, r.faultAddress]).toEqual([
      EmulateResultKind.Exception,
      14,
      2,
      0x2000,
    ]);
    expect(s.rip[0]).toBe(0x1000);
  });

  it('segmentation is applied before the ops: a limit violation is #GP(0) without any access', () => {
    const s = flatState();
    s.segLimit[3] = 0xfff;
    s.segAttr[3] &= ~SegAttr.G;
    const { ops, log } = fakeOps();
    const r = emu.emulate({ state: s, insnBytes: new Uint8Array([0x8b, 0x05, 0, 0x10, 0, 0]) }, ops);
    expect([r.kind, r.vector, r.errorCode]).toEqual([EmulateResultKind.Exception, 13, 0]);
    expect(log).toEqual([]);
  });

  it('CMPXCHG8B compares EDX:EAX through ops.cmpxchg atomically', () => {
    const s = flatState();
    const { ops, mem, log } = fakeOps();
    for (const [i, b] of [1, 0, 0, 0, 2, 0, 0, 0].entries()) mem.set(0x3000 + i, b);
    s.gpr[Reg.RAX] = 1;
    s.gpr[Reg.RDX] = 2;
    s.gpr[Reg.RBX] = 0xaa;
    s.gpr[Reg.RCX] = 0xbb;
    s.gpr[Reg.RDI] = 0x3000;
    const insn = new Uint8Array([0x0f, 0xc7, 0x0f]); // cmpxchg8b [edi]
    expect(emu.emulate({ state: s, insnBytes: insn }, ops).kind).toBe(EmulateResultKind.Ok);
    expect(log).toEqual(['cmpxchg 3000/8']);
    expect(s.rflags[0] & Flag.ZF).toBe(Flag.ZF);
    expect([mem.get(0x3000), mem.get(0x3004)]).toEqual([0xaa, 0xbb]);
    s.rip[0] = 0x1000;
    s.gpr[Reg.RAX] = 1;
    expect(emu.emulate({ state: s, insnBytes: insn }, ops).kind).toBe(EmulateResultKind.Ok);
    expect(s.rflags[0] & Flag.ZF).toBe(0);
    expect([s.gpr[Reg.RAX], s.gpr[Reg.RDX]]).toEqual([0xaa, 0xbb]);
  });

  it('port I/O goes to pioIn/pioOut; Unhandleable leaves the state', () => {
    const s = flatState();
    s.gpr[Reg.RAX] = 0x41;
    s.gpr[Reg.RDX] = 0x3f8;
    const { ops, log } = fakeOps();
    emu.emulate({ state: s, insnBytes: new Uint8Array([0xee]) }, ops);
    emu.emulate({ state: s, insnBytes: new Uint8Array([0xec]) }, ops);
    expect(log).toEqual(['out 3f8/1=41', 'in 3f8/1']);
    expect(s.gpr[Reg.RAX] & 0xff).toBe(0x5a);
    const before = s.rip[0];
    const bad = fakeOps({ pioIn: () => X86EmulStatus.Unhandleable });
    expect(emu.emulate({ state: s, insnBytes: new Uint8Array([0xec]) }, bad.ops).kind).toBe(
      EmulateResultKind.Unhandleable,
    );
    expect(s.rip[0]).toBe(before);
  });

  it('an undefined opcode is #UD', () => {
    const r = emu.emulate({ state: flatState(), insnBytes: new Uint8Array([0x0f, 0xff]) }, fakeOps().ops);
    expect([r.kind, r.vector]).toEqual([EmulateResultKind.Exception, 6]);
  });
});

describe('emulate() with LOCK', () => {
  it('a locked read-modify-write commits through cmpxchg, and retries when memory changed', () => {
    const emu = new Emulator();
    const s = flatState();
    s.gpr[Reg.RDI] = 0x4000;
    let raced = false;
    const f = fakeOps();
    const base = f.ops.cmpxchg;
    f.ops.cmpxchg = (gva, e, r, ctx) => {
      if (!raced) {
        // Another vCPU sets bit 4 between our read and our compare-exchange.
        raced = true;
        f.mem.set(0x4000, (f.mem.get(0x4000) ?? 0) | 0x10);
      }
      return base(gva, e, r, ctx);
    };
    f.mem.set(0x4000, 0x01);
    const r = emu.emulate({ state: s, insnBytes: new Uint8Array([0xf0, 0x83, 0x0f, 0x02]) }, f.ops); // lock or dword [edi], 2
    expect(r.kind).toBe(EmulateResultKind.Ok);
    expect(f.mem.get(0x4000)).toBe(0x13);
    expect(f.log.filter((l) => l.startsWith('cmpxchg')).length).toBe(2);
    expect(s.rip[0]).toBe(0x1004);
  });
});

describe('emulate() with REP', () => {
  it('does one iteration per call: RCX/RDI advance, RIP stays until the last', () => {
    const emu = new Emulator();
    const s = flatState();
    s.gpr[Reg.RCX] = 3;
    s.gpr[Reg.RDI] = 0xfee00000;
    s.gpr[Reg.RAX] = 0x55;
    const { ops, log } = fakeOps();
    const insn = new Uint8Array([0xf3, 0xaa]); // rep stosb
    for (let k = 0; k < 3; k++) {
      expect(emu.emulate({ state: s, insnBytes: insn }, ops).kind).toBe(EmulateResultKind.Ok);
      if (k < 2) expect(s.rip[0]).toBe(0x1000);
    }
    expect(log).toEqual(['write fee00000/1', 'write fee00001/1', 'write fee00002/1']);
    expect([s.gpr[Reg.RCX], s.rip[0]]).toEqual([0, 0x1002]);
  });
});
