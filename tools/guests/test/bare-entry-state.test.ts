/**
 * The loader entry state (kvm_regs / kvm_sregs) into x86emu's CpuState and back: the hidden
 * segment parts must survive bit for bit, and CPL must follow SS.DPL as VMX keeps it.
 */
import { CpuState, Reg, Seg, SegAttr } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { applyEntryState, attrToSegment, segmentToAttr, stateToSregs } from '../src/bare/entry-state.js';

describe('bare entry state', () => {
  it('maps every kvm_segment field to the VMX access-rights bit and back', () => {
    for (const attr of [
      0x9b | SegAttr.G | SegAttr.DB,
      0x93,
      0xf3 | SegAttr.AVL,
      0x8b,
      SegAttr.UNUSABLE,
      0x2000 | 0x9b,
    ]) {
      const seg = attrToSegment(0x10, 0x12345000n, 0xfffff, attr);
      expect(segmentToAttr(seg)).toBe(attr);
    }
  });

  it('applies multiboot-style protected mode from the reset state: segments, GDTR, CR0, registers, CPL 0', () => {
    const s = new CpuState();
    const reset = stateToSregs(s);
    expect(reset.cs.selector).toBe(0xf000);
    expect(reset.cs.base).toBe(0xffff0000n);
    const code = attrToSegment(0x10, 0n, 0xffffffff, 0x9b | SegAttr.DB | SegAttr.G);
    const data = attrToSegment(0x18, 0n, 0xffffffff, 0x93 | SegAttr.DB | SegAttr.G);
    applyEntryState(
      s,
      {
        ...reset,
        cs: code,
        ds: data,
        es: data,
        fs: data,
        gs: data,
        ss: data,
        gdt: { base: 0x500n, limit: 31 },
        cr0: 0x11n,
      },
      { rax: 0x2badb002n, rbx: 0x1000n, rip: 0x100000n, rflags: 2n },
    );
    expect(s.segSel[Seg.CS]).toBe(0x10);
    expect(s.segAttr[Seg.CS]).toBe(0x9b | SegAttr.DB | SegAttr.G);
    expect(s.segLimit[Seg.SS]).toBe(0xffffffff);
    expect(s.segBase[Seg.CS]).toBe(0);
    expect(s.dtBase[0]).toBe(0x500);
    expect(s.dtLimit[0]).toBe(31);
    expect(s.cr[0]).toBe(0x11);
    expect(s.gpr[Reg.RAX]).toBe(0x2badb002);
    expect(s.gpr[Reg.RBX]).toBe(0x1000);
    expect(s.gpr[Reg.RDX]).toBe(0x633); // not in regs: kept from reset, as KVM_SET_REGS after a merge
    expect(s.rip[0]).toBe(0x100000);
    expect(s.cpl).toBe(0);
    expect(stateToSregs(s).ss).toEqual(data);
  });

  it('takes CPL from SS.DPL in protected mode, and 0 in real mode', () => {
    const s = new CpuState();
    const reset = stateToSregs(s);
    const ss3 = attrToSegment(0x2b, 0n, 0xffffffff, 0xf3 | SegAttr.DB | SegAttr.G);
    applyEntryState(s, { ...reset, ss: ss3, cr0: 0x11n }, {});
    expect(s.cpl).toBe(3);
    applyEntryState(s, { ...reset, ss: ss3, cr0: 0x10n }, {});
    expect(s.cpl).toBe(0);
  });

  it('carries 64-bit values in both halves: Linux’s 64-bit entry (EFER.LMA, CS.L, R8–R15, a high RIP)', () => {
    const s = new CpuState();
    const reset = stateToSregs(s);
    const code64 = attrToSegment(0x10, 0n, 0xffffffff, 0x9b | SegAttr.L | SegAttr.G);
    const fs = attrToSegment(0, 0xffff8880_00001000n, 0xffff, 0x93);
    applyEntryState(
      s,
      {
        ...reset,
        cs: code64,
        fs,
        gdt: { base: 0xfffffe00_00001000n, limit: 63 },
        cr0: 0x80000011n,
        cr3: 0x1_2345_6000n,
        cr4: 0x20n,
        efer: 0xd00n,
      },
      { rsi: 0x8000n, r15: 0x01234567_89abcdefn, rip: 0xffffffff_81000000n },
    );
    expect(s.segBaseHigh[Seg.FS]).toBe(0xffff8880);
    expect(s.dtBaseHigh[0]).toBe(0xfffffe00);
    expect(s.crHigh[3]).toBe(1);
    expect(s.efer[0]).toBe(0xd00);
    expect(s.gpr[Reg.R15]).toBe(0x89abcdef);
    expect(s.gprHigh[Reg.R15]).toBe(0x01234567);
    expect([s.rip[0], s.rip[1]]).toEqual([0x81000000, 0xffffffff]);
    const back = stateToSregs(s);
    expect(back.fs).toEqual(fs);
    expect(back.cs.l).toBe(1);
    expect(back.gdt.base).toBe(0xfffffe00_00001000n);
    expect(back.cr3).toBe(0x1_2345_6000n);
    expect(back.efer).toBe(0xd00n);
  });
});
