/**
 * Comparing the two sides' outcomes: how they stopped, general registers, EIP, EFLAGS (minus the
 * undefined flags), segment registers (attributes only in protected mode: real-mode hidden
 * attributes are not architecturally visible), descriptor tables, CR0/CR2/CR3/CR4, EFER, port I/O
 * and every byte of RAM. An exception shows as a halt in its stub (the vector), with the frame
 * (error code, faulting CS:EIP, EFLAGS) in the RAM compared.
 */

import { compareFpu } from './fpu-state.js';
import { STUBS as STUB_BASE } from './layout.js';
import { STUBS64 } from './layout64.js';
import { GPR_NAMES, GPR64_NAMES, isLongState, type MachineState, SEG_NAMES } from './machine-state.js';
import type { Outcome } from './outcome.js';
import { hostKvmFlavor } from './referee.js';

export interface Difference {
  /** Category used for known-mismatch signatures: stop, eip, gpr, eflags, seg, dt, cr, io, memory, crash. */
  category: string;
  /** Field name (`eax`, `cs.base`, `ram[0x2fef4..0x2fef7]`…). */
  field: string;
  host: string;
  emu: string;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
const PVM_HOST = hostKvmFlavor() === 'kvm-pvm';
const hex64 = (lo: number, hi = 0): string =>
  hi ? `0x${(hi >>> 0).toString(16)}${(lo >>> 0).toString(16).padStart(8, '0')}` : hex(lo);

/** Vectors that push an error code (SDM Vol. 3 Table 6-1; #CP 21 exists only in IA-32e terms here). */
const ERROR_CODE_VECTORS = [8, 10, 11, 12, 13, 14, 17, 21];

/**
 * The exception a final state shows: the vector its halt address names, and where its frame is.
 * Legacy modes: [error code,] EIP, CS, EFLAGS (2 or 4 bytes each); IA-32e: [error code,] RIP, CS,
 * RFLAGS, RSP, SS, 8 bytes each (SDM Vol. 3 6.14.2), on the TSS's RSP0 stack.
 */
export function stubFrame(
  o: Outcome,
): { vector: number; sp: number; width: number; hasError: boolean } | null {
  const s = o.state;
  if (o.kind !== 'hlt') return null;
  const long = isLongState(s);
  const vector = ((s.seg[1].base + s.eip) >>> 0) - 1 - (long ? STUBS64 : STUB_BASE);
  if (vector < 0 || vector > 255 || (long && (s.ripHigh ?? 0) !== 0)) return null;
  const pm = (s.cr0 & 1) !== 0;
  const sp = long
    ? s.gpr[4]
    : (s.seg[2].base + (s.seg[2].attr & (1 << 14) ? s.gpr[4] : s.gpr[4] & 0xffff)) >>> 0;
  return { vector, sp, width: long ? 8 : pm ? 4 : 2, hasError: pm && ERROR_CODE_VECTORS.includes(vector) };
}

/** An IA-32e exception frame as a side pushed it on the RSP0 stack (SDM Vol. 3 6.14.2). */
export interface ExceptionFrame {
  vector: number;
  /** The error code, for the vectors that push one. */
  error?: number;
  /** The faulting (or, for a trap, the next) RIP, as two 32-bit halves. */
  rip: number;
  ripHigh: number;
  cs: number;
  rflags: number;
  /** The interrupted RSP (the user stack at CPL 3). */
  rsp: number;
  rspHigh: number;
  ss: number;
}

/** The IA-32e exception frame of an outcome halted in a stub, or null (legacy modes: null). */
export function exceptionFrame(o: Outcome): ExceptionFrame | null {
  const f = stubFrame(o);
  if (f?.width !== 8) return null;
  const at = f.sp + (f.hasError ? 8 : 0);
  const q = (k: number): number => readLe(o.ram, at + 8 * k, 4);
  const qh = (k: number): number => readLe(o.ram, at + 8 * k + 4, 4);
  return {
    vector: f.vector,
    ...(f.hasError ? { error: readLe(o.ram, f.sp, 4) } : {}),
    rip: q(0),
    ripHigh: qh(0),
    cs: q(1) & 0xffff,
    rflags: q(2),
    rsp: q(3),
    rspHigh: qh(3),
    ss: q(4) & 0xffff,
  };
}

export function compareOutcomes(host: Outcome, emu: Outcome, flagMask: number): Difference[] {
  const d: Difference[] = [];
  if (emu.kind === 'crash') {
    d.push({ category: 'crash', field: 'x86emu', host: host.kind, emu: emu.detail ?? 'crash' });
    return d;
  }
  if (emu.kind === 'budget') {
    d.push({ category: 'budget', field: 'x86emu budget', host: host.kind, emu: emu.detail ?? 'budget' });
    return d;
  }
  if (host.kind !== emu.kind) {
    d.push({ category: 'stop', field: 'stop', host: host.kind, emu: emu.kind });
    return d;
  }
  // Both ran away or shut down: the final states are not comparable (KVM resets on shutdown).
  if (host.kind !== 'hlt') return d;
  const h = host.state;
  const e = emu.state;
  if (h.eip !== e.eip || (h.ripHigh ?? 0) !== (e.ripHigh ?? 0))
    d.push({ category: 'eip', field: 'rip', host: hex64(h.eip, h.ripHigh), emu: hex64(e.eip, e.ripHigh) });
  const long = isLongState(h) || isLongState(e);
  for (let i = 0; i < (long ? 16 : 8); i++) {
    const hh = h.gprHigh?.[i] ?? 0;
    const eh = e.gprHigh?.[i] ?? 0;
    if ((h.gpr[i] ?? 0) !== (e.gpr[i] ?? 0) || hh !== eh)
      d.push({
        category: 'gpr',
        field: long ? GPR64_NAMES[i] : GPR_NAMES[i],
        host: long ? hex64(h.gpr[i] ?? 0, hh) : hex(h.gpr[i]),
        emu: long ? hex64(e.gpr[i] ?? 0, eh) : hex(e.gpr[i]),
      });
  }
  const keep = ~flagMask;
  if ((h.eflags & keep) !== (e.eflags & keep)) {
    d.push({
      category: 'eflags',
      field: `eflags (${flagNames((h.eflags ^ e.eflags) & keep)} differ)`,
      host: hex(h.eflags),
      emu: hex(e.eflags),
    });
  }
  const pm = (h.cr0 & 1) !== 0 && (e.cr0 & 1) !== 0;
  for (let i = 0; i < 8; i++) {
    const a = h.seg[i];
    const b = e.seg[i];
    const n = SEG_NAMES[i];
    // LDTR/TR are only compared in protected mode (real mode cannot change them).
    if (i >= 6 && !pm) continue;
    // kvm-pvm does not keep the data segment selectors of CPL-3 code: FS/GS reads there return
    // the host CPU's leftovers, and KVM_GET_SREGS shows ES/DS/FS/GS null after a load (measured:
    // LFS of 0x33, MOV DS of 0x2B); only the bases are the guest's.
    if (long && PVM_HOST && (i === 0 || i === 3 || i === 4 || i === 5)) {
      if (a.base !== b.base)
        d.push({ category: 'seg', field: `${n}.base`, host: hex(a.base), emu: hex(b.base) });
      continue;
    }
    if (a.sel !== b.sel) d.push({ category: 'seg', field: `${n}.sel`, host: hex(a.sel), emu: hex(b.sel) });
    if (a.base !== b.base)
      d.push({ category: 'seg', field: `${n}.base`, host: hex(a.base), emu: hex(b.base) });
    // A null data or stack selector in IA-32e mode (SS holds one after an event delivered to
    // CPL 0, SDM Vol. 3 6.14.4): its hidden limit and attributes are not visible (KVM reports
    // SS attributes 0, x86emu "unusable"); the base still is (FS/GS bases).
    const nullLong = long && i !== 1 && i < 6 && (a.sel & ~3) === 0 && (b.sel & ~3) === 0;
    const unusable = nullLong ? 1 : ((a.attr | b.attr) >>> 16) & 1;
    if (!unusable && a.limit !== b.limit)
      d.push({ category: 'seg', field: `${n}.limit`, host: hex(a.limit), emu: hex(b.limit) });
    // Attributes: type, S, DPL, P, D/B, G; the accessed bit is compared through the GDT bytes.
    const attrMask = 0x1c0fe;
    if (pm && !nullLong && (a.attr & attrMask) !== (b.attr & attrMask))
      d.push({ category: 'seg', field: `${n}.attr`, host: hex(a.attr), emu: hex(b.attr) });
  }
  if (h.gdtBase !== e.gdtBase || h.gdtLimit !== e.gdtLimit)
    d.push({
      category: 'dt',
      field: 'gdtr',
      host: `${hex(h.gdtBase)}/${hex(h.gdtLimit)}`,
      emu: `${hex(e.gdtBase)}/${hex(e.gdtLimit)}`,
    });
  if (h.idtBase !== e.idtBase || h.idtLimit !== e.idtLimit)
    d.push({
      category: 'dt',
      field: 'idtr',
      host: `${hex(h.idtBase)}/${hex(h.idtLimit)}`,
      emu: `${hex(e.idtBase)}/${hex(e.idtLimit)}`,
    });
  for (const k of ['cr0', 'cr2', 'cr3', 'cr4', 'efer'] as const) {
    if (h[k] !== e[k])
      d.push({ category: k === 'cr2' ? 'cr2' : 'cr', field: k, host: hex(h[k]), emu: hex(e[k]) });
  }
  if ((h.cr2High ?? 0) !== (e.cr2High ?? 0))
    d.push({ category: 'cr2', field: 'cr2[63:32]', host: hex(h.cr2High ?? 0), emu: hex(e.cr2High ?? 0) });
  if (host.io.length !== emu.io.length || host.io.some((v, i) => v !== emu.io[i])) {
    d.push({ category: 'io', field: 'port i/o', host: ioText(host.io), emu: ioText(emu.io) });
  }
  const slot = frameFlagsSlot(host);
  // The low 4 bytes of RFLAGS in an IA-32e frame (the upper half is reserved, zero, and compared as memory).
  const w = slot >= 0 && (h.cr0 & 1) === 0 ? 2 : 4;
  if (
    !Buffer.from(host.ram.buffer, host.ram.byteOffset, host.ram.length).equals(
      Buffer.from(emu.ram.buffer, emu.ram.byteOffset, emu.ram.length),
    )
  ) {
    // The (E)FLAGS image of an exception frame is compared like EFLAGS (undefined flags masked),
    // RF in its own category (SDM Vol. 3 17.3.1.1: faults push RF = 1), so that one rule does
    // not hide other differences.
    if (slot >= 0) {
      const hf = readLe(host.ram, slot, w);
      const ef = readLe(emu.ram, slot, w);
      const x = (hf ^ ef) & ~flagMask;
      if (x === 1 << 16)
        d.push({
          category: 'frame.rf',
          field: `exception frame EFLAGS.RF at ${hex(slot)}`,
          host: hex(hf),
          emu: hex(ef),
        });
      else if (x !== 0)
        d.push({
          category: 'frame.eflags',
          field: `exception frame EFLAGS at ${hex(slot)} (${flagNames(x)} differ)`,
          host: hex(hf),
          emu: hex(ef),
        });
    }
    for (const [from, to] of diffRanges(host.ram, emu.ram, 8, slot, slot + w)) {
      d.push({
        category: 'memory',
        field: `ram[${hex(from)}..${hex(to - 1)}]`,
        host: bytesText(host.ram.subarray(from, to)),
        emu: bytesText(emu.ram.subarray(from, to)),
      });
    }
  }
  if (h.fpu && e.fpu) d.push(...compareFpu(h.fpu, e.fpu));
  return d;
}

function readLe(ram: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + ram[at + i];
  return v >>> 0;
}

/** Where the host's exception frame keeps (E)FLAGS when it halted in a stub, or -1. */
export function frameFlagsSlot(o: Outcome): number {
  const f = stubFrame(o);
  if (!f) return -1;
  return f.sp + (f.hasError ? f.width : 0) + 2 * f.width;
}

/** Differing byte ranges, at most `max`, leaving out [skipFrom, skipTo). */
function diffRanges(
  a: Uint8Array,
  b: Uint8Array,
  max: number,
  skipFrom: number,
  skipTo: number,
): [number, number][] {
  const out: [number, number][] = [];
  const skip = (i: number): boolean => i >= skipFrom && i < skipTo;
  for (let i = 0; i < a.length && out.length < max; i++) {
    if (a[i] === b[i] || skip(i)) continue;
    let j = i;
    while (
      j < a.length &&
      j - i < 32 &&
      !skip(j) &&
      (a[j] !== b[j] || (j + 1 < a.length && a[j + 1] !== b[j + 1]))
    )
      j++;
    out.push([i, Math.max(j, i + 1)]);
    i = j;
  }
  return out;
}

/** Bytes as two hex digits each, `sep` between them. */
export function bytesText(b: ArrayLike<number>, sep = ' '): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(sep);
}

function ioText(io: number[]): string {
  const items: string[] = [];
  for (let i = 0; i < io.length && items.length < 8; i += 4)
    items.push(`${io[i] ? 'out' : 'in'} ${hex(io[i + 1])}/${io[i + 2]}=${hex(io[i + 3])}`);
  return `${items.join(', ')}${io.length > 32 ? ', …' : ''} (${io.length / 4} items)`;
}

const FLAG_NAMES: [number, string][] = [
  [0, 'CF'],
  [2, 'PF'],
  [4, 'AF'],
  [6, 'ZF'],
  [7, 'SF'],
  [8, 'TF'],
  [9, 'IF'],
  [10, 'DF'],
  [11, 'OF'],
  [12, 'IOPL0'],
  [13, 'IOPL1'],
  [14, 'NT'],
  [16, 'RF'],
  [17, 'VM'],
  [18, 'AC'],
  [19, 'VIF'],
  [20, 'VIP'],
  [21, 'ID'],
];

export function flagNames(bits: number): string {
  return (
    FLAG_NAMES.filter(([b]) => bits & (1 << b))
      .map(([, n]) => n)
      .join(' ') || 'none'
  );
}

/** The exception a final state shows, if it halted in a stub: `#GP(0x10) from 0008:00009003`. */
export function describeStop(o: Outcome, readStack: (linear: number, size: number) => number): string {
  if (o.kind !== 'hlt') return o.kind + (o.detail ? ` (${o.detail.split('\n')[0]})` : '');
  const s: MachineState = o.state;
  const f = stubFrame(o);
  if (!f) return `hlt at ${hex(s.seg[1].sel)}:${hex64(s.eip, s.ripHigh)}`;
  const w = Math.min(f.width, 4);
  const at = f.hasError ? f.sp + f.width : f.sp;
  const err = f.hasError ? `(${hex(readStack(f.sp, 4))})` : '';
  const ip = f.width === 8 ? hex64(readStack(at, 4), readStack(at + 4, 4)) : hex(readStack(at, w));
  const cr2 = f.vector === 14 ? ` cr2=${hex64(s.cr2, s.cr2High)}` : '';
  return `vector ${f.vector}${err} from ${hex(readStack(at + f.width, 2))}:${ip}${cr2}`;
}
