/**
 * Intel's EPT entry format (SDM Vol. 3C 29.3 "The extended page-table mechanism"), the second
 * format of the nested walk (`paging/nested.ts`; AMD's NPT uses the x86 long-mode format of
 * `walker.ts`). Four levels of 8-byte entries indexed by guest-physical address bits 47:12 as in
 * 4-level paging, but the rights are R/W/X in bits 2:0 (no U/S, no NX: bit 63 is "suppress #VE"),
 * bit 7 maps a 1 GiB page in a PDPTE and a 2 MiB page in a PDE, a leaf holds its memory type in
 * bits 5:3, and bits 8/9 are accessed/dirty only when EPTP bit 6 enables them (29.3.5).
 *
 * The format is data (`EPT_RSVD_LO`, `EPT_LARGE_LEVELS`, the masks below); `walkEpt` reads it.
 * Two outcomes beside success are kept apart, as the processor does (29.3.3):
 * - an EPT *misconfiguration* (exit 49): a present entry with W but not R, X alone without the
 *   execute-only capability, a reserved bit set, or a leaf memory type of 2, 3 or 7;
 * - an EPT *violation* (exit 48): a not-present entry (bits 2:0 all 0), or an access the logical
 *   AND of the R/W/X bits of the entries used does not allow.
 */
import type { PhysicalMemory } from '../api/physical-memory.js';
import { holdAsDoubles } from '../double-fields.js';
import { high32, pageBase, TWO32, tableIndex } from './bits.js';
import { PFERR } from './walker.js';

/** EPT entry bits (SDM Tables 29-1 … 29-6). */
export const EPT_READ = 1 << 0;
export const EPT_WRITE = 1 << 1;
export const EPT_EXEC = 1 << 2;
export const EPT_RWX = EPT_READ | EPT_WRITE | EPT_EXEC;
/** Memory type of a leaf, bits 5:3 (0 UC, 1 WC, 4 WT, 5 WP, 6 WB; 2, 3, 7 reserved). */
export const EPT_MT_SHIFT = 3;
export const EPT_MT_MASK = 7 << EPT_MT_SHIFT;
export const EPT_MT_WB = 6;
/** Ignore-PAT (leaf bit 6), large page (bit 7), accessed (bit 8), dirty (bit 9; leaves only). */
export const EPT_IPAT = 1 << 6;
export const EPT_LARGE = 1 << 7;
export const EPT_ACCESSED = 1 << 8;
export const EPT_DIRTY = 1 << 9;

/** Memory types a leaf may hold (bit n: type n allowed): UC, WC, WT, WP, WB. */
const EPT_LEAF_MT_VALID = (1 << 0) | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6);

/**
 * Reserved bits of the low half, indexed `level * 2 + large` (SDM Tables 29-1 … 29-6): a PML4E
 * bits 7:3; a non-leaf PDPTE or PDE bits 6:3 (bit 7 is the large-page bit, 0 there); a 1 GiB
 * leaf bits 29:12, a 2 MiB leaf bits 20:12; a PTE none (bits 6:3 are its memory type and IPAT).
 */
export const EPT_RSVD_LO: Uint32Array = (() => {
  const t = new Uint32Array(10);
  t[4 * 2] = 0xf8;
  t[3 * 2] = t[2 * 2] = 0x78;
  t[3 * 2 + 1] = 0x3ffff000;
  t[2 * 2 + 1] = 0x001ff000;
  return t;
})();
/** Levels where bit 7 maps a page (2 MiB at 2, 1 GiB at 3: IA32_VMX_EPT_VPID_CAP bits 16/17). */
export const EPT_LARGE_LEVELS = (1 << 2) | (1 << 3);
/** Address bits 51:MAXPHYADDR (36) of the high half are reserved; 63:52 are ignored. */
export const EPT_RSVD_HI = 0x000ffff0;

/** `walkEpt`'s outcome. */
export const EptWalkStatus = { Ok: 0, Violation: 1, Misconfig: 2 } as const;
export type EptWalkStatus = (typeof EptWalkStatus)[keyof typeof EptWalkStatus];

/** An EPT walk's output; reuse one instance. */
export class EptWalkResult {
  /** Host-physical address, and its 4 KiB frame number. */
  pa = 0;
  pfn = 0;
  /** EPT_READ | EPT_WRITE | EPT_EXEC: the AND of the entries used (the violation's qualification bits 5:3). */
  rights = 0;
  /** The leaf's dirty bit after the walk (always true without A/D: writes need no D to be cached). */
  dirty = false;
  /** 4 KiB, 2 MiB or 1 GiB. */
  pageSize = 4096;

  constructor() {
    holdAsDoubles(this, ['pa', 'pfn']);
  }
}

/**
 * Translates `gpa` through the EPT paging structures at `root` (the EPTP's bits 51:12, 4-level
 * walk) for an access of kind `access` (PFERR.WRITE / PFERR.FETCH; neither: a read). `ad`: EPTP
 * bit 6, the accessed and dirty flags; `execOnly`: the execute-only capability (EPT_VPID_CAP bit 0).
 */
export function walkEpt(
  mem: PhysicalMemory,
  root: number,
  gpa: number,
  access: number,
  ad: boolean,
  execOnly: boolean,
  out: EptWalkResult,
): EptWalkStatus {
  let table = pageBase(root);
  const gpaLo = gpa >>> 0;
  const gpaHi = high32(gpa, gpaLo);
  let rights = EPT_RWX;
  let level = 4;
  let lo: number;
  let hi: number;
  let at: number;
  for (;;) {
    at = table + tableIndex(gpaLo, gpaHi, level) * 8;
    lo = mem.read32(at);
    hi = mem.read32(at + 4);
    const r = lo & EPT_RWX;
    rights &= r;
    if (r === 0) {
      out.rights = rights;
      return EptWalkStatus.Violation;
    }
    // 29.3.3.1: W without R; X alone without execute-only support.
    if ((r & (EPT_READ | EPT_WRITE)) === EPT_WRITE || (r === EPT_EXEC && !execOnly))
      return EptWalkStatus.Misconfig;
    const large = level === 1 || (((EPT_LARGE_LEVELS >>> level) & 1) === 1 && (lo & EPT_LARGE) !== 0);
    if (lo & EPT_RSVD_LO[level * 2 + (large && level > 1 ? 1 : 0)] || hi & EPT_RSVD_HI)
      return EptWalkStatus.Misconfig;
    if (large && !((EPT_LEAF_MT_VALID >>> ((lo & EPT_MT_MASK) >>> EPT_MT_SHIFT)) & 1))
      return EptWalkStatus.Misconfig;
    if (ad && !(lo & EPT_ACCESSED) && !large) {
      lo = (lo | EPT_ACCESSED) >>> 0;
      mem.write32(at, lo);
    }
    if (large) break;
    table = (hi & 0xf) * TWO32 + ((lo & 0xfffff000) >>> 0);
    level--;
  }
  out.rights = rights;
  const write = (access & PFERR.WRITE) !== 0;
  const need = write ? EPT_WRITE : access & PFERR.FETCH ? EPT_EXEC : EPT_READ;
  if (!(rights & need)) return EptWalkStatus.Violation;
  if (ad) {
    // 29.3.5: A on every entry used, D on the leaf for a write.
    const want = (lo | EPT_ACCESSED | (write ? EPT_DIRTY : 0)) >>> 0;
    if (want !== lo) {
      lo = want;
      mem.write32(at, lo);
    }
    out.dirty = (lo & EPT_DIRTY) !== 0;
  } else out.dirty = true;
  // The frame: the leaf's address bits and, in a large page, the gPA's bits below its size.
  let frame: number;
  if (level === 3) frame = (hi & 0xf) * TWO32 + ((lo & 0xc0000000) >>> 0) + (gpaLo & 0x3ffff000);
  else if (level === 2) frame = (hi & 0xf) * TWO32 + ((lo & 0xffe00000) >>> 0) + (gpaLo & 0x1ff000);
  else frame = (hi & 0xf) * TWO32 + ((lo & 0xfffff000) >>> 0);
  out.pfn = frame / 4096;
  out.pa = frame + (gpaLo & 0xfff);
  out.pageSize = level === 3 ? 0x40000000 : level === 2 ? 0x200000 : 4096;
  return EptWalkStatus.Ok;
}
