/**
 * The state both sides start from and end in, as plain numbers: 32-bit values, plus the high
 * halves and R8–R15 when the state is in IA-32e mode (EFER.LMA). Conversions to and from the host's `kvm_regs`/`kvm_sregs` and
 * x86emu's `CpuState` live here and nowhere else.
 */
import type { KvmRegs, KvmSegment, KvmSregs } from '@kvm/core';
import { attrIntoSegmentFields, type CpuState, segmentFieldsToAttr } from '@kvm/x86emu';
import { type FpuState, fpuFromCpu, fpuToCpu } from './fpu-state.js';

/** ES, CS, SS, DS, FS, GS, LDTR, TR: the `Seg` numbering of x86emu and the SDM's Sreg encoding. */
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldt', 'tr'] as const;
export const GPR_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
/** The 16 GPRs by REX/ModRM number (SDM Vol. 2 Table 2-2), for IA-32e states. */
export const GPR64_NAMES = [
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
const EFER_LMA = 1 << 10;

export interface SegmentState {
  sel: number;
  base: number;
  /** Byte-granular limit (already scaled by G). */
  limit: number;
  /** VMX access-rights format: type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15, unusable 16. */
  attr: number;
}

export interface MachineState {
  /** EAX…EDI by ModRM number (low halves of RAX…R15 in IA-32e mode: 16 of them). */
  gpr: number[];
  /** IA-32e mode only: the high halves of RAX…R15. */
  gprHigh?: number[];
  eip: number;
  /** IA-32e mode only: RIP bits 63:32. */
  ripHigh?: number;
  eflags: number;
  /** By `SEG_NAMES` index. */
  seg: SegmentState[];
  gdtBase: number;
  gdtLimit: number;
  idtBase: number;
  idtLimit: number;
  cr0: number;
  cr2: number;
  /** IA-32e mode only: CR2 bits 63:32 (a fault on a high-half address). */
  cr2High?: number;
  cr3: number;
  cr4: number;
  efer: number;
  /** x87/SSE state (fpu-state.ts): set and compared for the x87/SSE classes only. */
  fpu?: FpuState;
}

/** True for a state in IA-32e mode (64-bit values, 16 GPRs). */
export function isLongState(s: MachineState): boolean {
  return (s.efer & EFER_LMA) !== 0;
}

export function cloneState(s: MachineState): MachineState {
  return {
    ...s,
    gpr: [...s.gpr],
    ...(s.gprHigh ? { gprHigh: [...s.gprHigh] } : {}),
    seg: s.seg.map((x) => ({ ...x })),
    ...(s.fpu ? { fpu: { ...s.fpu, st: [...s.fpu.st], xmm: [...s.fpu.xmm] } } : {}),
  };
}

const KVM_SEG_ORDER: (keyof KvmSregs)[] = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldt', 'tr'];
const KVM_GPR_ORDER: (keyof KvmRegs)[] = [...GPR64_NAMES];

function attrToKvm(s: SegmentState, k: KvmSegment): void {
  k.base = BigInt(s.base >>> 0);
  k.limit = s.limit >>> 0;
  k.selector = s.sel;
  attrIntoSegmentFields(s.attr, k);
}

function attrFromKvm(k: KvmSegment): SegmentState {
  return {
    sel: k.selector,
    base: Number(k.base & 0xffffffffn),
    limit: k.limit >>> 0,
    attr: segmentFieldsToAttr(k),
  };
}

/** A 64-bit value from halves (once per case, not per instruction). */
function big(lo: number, hi = 0): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Writes `s` into a `kvm_regs` (upper halves and R8–R15 zero unless `s` has them). */
export function toKvmRegs(s: MachineState, regs: KvmRegs): void {
  for (let i = 0; i < 16; i++) (regs[KVM_GPR_ORDER[i]] as bigint) = big(s.gpr[i] ?? 0, s.gprHigh?.[i]);
  regs.rip = big(s.eip, s.ripHigh);
  regs.rflags = BigInt(s.eflags >>> 0);
}

/** Writes `s` into a `kvm_sregs` obtained from KVM_GET_SREGS (keeps apic base and the bitmap). */
export function toKvmSregs(s: MachineState, sregs: KvmSregs): void {
  for (let i = 0; i < 8; i++) attrToKvm(s.seg[i], sregs[KVM_SEG_ORDER[i]] as KvmSegment);
  sregs.gdt.base = BigInt(s.gdtBase >>> 0);
  sregs.gdt.limit = s.gdtLimit;
  sregs.idt.base = BigInt(s.idtBase >>> 0);
  sregs.idt.limit = s.idtLimit;
  sregs.cr0 = BigInt(s.cr0 >>> 0);
  sregs.cr2 = big(s.cr2, s.cr2High);
  sregs.cr3 = BigInt(s.cr3 >>> 0);
  sregs.cr4 = BigInt(s.cr4 >>> 0);
  sregs.efer = BigInt(s.efer >>> 0);
  sregs.interruptBitmap = [0n, 0n, 0n, 0n];
}

export function fromKvm(regs: KvmRegs, sregs: KvmSregs): MachineState {
  const lo = (v: bigint): number => Number(v & 0xffffffffn);
  const hi = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
  const long = (Number(sregs.efer & 0xffffffffn) & EFER_LMA) !== 0;
  const n = long ? 16 : 8;
  const gprs = KVM_GPR_ORDER.slice(0, n).map((k) => regs[k] as bigint);
  return {
    gpr: gprs.map(lo),
    ...(long ? { gprHigh: gprs.map(hi), ripHigh: hi(regs.rip), cr2High: hi(sregs.cr2) } : {}),
    eip: lo(regs.rip),
    eflags: lo(regs.rflags),
    seg: KVM_SEG_ORDER.map((k) => attrFromKvm(sregs[k] as KvmSegment)),
    gdtBase: lo(sregs.gdt.base),
    gdtLimit: sregs.gdt.limit,
    idtBase: lo(sregs.idt.base),
    idtLimit: sregs.idt.limit,
    cr0: lo(sregs.cr0),
    cr2: lo(sregs.cr2),
    cr3: lo(sregs.cr3),
    cr4: lo(sregs.cr4),
    efer: lo(sregs.efer),
  };
}

/** Writes `s` into x86emu's state (the caller then calls `cpu.stateChanged()`). */
export function toCpuState(s: MachineState, c: CpuState): void {
  c.reset();
  for (let i = 0; i < 16; i++) {
    c.gpr[i] = (s.gpr[i] ?? 0) >>> 0;
    c.gprHigh[i] = (s.gprHigh?.[i] ?? 0) >>> 0;
  }
  c.rip[0] = s.eip >>> 0;
  c.rip[1] = (s.ripHigh ?? 0) >>> 0;
  c.rflags[0] = s.eflags >>> 0;
  for (let i = 0; i < 8; i++) {
    c.segSel[i] = s.seg[i].sel;
    c.segBase[i] = s.seg[i].base >>> 0;
    c.segLimit[i] = s.seg[i].limit >>> 0;
    c.segAttr[i] = s.seg[i].attr >>> 0;
  }
  c.dtBase[0] = s.gdtBase >>> 0;
  c.dtLimit[0] = s.gdtLimit;
  c.dtBase[1] = s.idtBase >>> 0;
  c.dtLimit[1] = s.idtLimit;
  c.cr[0] = s.cr0 >>> 0;
  c.cr[2] = s.cr2 >>> 0;
  c.crHigh[2] = (s.cr2High ?? 0) >>> 0;
  c.cr[3] = s.cr3 >>> 0;
  c.cr[4] = s.cr4 >>> 0;
  c.efer[0] = s.efer >>> 0;
  // CPL is SS.DPL in protected mode (SDM Vol. 3 5.5; VMX keeps it there too), 0 in real mode.
  c.cpl = s.cr0 & 1 ? (s.seg[2].attr >>> 5) & 3 : 0;
  if (s.fpu) fpuToCpu(s.fpu, c);
}

/** x86emu's state as a MachineState; `withFpu`: with the x87/SSE state. */
export function fromCpuState(c: CpuState, withFpu = false): MachineState {
  const seg: SegmentState[] = [];
  for (let i = 0; i < 8; i++)
    seg.push({ sel: c.segSel[i], base: c.segBase[i], limit: c.segLimit[i], attr: c.segAttr[i] });
  const long = (c.efer[0] & EFER_LMA) !== 0;
  const n = long ? 16 : 8;
  return {
    gpr: Array.from(c.gpr.subarray(0, n)),
    ...(long
      ? { gprHigh: Array.from(c.gprHigh.subarray(0, n)), ripHigh: c.rip[1], cr2High: c.crHigh[2] }
      : {}),
    eip: c.rip[0],
    eflags: c.rflags[0],
    seg,
    gdtBase: c.dtBase[0],
    gdtLimit: c.dtLimit[0],
    idtBase: c.dtBase[1],
    idtLimit: c.dtLimit[1],
    cr0: c.cr[0],
    cr2: c.cr[2],
    cr3: c.cr[3],
    cr4: c.cr[4],
    efer: c.efer[0],
    ...(withFpu ? { fpu: fpuFromCpu(c) } : {}),
  };
}
