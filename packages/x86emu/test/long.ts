/**
 * Test helper: an IA-32e machine set up directly in state. 4-level tables identity-map the first
 * 16 MiB with 2 MiB pages (user, writable); the GDT has 64-bit and compatibility-mode code
 * segments at both privilege levels and a 64-bit TSS.
 */
import { Cpu, FlatPhysicalMemory, type Intercepts, SegAttr } from '../src/index.js';
import { asm } from './asm.js';
import { debugPortAndCapture, type Machine } from './machine.js';

export const L = {
  GDT: 0x800,
  IDT: 0x2000,
  TSS: 0x3000,
  PML4: 0x100000,
  CODE: 0x10000,
  /** Selectors: 64-bit code CPL 0, data CPL 0, 32-bit code CPL 3, data CPL 3, 64-bit code CPL 3, TSS, 32-bit code CPL 0. */
  CODE64: 0x08,
  DATA0: 0x10,
  CODE32_3: 0x1b,
  DATA3: 0x23,
  CODE64_3: 0x2b,
  TSS_SEL: 0x30,
  CODE32: 0x40,
} as const;

/**
 * From 32-bit protected mode without paging (`longMode(…, { startIn32: true })`) into
 * compatibility mode: CR4.PAE, CR3 at the 4-level tables, EFER.LME, then CR0.PG (SDM Vol. 3 9.8.5).
 */
export const ENTER_COMPAT = `
  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, ${L.PML4}
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
`;

function desc(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi =
    (base & 0xff000000) |
    ((flags & 0xf) << 20) |
    (limit & 0xf0000) |
    ((access & 0xff) << 8) |
    ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

/** Writes the GDT, the 4-level tables and the 64-bit TSS into `mem`. */
export function writeLongTables(mem: FlatPhysicalMemory): void {
  const put = (sel: number, d: [number, number]) => {
    mem.write32(L.GDT + sel, d[0]);
    mem.write32(L.GDT + sel + 4, d[1]);
  };
  put(0x08, desc(0, 0xfffff, 0x9a, 0xa)); // G, L
  put(0x10, desc(0, 0xfffff, 0x92, 0xc));
  put(0x18, desc(0, 0xfffff, 0xfa, 0xc)); // D (compatibility mode)
  put(0x20, desc(0, 0xfffff, 0xf2, 0xc));
  put(0x28, desc(0, 0xfffff, 0xfa, 0xa));
  put(0x30, desc(L.TSS, 0x67, 0x89, 0)); // 64-bit TSS (available), upper 8 bytes zero
  put(0x40, desc(0, 0xfffff, 0x9a, 0xc));
  mem.write32(L.PML4, (L.PML4 + 0x1000) | 7);
  mem.write32(L.PML4 + 0x1000, (L.PML4 + 0x2000) | 7);
  for (let i = 0; i < 8; i++) mem.write32(L.PML4 + 0x2000 + i * 8, ((i << 21) | 0x87) >>> 0);
  mem.write32(L.TSS + 4, 0x9000); // RSP0
}

/**
 * A machine in 64-bit mode at CPL 0 running `source` (assembled with `.code64`) at L.CODE; with
 * `startIn32`, in 32-bit protected mode without paging instead (source starts as `.code32`).
 */
export function longMode(
  source: string,
  opts: { captureExceptions?: boolean; startIn32?: boolean } = {},
  intercepts?: Partial<Intercepts>,
): Machine {
  const mem = new FlatPhysicalMemory(16 << 20);
  mem.bytes.set(asm(opts.startIn32 ? `.code32\n${source}` : source, { bits: 64, origin: L.CODE }), L.CODE);
  writeLongTables(mem);
  const { out, io, exceptions, intercepts: ic } = debugPortAndCapture(opts.captureExceptions, intercepts);
  const cpu = new Cpu({ memory: mem, io, intercepts: ic });
  const s = cpu.state;
  s.cr[0] = 0x80000011; // PG | ET | PE
  s.cr[4] = 0x20; // PAE
  s.cr[3] = L.PML4;
  s.efer[0] = 0x500; // LME | LMA
  s.dtBase[0] = L.GDT;
  s.dtLimit[0] = 0x47;
  s.dtBase[1] = L.IDT;
  s.dtLimit[1] = 0xfff;
  s.segSel[1] = L.CODE64;
  s.segBase[1] = 0;
  s.segLimit[1] = 0xffffffff;
  s.segAttr[1] = 0xb | SegAttr.S | SegAttr.P | SegAttr.L | SegAttr.G;
  for (const r of [0, 2, 3, 4, 5]) {
    s.segSel[r] = L.DATA0;
    s.segBase[r] = 0;
    s.segLimit[r] = 0xffffffff;
    s.segAttr[r] = 3 | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  s.segSel[7] = L.TSS_SEL;
  s.segBase[7] = L.TSS;
  s.segLimit[7] = 0x67;
  s.segAttr[7] = 0xb | SegAttr.P;
  s.rip[0] = L.CODE;
  s.gpr[4] = 0x8000;
  s.cpl = 0;
  if (opts.startIn32) {
    // 32-bit protected mode, paging off, EFER = 0: where an OS starts the activation sequence.
    s.cr[0] = 0x11;
    s.cr[4] = 0;
    s.efer[0] = 0;
    s.segSel[1] = L.CODE32;
    s.segAttr[1] = 0xb | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G;
  }
  cpu.stateChanged();
  return { cpu, mem, out, exceptions, intercepts: ic };
}

/** A 64-bit register as a BigInt (tests only: the CPU itself never uses BigInt). */
export function r64(m: Machine, r: number): bigint {
  const s = m.cpu.state;
  return (BigInt(s.gprHigh[r]) << 32n) | BigInt(s.gpr[r]);
}

/** A 16-byte IA-32e interrupt (0xE) or trap (0xF) gate for `vector` to CS 0x08:offset (SDM Vol. 3 6.14.1). */
export function gate64(
  mem: FlatPhysicalMemory,
  vector: number,
  offset: number,
  opts: { ist?: number; dpl?: number; type?: number; sel?: number } = {},
): void {
  const a = L.IDT + vector * 16;
  const sel = opts.sel ?? L.CODE64;
  mem.write32(a, ((sel << 16) | (offset & 0xffff)) >>> 0);
  mem.write32(
    a + 4,
    ((offset & 0xffff0000) |
      0x8000 |
      ((opts.dpl ?? 0) << 13) |
      ((opts.type ?? 0xe) << 8) |
      (opts.ist ?? 0)) >>>
      0,
  );
  mem.write32(a + 8, 0);
  mem.write32(a + 12, 0);
}

/** Switches a `longMode` machine to CPL 3 in 64-bit mode (CS 0x2B, SS 0x23). */
export function toUser(m: Machine): void {
  const s = m.cpu.state;
  s.segSel[1] = L.CODE64_3;
  s.segAttr[1] = 0xb | SegAttr.S | SegAttr.P | SegAttr.L | SegAttr.G | (3 << 5);
  for (const r of [0, 2, 3, 4, 5]) {
    s.segSel[r] = L.DATA3;
    s.segAttr[r] = 3 | SegAttr.S | SegAttr.P | SegAttr.DB | SegAttr.G | (3 << 5);
  }
  s.cpl = 3;
  m.cpu.stateChanged();
}
