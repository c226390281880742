/** Test helper: a 32-bit protected-mode machine set up directly in state (GDT, IDT, TSS in memory). */
import { Cpu, FlatPhysicalMemory, type Intercepts, SegAttr } from '../src/index.js';
import { asm } from './asm.js';
import { debugPortAndCapture, type Machine } from './machine.js';

export const GDT = 0x800;
export const IDT = 0x2000;
export const TSS = 0x3000;
export const CODE = 0x10000;
export const SEL = {
  CODE0: 0x08,
  DATA0: 0x10,
  CODE3: 0x1b,
  DATA3: 0x23,
  TSS: 0x28,
  CODE16: 0x30,
  DATA_LIM: 0x38,
} as const;

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

export function writeDesc(mem: FlatPhysicalMemory, addr: number, d: [number, number]): void {
  mem.write32(addr, d[0]);
  mem.write32(addr + 4, d[1]);
}

/** Interrupt (type 0xE) or trap (0xF) gate for `vector` to CS 0x08:offset. */
export function setGate(
  mem: FlatPhysicalMemory,
  vector: number,
  offset: number,
  type = 0xe,
  dpl = 0,
  sel = 0x08,
): void {
  mem.write32(IDT + vector * 8, ((sel << 16) | (offset & 0xffff)) >>> 0);
  mem.write32(IDT + vector * 8 + 4, ((offset & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8)) >>> 0);
}

export function protectedMode(
  source: string,
  opts: { captureExceptions?: boolean } = {},
  intercepts?: Partial<Intercepts>,
): Machine {
  const mem = new FlatPhysicalMemory(16 << 20);
  mem.bytes.set(asm(source, { bits: 32, origin: CODE }), CODE);
  writeDesc(mem, GDT + 0x00, [0, 0]);
  writeDesc(mem, GDT + 0x08, desc(0, 0xfffff, 0x9a, 0xc));
  writeDesc(mem, GDT + 0x10, desc(0, 0xfffff, 0x92, 0xc));
  writeDesc(mem, GDT + 0x18, desc(0, 0xfffff, 0xfa, 0xc));
  writeDesc(mem, GDT + 0x20, desc(0, 0xfffff, 0xf2, 0xc));
  writeDesc(mem, GDT + 0x28, desc(TSS, 0x67, 0x8b, 0));
  writeDesc(mem, GDT + 0x30, desc(0, 0xffff, 0x9a, 0));
  writeDesc(mem, GDT + 0x38, desc(0x100000, 0xfff, 0x92, 0x4)); // data, byte-granular limit 0xFFF, base 1 MiB
  mem.write32(TSS + 4, 0x8000); // ESP0
  mem.write32(TSS + 8, 0x10); // SS0
  mem.write16(TSS + 0x66, 0x68); // I/O map base: just past the TSS limit → no bitmap
  const { out, io, exceptions, intercepts: ic } = debugPortAndCapture(opts.captureExceptions, intercepts);
  const cpu = new Cpu({ memory: mem, io, intercepts: ic });
  const s = cpu.state;
  s.cr[0] = 0x11; // PE | ET
  s.dtBase[0] = GDT;
  s.dtLimit[0] = 0x3f;
  s.dtBase[1] = IDT;
  s.dtLimit[1] = 0x7ff;
  const flat = (seg: number, sel: number, type: number, dpl = 0) => {
    s.segSel[seg] = sel;
    s.segBase[seg] = 0;
    s.segLimit[seg] = 0xffffffff;
    s.segAttr[seg] = type | SegAttr.S | (dpl << 5) | SegAttr.P | SegAttr.DB | SegAttr.G;
  };
  flat(1, SEL.CODE0, 0xb);
  for (const r of [0, 2, 3, 4, 5]) flat(r, SEL.DATA0, 0x3);
  s.segSel[7] = SEL.TSS;
  s.segBase[7] = TSS;
  s.segLimit[7] = 0x67;
  s.segAttr[7] = 0xb | SegAttr.P;
  s.rip[0] = CODE;
  s.gpr[4] = 0x9000;
  s.cpl = 0;
  cpu.stateChanged();
  return { cpu, mem, out, exceptions, intercepts: ic };
}

/**
 * `protectedMode` (exceptions captured) under PSE paging: linear 0–4 MiB identity-mapped by one
 * 4 MiB page, everything above not present (the block compiler's paged tests).
 */
export function pagedProtectedMode(src: string): Machine {
  const m = protectedMode(src, { captureExceptions: true });
  const pd = 0x500000;
  m.mem.write32(pd, 0x83);
  const s = m.cpu.state;
  s.cr[4] |= 0x10; // PSE
  s.cr[3] = pd;
  s.cr[0] |= 0x80000000;
  m.cpu.stateChanged();
  return m;
}
