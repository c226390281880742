/**
 * The loader's entry state (KVM's `kvm_regs` / `kvm_sregs`, as qemu-lite's loaders return it)
 * moved into an x86emu `CpuState`, and the CPU's reset state moved the other way (a loader's
 * `sregs(reset)` starts from what KVM_GET_SREGS would return after vCPU creation).
 *
 * Both formats describe the same hidden segment state (SDM Vol. 3 3.4.3): `kvm_segment` has
 * one field per descriptor bit, x86emu keeps the VMX access-rights word (SDM Vol. 3 Table
 * 25-2), so the mapping is bit for bit. 64-bit values travel as x86emu keeps them, in two
 * 32-bit halves: Linux's 64-bit entry (boot.rst, "64-bit Boot Protocol", tools/linux/bare) needs
 * EFER.LMA, CS.L and 64-bit registers.
 */
import { attrToSegmentFields, type CpuState, Seg, SegAttr, segmentFieldsToAttr } from '@kvm/x86emu';
import type { LoadedEntry } from 'qemu-lite';

/** `kvm_sregs` and friends, as the loader contract names them (no direct @kvm/core import). */
export type KvmSregs = Parameters<LoadedEntry['sregs']>[0];
export type KvmSegment = KvmSregs['cs'];
export type KvmRegsPartial = LoadedEntry['regs'];

const CR0_PE = 1;
const RFLAGS_VM = 1 << 17;

const lo32 = (v: bigint): number => Number(v & 0xffffffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
const u64 = (low: number, high: number): bigint => (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);

/** The `kvm_sregs` segment fields in x86emu's `Seg` order. */
const SEGMENTS: readonly [
  keyof KvmSregs & ('es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | 'ldt' | 'tr'),
  number,
][] = [
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
] as const;

/** A `kvm_segment`'s access rights as x86emu keeps them (one mapping, in x86emu). */
export const segmentToAttr: (s: KvmSegment) => number = segmentFieldsToAttr;

export function attrToSegment(selector: number, base: bigint, limit: number, a: number): KvmSegment {
  return { base, limit: limit >>> 0, selector, ...attrToSegmentFields(a) };
}

/** The CPU's current special registers as `kvm_sregs` (what KVM_GET_SREGS returns). */
export function stateToSregs(s: CpuState): KvmSregs {
  const seg = (i: number): KvmSegment =>
    attrToSegment(s.segSel[i], u64(s.segBase[i], s.segBaseHigh[i]), s.segLimit[i], s.segAttr[i]);
  return {
    es: seg(Seg.ES),
    cs: seg(Seg.CS),
    ss: seg(Seg.SS),
    ds: seg(Seg.DS),
    fs: seg(Seg.FS),
    gs: seg(Seg.GS),
    ldt: seg(Seg.LDTR),
    tr: seg(Seg.TR),
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
}

/**
 * Installs `sregs` and `regs` (merged over the CPU's current registers, as qemu-lite merges a
 * loader's `regs` over KVM_GET_REGS). The caller runs `cpu.stateChanged()` afterwards.
 */
export function applyEntryState(s: CpuState, sregs: KvmSregs, regs: KvmRegsPartial): void {
  for (const [field, i] of SEGMENTS) {
    const v = sregs[field];
    s.segSel[i] = v.selector;
    s.segBase[i] = lo32(v.base);
    s.segBaseHigh[i] = hi32(v.base);
    s.segLimit[i] = v.limit >>> 0;
    s.segAttr[i] = segmentToAttr(v);
  }
  for (const [i, dt] of [sregs.gdt, sregs.idt].entries()) {
    s.dtBase[i] = lo32(dt.base);
    s.dtBaseHigh[i] = hi32(dt.base);
    s.dtLimit[i] = dt.limit;
  }
  for (const [i, v] of [
    [0, sregs.cr0],
    [2, sregs.cr2],
    [3, sregs.cr3],
    [4, sregs.cr4],
    [8, sregs.cr8],
  ] as const) {
    s.cr[i] = lo32(v);
    s.crHigh[i] = hi32(v);
  }
  s.efer[0] = lo32(sregs.efer);
  s.efer[1] = hi32(sregs.efer);
  GPRS.forEach((name, i) => {
    const v = regs[name];
    if (v === undefined) return;
    s.gpr[i] = lo32(v);
    s.gprHigh[i] = hi32(v);
  });
  if (regs.rip !== undefined) {
    s.rip[0] = lo32(regs.rip);
    s.rip[1] = hi32(regs.rip);
  }
  if (regs.rflags !== undefined) s.rflags[0] = lo32(regs.rflags);
  // CPL is SS.DPL in protected mode (as VMX keeps it), 3 in virtual-8086 mode, 0 in real mode.
  s.cpl =
    s.rflags[0] & RFLAGS_VM
      ? 3
      : s.cr[0] & CR0_PE
        ? (s.segAttr[Seg.SS] & SegAttr.DPL_MASK) >>> SegAttr.DPL_SHIFT
        : 0;
  s.halted = false;
  s.interruptibility = 0;
  s.pendingType = -1;
}
