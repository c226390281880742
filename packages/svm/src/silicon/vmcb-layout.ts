/**
 * The VMCB layout, written ONCE as data: every field we use with its byte offset and size, from
 * AMD APM Vol. 2 Appendix B (Table B-1, control area at 0; Table B-2, state-save area at 400h).
 * The VMCB is a 4 KiB page of host memory; `VMCB` maps names to offsets, and the silicon and
 * the driver both read and write it through `Vmcb` (vmcb.ts), never through numbers of their own.
 */

import { VmcbClean } from './svm-arch.js';

/** [name, offset, size in bytes] */
const ROWS = [
  // Control area (Table B-1)
  ['INTERCEPT_CR', 0x000, 4], // bits 15:0 reads of CR0–15, 31:16 writes
  ['INTERCEPT_DR', 0x004, 4],
  ['INTERCEPT_EXCEPTIONS', 0x008, 4],
  ['INTERCEPT_MISC1', 0x00c, 4],
  ['INTERCEPT_MISC2', 0x010, 4],
  ['PAUSE_FILTER_THRESHOLD', 0x03c, 2],
  ['PAUSE_FILTER_COUNT', 0x03e, 2],
  ['IOPM_BASE_PA', 0x040, 8],
  ['MSRPM_BASE_PA', 0x048, 8],
  ['TSC_OFFSET', 0x050, 8],
  ['GUEST_ASID', 0x058, 4],
  ['TLB_CONTROL', 0x05c, 1],
  // V_TPR 7:0, V_IRQ 8, V_GIF 9, V_INTR_PRIO 19:16, V_IGN_TPR 20, V_INTR_MASKING 24; V_INTR_VECTOR at 64h
  ['V_INTR', 0x060, 4],
  ['V_INTR_VECTOR', 0x064, 1],
  ['INTERRUPT_SHADOW', 0x068, 8],
  ['EXITCODE', 0x070, 8],
  ['EXITINFO1', 0x078, 8],
  ['EXITINFO2', 0x080, 8],
  ['EXITINTINFO', 0x088, 8],
  ['NP_ENABLE', 0x090, 8],
  ['EVENTINJ', 0x0a8, 8],
  ['N_CR3', 0x0b0, 8],
  ['VMCB_CLEAN', 0x0c0, 4],
  ['NEXT_RIP', 0x0c8, 8],
  ['INSN_LEN', 0x0d0, 1],
  ['INSN_BYTES', 0x0d1, 15],
  // State-save area (Table B-2); segments are selector(2) attrib(2) limit(4) base(8)
  ['ES', 0x400, 16],
  ['CS', 0x410, 16],
  ['SS', 0x420, 16],
  ['DS', 0x430, 16],
  ['FS', 0x440, 16],
  ['GS', 0x450, 16],
  ['GDTR', 0x460, 16],
  ['LDTR', 0x470, 16],
  ['IDTR', 0x480, 16],
  ['TR', 0x490, 16],
  ['CPL', 0x4cb, 1],
  ['EFER', 0x4d0, 8],
  ['CR4', 0x548, 8],
  ['CR3', 0x550, 8],
  ['CR0', 0x558, 8],
  ['DR7', 0x560, 8],
  ['DR6', 0x568, 8],
  ['RFLAGS', 0x570, 8],
  ['RIP', 0x578, 8],
  ['RSP', 0x5d8, 8],
  ['RAX', 0x5f8, 8],
  ['STAR', 0x600, 8],
  ['LSTAR', 0x608, 8],
  ['CSTAR', 0x610, 8],
  ['SFMASK', 0x618, 8],
  ['KERNEL_GS_BASE', 0x620, 8],
  ['SYSENTER_CS', 0x628, 8],
  ['SYSENTER_ESP', 0x630, 8],
  ['SYSENTER_EIP', 0x638, 8],
  ['CR2', 0x640, 8],
  ['G_PAT', 0x668, 8],
] as const;

export type VmcbFieldName = (typeof ROWS)[number][0];

export interface VmcbFieldDef {
  readonly name: VmcbFieldName;
  readonly offset: number;
  readonly size: number;
}

export const VMCB_FIELDS: readonly VmcbFieldDef[] = ROWS.map(([name, offset, size]) => ({
  name,
  offset,
  size,
}));

/** Offsets by name: `VMCB.EXITCODE === 0x70`. */
export const VMCB = Object.fromEntries(VMCB_FIELDS.map((f) => [f.name, f.offset])) as Readonly<
  Record<VmcbFieldName, number>
>;

/** Offset of the state-save area. */
export const VMCB_SAVE_AREA = 0x400;

/** Within a segment: selector, attrib, limit, base. */
export const SEG_SELECTOR = 0;
export const SEG_ATTRIB = 2;
export const SEG_LIMIT = 4;
export const SEG_BASE = 8;

/** Segment offsets in x86emu `Seg` order (ES, CS, SS, DS, FS, GS, LDTR, TR). */
export const VMCB_SEG_BY_SREG: readonly number[] = [
  VMCB.ES,
  VMCB.CS,
  VMCB.SS,
  VMCB.DS,
  VMCB.FS,
  VMCB.GS,
  VMCB.LDTR,
  VMCB.TR,
];

/**
 * The VMCB clean bit (`VmcbClean`) of the area each 8-byte slot of the page belongs to, 0 for
 * none: a write the driver makes there clears that bit (`Vmcb.tracksClean`, KVM's
 * `vmcb_mark_dirty`).
 */
export const VMCB_CLEAN_BY_QWORD: Uint16Array = (() => {
  const t = new Uint16Array(4096 / 8);
  const mark = (off: number, bytes: number, bit: number) => {
    for (let o = off; o < off + bytes; o += 8) t[o >>> 3] = bit;
  };
  mark(VMCB.IOPM_BASE_PA, 8, VmcbClean.IOPM);
  mark(VMCB.MSRPM_BASE_PA, 8, VmcbClean.IOPM);
  for (const f of [VMCB.CR0, VMCB.CR3, VMCB.CR4, VMCB.EFER]) mark(f, 8, VmcbClean.CRX);
  mark(VMCB.GDTR, 16, VmcbClean.DT);
  mark(VMCB.IDTR, 16, VmcbClean.DT);
  for (const f of [VMCB.ES, VMCB.CS, VMCB.SS, VMCB.DS]) mark(f, 16, VmcbClean.SEG);
  mark(VMCB.CPL & ~7, 8, VmcbClean.SEG);
  return t;
})();
