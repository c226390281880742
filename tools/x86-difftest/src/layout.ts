/**
 * The test machine's memory map and its five execution modes. One image serves both sides:
 * the host VM's RAM and x86emu's flat memory start every case as byte-identical copies.
 *
 *   0x00000  real-mode IVT: vector v → 0100:v (the stub for v)
 *   0x00500  GDT (GDT_SELECTORS)
 *   0x00800  IDT: 256 32-bit interrupt gates → 0008:STUBS+v
 *   0x01000  stubs: 256 × HLT; the halt address names the vector (EIP - 1 - STUBS)
 *   0x02000  32-bit page directory, 0x03000 its page table
 *   0x04000  PAE PDPT, 0x05000 PAE page directory, 0x06000 PAE page table
 *   0x07000  TSS (TR)
 *   0x08000  HLT sled, 0x09000 the test code (then HLT), HLT sled to 0x0AFFF
 *   0x10000  random data (fresh per case) to 0x2FFFF; the stack lives at its top
 *   0x30000  HLT sled to the end of RAM (1 MiB); above RAM: MMIO (open bus) or not mapped
 */
import type { MachineState, SegmentState } from './machine-state.js';

export const RAM_SIZE = 0x10_0000;
export const IVT = 0x0000;
export const GDT = 0x0500;
export const IDT = 0x0800;
export const STUBS = 0x1000;
export const PD32 = 0x2000;
export const PT32 = 0x3000;
export const PDPT = 0x4000;
export const PD_PAE = 0x5000;
export const PT_PAE = 0x6000;
export const TSS = 0x7000;
export const CODE = 0x9000;
/** Bytes of code space a case may use (the terminator included). */
export const CODE_MAX = 0x400;
export const DATA = 0x10000;
export const DATA_END = 0x30000;
/** Linear stack top in every mode (real mode: SS = 0x2000, SP = 0xFF00 − a little). */
export const STACK_TOP = 0x2ff00;
/** Data pages with special translations when paging is on (SDM Vol. 3 4.6 access rights). */
export const PAGE_NOT_PRESENT = 0x1e000;
export const PAGE_READ_ONLY = 0x1f000;
export const PAGE_NO_EXECUTE = 0x1d000;
export const PAGE_USER = 0x1c000;
export const HLT = 0xf4;

export const Mode = {
  Real: 'real',
  Pm16: 'pm16',
  Pm32: 'pm32',
  Paging: 'paging',
  Pae: 'pae',
  /** IA-32e modes at CPL 3 (layout64.ts). */
  Long64: 'long64',
  Compat32: 'compat32',
} as const;
export type Mode = (typeof Mode)[keyof typeof Mode];
/** The legacy modes (this file's machine). */
export const ALL_MODES: readonly Mode[] = ['real', 'pm16', 'pm32', 'paging', 'pae'];
/** The IA-32e modes (layout64.ts's machine, code at CPL 3 behind a CPL-0 harness). */
export const LONG_MODES: readonly Mode[] = ['long64', 'compat32'];

export function isLongMode(mode: Mode): boolean {
  return mode === 'long64' || mode === 'compat32';
}

/** GDT selectors (index × 8, RPL 0). */
export const SEL = {
  CODE32: 0x08,
  DATA32: 0x10,
  CODE16: 0x18,
  /**
   * 16-bit stack segment, base 0, limit 0xFFFF (pm16's SS). Base 0 on purpose: kvm-pvm pushes
   * exception frames at SP without SS.base when SS is 16-bit, which would blame x86emu for a
   * host bug.
   */
  STACK16: 0x20,
  /** 16-bit data segment based at DATA, limit 0xFFFF (pm16's DS/ES). */
  DATA16: 0x28,
  TSS: 0x30,
  /** Read-only flat data, accessed bit clear (loading it writes the descriptor). */
  DATA32_RO: 0x38,
  CODE32_DPL3: 0x40 | 3,
  DATA32_DPL3: 0x48 | 3,
  /** Data descriptor with P = 0. */
  NOT_PRESENT: 0x50,
  /** Expand-down data, limit 0xFFF: valid offsets 0x1000–0xFFFFFFFF. */
  EXPAND_DOWN: 0x58,
} as const;
const GDT_ENTRIES = 12;

function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi =
    (base & 0xff000000) |
    ((flags & 0xf) << 20) |
    (limit & 0xf0000) |
    ((access & 0xff) << 8) |
    ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

function w32(ram: Uint8Array, at: number, v: number): void {
  ram[at] = v;
  ram[at + 1] = v >>> 8;
  ram[at + 2] = v >>> 16;
  ram[at + 3] = v >>> 24;
}

/** The fixed part of the image (everything but the per-case code and data). */
export function buildImage(): Uint8Array {
  const ram = new Uint8Array(RAM_SIZE);
  ram.fill(HLT, 0x8000, 0xb000);
  ram.fill(HLT, DATA_END, RAM_SIZE);
  for (let v = 0; v < 256; v++) {
    // Real mode: IVT entry = offset, segment (SDM Vol. 3 20.1.4).
    ram[IVT + v * 4] = v;
    ram[IVT + v * 4 + 1] = 0;
    ram[IVT + v * 4 + 2] = (STUBS >>> 4) & 0xff;
    ram[IVT + v * 4 + 3] = STUBS >>> 12;
    // Protected mode: 32-bit interrupt gate, DPL 3 so INT n works at any CPL (SDM Vol. 3 6.11).
    const off = STUBS + v;
    w32(ram, IDT + v * 8, ((SEL.CODE32 << 16) | (off & 0xffff)) >>> 0);
    w32(ram, IDT + v * 8 + 4, ((off & 0xffff0000) | 0x8000 | (3 << 13) | (0xe << 8)) >>> 0);
    ram[STUBS + v] = HLT;
  }
  const gdt: [number, number][] = [
    [0, 0],
    descriptor(0, 0xfffff, 0x9b, 0xc),
    descriptor(0, 0xfffff, 0x93, 0xc),
    descriptor(0, 0xffff, 0x9b, 0x0),
    descriptor(0, 0xffff, 0x93, 0x0),
    descriptor(DATA, 0xffff, 0x93, 0x0),
    descriptor(TSS, 0x67, 0x8b, 0x0),
    descriptor(0, 0xfffff, 0x90, 0xc),
    descriptor(0, 0xfffff, 0xfb, 0xc),
    descriptor(0, 0xfffff, 0xf3, 0xc),
    descriptor(0, 0xfffff, 0x13, 0xc),
    descriptor(0, 0x00fff, 0x97, 0x4),
  ];
  gdt.forEach(([lo, hi], i) => {
    w32(ram, GDT + i * 8, lo);
    w32(ram, GDT + i * 8 + 4, hi);
  });
  // TSS: ESP0/SS0 for privilege-changing events, no I/O bitmap (base past the limit).
  w32(ram, TSS + 4, STACK_TOP);
  w32(ram, TSS + 8, SEL.DATA32);
  ram[TSS + 0x66] = 0x68;
  // 32-bit paging: one page table identity-maps RAM with 4 KiB pages (SDM Vol. 3 4.3).
  w32(ram, PD32, PT32 | 0x7);
  for (let p = 0; p < RAM_SIZE >>> 12; p++) w32(ram, PT32 + p * 4, pte(p << 12));
  // PAE paging: PDPTE 0 → PD → PT (SDM Vol. 3 4.4); PDPTEs have no R/W or U/S bits.
  w32(ram, PDPT, PD_PAE | 0x1);
  w32(ram, PD_PAE, PT_PAE | 0x7);
  for (let p = 0; p < RAM_SIZE >>> 12; p++) {
    const gpa = p << 12;
    w32(ram, PT_PAE + p * 8, pte(gpa));
    // XD (bit 63) on the no-execute page.
    if (gpa === PAGE_NO_EXECUTE) w32(ram, PT_PAE + p * 8 + 4, 0x80000000);
  }
  return ram;
}

/** A supervisor read/write page, except for the special pages. */
function pte(gpa: number): number {
  if (gpa === PAGE_NOT_PRESENT) return (gpa | 0x6) >>> 0;
  if (gpa === PAGE_READ_ONLY) return (gpa | 0x5) >>> 0;
  if (gpa === PAGE_USER) return (gpa | 0x7) >>> 0;
  return (gpa | 0x3) >>> 0;
}

const SEG_DATA = 0x93; // P, DPL 0, S, read/write accessed
const SEG_CODE = 0x9b; // P, DPL 0, S, execute/read accessed

function seg(sel: number, base: number, limit: number, access: number, db = false, g = false): SegmentState {
  return { sel, base, limit, attr: access | (db ? 1 << 14 : 0) | (g ? 1 << 15 : 0) };
}

const CR0_PE = 1;
const CR0_ET = 1 << 4;
const CR0_NE = 1 << 5;
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_PAE = 1 << 5;
const EFER_NXE = 1 << 11;

/** The initial state of legacy `mode` with all GPRs zero and EFLAGS = 2 (the generator fills them). */
export function baseState(mode: Mode): MachineState {
  if (isLongMode(mode)) throw new Error(`baseState: ${mode} is an IA-32e mode (layout64.ts: baseState64)`);
  const s: MachineState = {
    gpr: [0, 0, 0, 0, 0, 0, 0, 0],
    eip: CODE,
    eflags: 2,
    seg: [],
    gdtBase: GDT,
    gdtLimit: GDT_ENTRIES * 8 - 1,
    idtBase: IDT,
    idtLimit: 256 * 8 - 1,
    cr0: CR0_ET | CR0_NE,
    cr2: 0,
    cr3: 0,
    cr4: 0,
    efer: 0,
  };
  const ldt = seg(0, 0, 0xffff, 0x82);
  const tr = seg(SEL.TSS, TSS, 0x67, 0x8b);
  if (mode === 'real') {
    const rs = (sel: number, access = SEG_DATA): SegmentState => seg(sel, sel << 4, 0xffff, access);
    s.seg = [rs(DATA >>> 4), rs(0, SEG_CODE), rs(0x2000), rs(DATA >>> 4), rs(0x3000), rs(0), ldt, tr];
    s.gpr[4] = STACK_TOP - 0x20000;
    s.idtBase = IVT;
    s.idtLimit = 0x3ff;
    return s;
  }
  s.cr0 |= CR0_PE;
  if (mode === 'pm16') {
    const d16 = seg(SEL.DATA16, DATA, 0xffff, SEG_DATA);
    s.seg = [
      d16,
      seg(SEL.CODE16, 0, 0xffff, SEG_CODE),
      seg(SEL.STACK16, 0, 0xffff, SEG_DATA),
      { ...d16 },
      seg(SEL.DATA32, 0, 0xffffffff, SEG_DATA, true, true),
      { ...d16 },
      ldt,
      tr,
    ];
    s.gpr[4] = STACK_TOP - 0x20000;
    return s;
  }
  const flat = (): SegmentState => seg(SEL.DATA32, 0, 0xffffffff, SEG_DATA, true, true);
  s.seg = [
    flat(),
    seg(SEL.CODE32, 0, 0xffffffff, SEG_CODE, true, true),
    flat(),
    flat(),
    flat(),
    flat(),
    ldt,
    tr,
  ];
  s.gpr[4] = STACK_TOP;
  if (mode === 'paging') {
    s.cr0 |= CR0_PG | CR0_WP;
    s.cr3 = PD32;
  } else if (mode === 'pae') {
    s.cr0 |= CR0_PG | CR0_WP;
    s.cr3 = PDPT;
    s.cr4 = CR4_PAE;
    s.efer = EFER_NXE;
  }
  return s;
}
