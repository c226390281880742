/** SIMD moves through `emulate()`, as KVM emulates an MMIO access made with MOVDQU/MOVDQA. */
import { describe, expect, it } from 'vitest';
import {
  CpuState,
  Cr4,
  EmulateResultKind,
  Emulator,
  Reg,
  SegAttr,
  type X86EmulateOps,
  X86EmulStatus,
} from '../src/index.js';

function flatState(): CpuState {
  const s = new CpuState();
  s.cr[0] = 0x11;
  s.cr[4] = Cr4.OSFXSR;
  for (let r = 0; r < 6; r++) {
    s.segSel[r] = r === 1 ? 8 : 0x10;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] = (r === 1 ? 0xb : 3) | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  s.rip[0] = 0x1000;
  return s;
}

function ops(
  mem: Map<number, number>,
  log: string[],
  readStatus: X86EmulStatus = X86EmulStatus.Ok,
): X86EmulateOps {
  return {
    fetch: () => X86EmulStatus.Unhandleable,
    read: (gva, data) => {
      log.push(`read ${gva.toString(16)}/${data.length}`);
      for (let i = 0; i < data.length; i++) data[i] = mem.get(gva + i) ?? 0;
      return readStatus;
    },
    write: (gva, data) => {
      log.push(`write ${gva.toString(16)}/${data.length}`);
      for (let i = 0; i < data.length; i++) mem.set(gva + i, data[i]);
      return X86EmulStatus.Ok;
    },
    cmpxchg: () => X86EmulStatus.Unhandleable,
    pioIn: () => X86EmulStatus.Unhandleable,
    pioOut: () => X86EmulStatus.Unhandleable,
  };
}

describe('emulate(): SIMD moves to and from MMIO', () => {
  const emu = new Emulator();

  it('MOVDQU xmm0, [ebx] reads 16 bytes through ops.read; MOVDQA [ebx], xmm0 writes them back', () => {
    const s = flatState();
    s.gpr[Reg.RBX] = 0xfee00010;
    const mem = new Map<number, number>();
    for (let i = 0; i < 16; i++) mem.set(0xfee00010 + i, 0xa0 + i);
    const log: string[] = [];
    const r = emu.emulate({ state: s, insnBytes: new Uint8Array([0xf3, 0x0f, 0x6f, 0x03]) }, ops(mem, log));
    expect([r.kind, r.instructionLength]).toEqual([EmulateResultKind.Ok, 4]);
    expect(Array.from(s.xmm.subarray(0, 16))).toEqual(Array.from({ length: 16 }, (_, i) => 0xa0 + i));
    expect(log.every((l) => l.startsWith('read fee000'))).toBe(true);
    s.gpr[Reg.RBX] = 0xfee00040;
    const w = emu.emulate({ state: s, insnBytes: new Uint8Array([0x66, 0x0f, 0x7f, 0x03]) }, ops(mem, log));
    expect(w.kind).toBe(EmulateResultKind.Ok);
    expect(Array.from({ length: 16 }, (_, i) => mem.get(0xfee00040 + i))).toEqual(
      Array.from({ length: 16 }, (_, i) => 0xa0 + i),
    );
  });

  it('a misaligned MOVDQA is #GP(0) before any access; a read left to userspace changes nothing', () => {
    const s = flatState();
    s.gpr[Reg.RBX] = 0xfee00008;
    const log: string[] = [];
    const r = emu.emulate(
      { state: s, insnBytes: new Uint8Array([0x66, 0x0f, 0x6f, 0x03]) },
      ops(new Map(), log),
    );
    expect([r.kind, r.vector, log.length]).toEqual([EmulateResultKind.Exception, 13, 0]);
    s.xmm.fill(0x77, 0, 16);
    const u = emu.emulate(
      { state: s, insnBytes: new Uint8Array([0xf3, 0x0f, 0x6f, 0x03]) },
      ops(new Map(), log, X86EmulStatus.Userspace),
    );
    expect(u.kind).toBe(EmulateResultKind.Userspace);
    expect(Array.from(s.xmm.subarray(0, 16))).toEqual(Array(16).fill(0x77));
    expect(s.rip[0]).toBe(0x1000);
    // The second half left to userspace: the destination keeps its low half too.
    let reads = 0;
    const second = ops(new Map(), log);
    const r2 = emu.emulate(
      { state: s, insnBytes: new Uint8Array([0xf3, 0x0f, 0x6f, 0x03]) },
      {
        ...second,
        read: (gva, data, ctx) => (++reads > 2 ? X86EmulStatus.Userspace : second.read(gva, data, ctx)),
      },
    );
    expect([r2.kind, reads]).toEqual([EmulateResultKind.Userspace, 3]);
    expect(Array.from(s.xmm.subarray(0, 16))).toEqual(Array(16).fill(0x77));
  });
});
