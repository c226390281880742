// A loader's entry state (KVM's `kvm_regs` / `kvm_sregs`, as qemu-lite's loaders return it)
// moved into an x86emu `CpuState`, 64-bit halves included, and the CPU's reset state moved the
// other way (a loader's `sregs(reset)` starts from what KVM_GET_SREGS returns after vCPU
// creation). tools/guests/src/bare/entry-state.ts does the same for 32-bit guests only; Linux's
// 64-bit entry (boot.rst, "64-bit Boot Protocol") needs EFER.LMA, CS.L and 64-bit registers.
//
// `kvm_segment` has one field per descriptor bit, x86emu keeps the VMX access-rights word (SDM
// Vol. 3 Table 25-2), so the mapping is bit for bit.

import { Seg, SegAttr } from '../../../packages/x86emu/dist/index.js';

const SEGMENTS = [
  ['es', Seg.ES],
  ['cs', Seg.CS],
  ['ss', Seg.SS],
  ['ds', Seg.DS],
  ['fs', Seg.FS],
  ['gs', Seg.GS],
  ['ldt', Seg.LDTR],
  ['tr', Seg.TR],
];

/** The `kvm_regs` fields in ModRM register order (x86emu's `Reg`). */
const GPRS = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];

const lo = (v) => Number(BigInt.asUintN(32, v));
const hi = (v) => Number(BigInt.asUintN(32, v >> 32n));
const u64 = (low, high) => (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);

function segmentToAttr(s) {
  return (
    (s.type & SegAttr.TYPE_MASK) |
    (s.s ? SegAttr.S : 0) |
    ((s.dpl & 3) << SegAttr.DPL_SHIFT) |
    (s.present ? SegAttr.P : 0) |
    (s.avl ? SegAttr.AVL : 0) |
    (s.l ? SegAttr.L : 0) |
    (s.db ? SegAttr.DB : 0) |
    (s.g ? SegAttr.G : 0) |
    (s.unusable ? SegAttr.UNUSABLE : 0)
  );
}

function attrToSegment(selector, base, limit, a) {
  return {
    base,
    limit: limit >>> 0,
    selector,
    type: a & SegAttr.TYPE_MASK,
    s: a & SegAttr.S ? 1 : 0,
    dpl: (a & SegAttr.DPL_MASK) >>> SegAttr.DPL_SHIFT,
    present: a & SegAttr.P ? 1 : 0,
    avl: a & SegAttr.AVL ? 1 : 0,
    l: a & SegAttr.L ? 1 : 0,
    db: a & SegAttr.DB ? 1 : 0,
    g: a & SegAttr.G ? 1 : 0,
    unusable: a & SegAttr.UNUSABLE ? 1 : 0,
  };
}

/** The CPU's current special registers as `kvm_sregs` (what KVM_GET_SREGS returns). */
export function stateToSregs(s) {
  const seg = (i) =>
    attrToSegment(s.segSel[i], u64(s.segBase[i], s.segBaseHigh[i]), s.segLimit[i], s.segAttr[i]);
  const sregs = {
    gdt: { base: u64(s.dtBase[0], s.dtBaseHigh[0]), limit: s.dtLimit[0] },
    idt: { base: u64(s.dtBase[1], s.dtBaseHigh[1]), limit: s.dtLimit[1] },
    cr0: u64(s.cr[0], s.crHigh[0]),
    cr2: u64(s.cr[2], s.crHigh[2]),
    cr3: u64(s.cr[3], s.crHigh[3]),
    cr4: u64(s.cr[4], s.crHigh[4]),
    cr8: u64(s.cr[8], s.crHigh[8]),
    efer: u64(s.efer[0], s.efer[1]),
    apicBase: 0n,
    interruptBitmap: [0n, 0n, 0n, 0n],
  };
  for (const [name, i] of SEGMENTS) sregs[name] = seg(i);
  return sregs;
}

/**
 * Installs `sregs` and `regs` (merged over the CPU's current registers, as qemu-lite merges a
 * loader's `regs` over KVM_GET_REGS). Runs `cpu.stateChanged()`.
 */
export function applyEntryState(cpu, sregs, regs) {
  const s = cpu.state;
  for (const [name, i] of SEGMENTS) {
    const v = sregs[name];
    s.segSel[i] = v.selector;
    s.segBase[i] = lo(v.base);
    s.segBaseHigh[i] = hi(v.base);
    s.segLimit[i] = v.limit >>> 0;
    s.segAttr[i] = segmentToAttr(v);
  }
  for (const [i, dt] of [sregs.gdt, sregs.idt].entries()) {
    s.dtBase[i] = lo(dt.base);
    s.dtBaseHigh[i] = hi(dt.base);
    s.dtLimit[i] = dt.limit;
  }
  for (const [i, v] of [
    [0, sregs.cr0],
    [2, sregs.cr2],
    [3, sregs.cr3],
    [4, sregs.cr4],
    [8, sregs.cr8],
  ]) {
    s.cr[i] = lo(v);
    s.crHigh[i] = hi(v);
  }
  s.efer[0] = lo(sregs.efer);
  s.efer[1] = hi(sregs.efer);
  GPRS.forEach((name, i) => {
    const v = regs[name];
    if (v === undefined) return;
    s.gpr[i] = lo(v);
    s.gprHigh[i] = hi(v);
  });
  if (regs.rip !== undefined) {
    s.rip[0] = lo(regs.rip);
    s.rip[1] = hi(regs.rip);
  }
  if (regs.rflags !== undefined) s.rflags[0] = lo(regs.rflags);
  // CPL is SS.DPL in protected mode (as VMX keeps it); both Linux entries run at CPL 0.
  s.cpl = (s.segAttr[Seg.SS] & SegAttr.DPL_MASK) >>> SegAttr.DPL_SHIFT;
  s.halted = false;
  s.interruptibility = 0;
  s.pendingType = -1;
  cpu.stateChanged();
}
