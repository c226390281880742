/**
 * The architectural page walker (SDM Vol. 3 4.3 "32-bit paging", 4.4 "PAE paging"), written
 * once over the two pte formats and run over any root and any `PhysicalMemory`: the CPU walks
 * the guest's tables (or, in guest mode under shadow paging, the hypervisor's shadow tables in
 * host-physical memory). It sets accessed and dirty bits as the CPU does (SDM Vol. 3 4.8).
 */
import type { PhysicalMemory } from '../api/physical-memory.js';
import { holdAsDoubles } from '../double-fields.js';
import { high32, pageBase, TWO32, tableIndex } from './bits.js';

/** Page-fault error code bits (SDM Vol. 3 4.7, Figure 4-12). Also the walker's access kind. */
export const PFERR = { PRESENT: 1, WRITE: 2, USER: 4, RSVD: 8, FETCH: 16 } as const;

/** `walkAddr` control bits (what CR0.WP, CR4.PSE/PGE and EFER.NXE select). */
export const WalkCtl = { WP: 1, PSE: 2, NXE: 4, PGE: 8, PAGE1G: 16 } as const;

/** Page-table entry bits shared by both formats (SDM Vol. 3 Tables 4-4…4-11). */
export const PT_PRESENT_MASK = 1 << 0;
export const PT_WRITABLE_MASK = 1 << 1;
export const PT_USER_MASK = 1 << 2;
export const PT_ACCESSED_MASK = 1 << 5;
export const PT_DIRTY_MASK = 1 << 6;
export const PT_PAGE_SIZE_MASK = 1 << 7;
export const PT_GLOBAL_MASK = 1 << 8;

/** Our MAXPHYADDR (CPUID 80000008h EAX[7:0]); bits 62:36 of a PAE entry are reserved. */
export const MAXPHYADDR = 36;
const PAE_RSVD_HIGH = 0x7ffffff0; // bits 62:36 of the high half
const PAE_NX_HIGH = 0x80000000 | 0; // bit 63
const LONG_RSVD_HIGH = 0x000ffff0; // bits 51:36 (4-level entries; bits 62:52 are ignored)

/** Walk output; reuse one instance. */
export class WalkResult {
  /** Physical address the linear address maps to. */
  pa = 0;
  /** Physical address of the 4 KiB frame containing `pa`, as a page number. */
  pfn = 0;
  /** Effective permissions over all levels. */
  writable = false;
  user = false;
  /** Execute-disable in effect (some level has XD set with NXE). */
  nx = false;
  global = false;
  /** The final entry's dirty bit after the walk. */
  dirty = false;
  /** 4096, 2 MiB, 4 MiB or 1 GiB. */
  pageSize = 4096;
  /** On failure: the #PF error code. */
  errorCode = 0;
  /**
   * Physical addresses of entries the walk wrote (accessed/dirty bits), -1 when unused: a CPU
   * that caches decoded code must treat these as writes to memory.
   */
  written0 = -1;
  written1 = -1;
  written2 = -1;
  written3 = -1;

  constructor() {
    // Addresses computed as doubles (a frame times 4096): double fields from the start (double-fields.ts).
    holdAsDoubles(this, ['pa', 'pfn', 'written0', 'written1', 'written2', 'written3']);
  }
}

/**
 * Translates `gva` through the tables at `root` (`mode` 1 = 32-bit, 2 = PAE, 3 = 4-level; for PAE, `pdptes`
 * may give the four PDPTE registers loaded at the last CR3 load — as the CPU uses them, SDM Vol. 3
 * 4.4.1 — or null to read them from memory). `access` is a PFERR combination (WRITE, USER,
 * FETCH). Returns true with `out` filled, or false with `out.errorCode` set. Accessed bits are
 * set on every present entry used; the dirty bit only by a successful write.
 */
export function walkAddr(
  mem: PhysicalMemory,
  mode: number,
  root: number,
  gva: number,
  access: number,
  ctl: number,
  out: WalkResult,
  pdptes: Float64Array | null = null,
): boolean {
  if (mode !== 3) gva >>>= 0;
  out.written0 = out.written1 = out.written2 = out.written3 = -1;
  const write = (access & PFERR.WRITE) !== 0;
  const user = (access & PFERR.USER) !== 0;
  const fetch = (access & PFERR.FETCH) !== 0;
  let writable = true;
  let usr = true;
  let nx = false;
  let pteAddr: number;
  let pte: number;
  let pteHigh = 0;
  let level: number;
  let large = false;

  if (mode === 1) {
    // 32-bit paging: PDE at CR3[31:12] + gva[31:22] * 4 (SDM 4.3).
    pteAddr = (root & 0xfffff000) >>> 0;
    level = 2;
    pteAddr += (gva >>> 22) << 2;
    for (;;) {
      pte = mem.read32(pteAddr);
      if (!(pte & PT_PRESENT_MASK)) return fail(out, access, 0, ctl, mode);
      writable &&= (pte & PT_WRITABLE_MASK) !== 0;
      usr &&= (pte & PT_USER_MASK) !== 0;
      if (level === 2 && pte & PT_PAGE_SIZE_MASK && ctl & WalkCtl.PSE) {
        // 4 MiB page; PSE-36 puts PA[35:32] in bits 16:13, bits 21:17 are reserved.
        if (pte & 0x003e0000) return fail(out, access, PFERR.PRESENT | PFERR.RSVD, ctl, mode);
        large = true;
        break;
      }
      if (level === 1) break;
      if (setAccessed32(mem, pteAddr, pte)) out.written0 = pteAddr;
      pteAddr = ((pte & 0xfffff000) >>> 0) + (((gva >>> 12) & 0x3ff) << 2);
      level = 1;
    }
  } else if (mode === 3) {
    // 4-level paging (SDM 4.5): PML4E, PDPTE, PDE, PTE of 8 bytes, for linear addresses below
    // 2^48 (IA-32e mode folds canonical addresses to 48 bits). What a 64-bit host's shadow tables
    // use even for 32-bit guests. 1 GiB pages (PS in a PDPTE) with WalkCtl.PAGE1G (CPUID
    // Page1GB); without it PS is reserved there, as in a PML4E always (SDM Table 4-15).
    let table = pageBase(root);
    const gvaLo = gva >>> 0;
    const gvaHi = high32(gva, gvaLo);
    level = 4;
    for (;;) {
      pteAddr = table + tableIndex(gvaLo, gvaHi, level) * 8;
      pte = mem.read32(pteAddr);
      pteHigh = mem.read32(pteAddr + 4);
      if (!(pte & PT_PRESENT_MASK)) return fail(out, access, 0, ctl, mode);
      if (
        pteHigh & LONG_RSVD_HIGH ||
        (!(ctl & WalkCtl.NXE) && pteHigh & PAE_NX_HIGH) ||
        (level >= 3 && pte & PT_PAGE_SIZE_MASK && (level === 4 || !(ctl & WalkCtl.PAGE1G)))
      )
        return fail(out, access, PFERR.PRESENT | PFERR.RSVD, ctl, mode);
      writable &&= (pte & PT_WRITABLE_MASK) !== 0;
      usr &&= (pte & PT_USER_MASK) !== 0;
      if (pteHigh & PAE_NX_HIGH) nx = true;
      if ((level === 2 || level === 3) && pte & PT_PAGE_SIZE_MASK) {
        // 2 MiB: bits 20:13 reserved; 1 GiB: bits 29:13 (SDM Tables 4-17, 4-19).
        if (pte & (level === 3 ? 0x3fffe000 : 0x001fe000))
          return fail(out, access, PFERR.PRESENT | PFERR.RSVD, ctl, mode);
        large = true;
        break;
      }
      if (level === 1) break;
      if (setAccessed32(mem, pteAddr, pte)) {
        if (out.written0 < 0) out.written0 = pteAddr;
        else if (out.written1 < 0) out.written1 = pteAddr;
        else out.written3 = pteAddr;
      }
      table = (pteHigh & 0xf) * TWO32 + ((pte & 0xfffff000) >>> 0);
      level--;
    }
  } else {
    // PAE: PDPTE (4 registers), then PDE and PTE of 8 bytes (SDM 4.4).
    const i = gva >>> 30;
    let pdpteLo: number;
    let pdpteHi: number;
    if (pdptes !== null) {
      // Split without fmod (bits.ts): `v % TWO32` was a sixth of this walker's time on the shadow
      // MMU's PAE walks (bench-ctxsw32).
      const v = pdptes[i];
      pdpteLo = v >>> 0;
      pdpteHi = high32(v, pdpteLo);
    } else {
      const a = ((root & 0xffffffe0) >>> 0) + i * 8;
      pdpteLo = mem.read32(a);
      pdpteHi = mem.read32(a + 4);
    }
    if (!(pdpteLo & PT_PRESENT_MASK)) return fail(out, access, 0, ctl, mode);
    // PDPTE reserved bits: 2:1, 8:5, 63:MAXPHYADDR (SDM Table 4-8).
    if (pdpteLo & 0x1e6 || pdpteHi & 0xfffffff0)
      return fail(out, access, PFERR.PRESENT | PFERR.RSVD, ctl, mode);
    pteAddr = (pdpteHi & 0xf) * TWO32 + ((pdpteLo & 0xfffff000) >>> 0) + ((gva >>> 21) & 0x1ff) * 8;
    level = 2;
    for (;;) {
      pte = mem.read32(pteAddr);
      pteHigh = mem.read32(pteAddr + 4);
      if (!(pte & PT_PRESENT_MASK)) return fail(out, access, 0, ctl, mode);
      if (pteHigh & PAE_RSVD_HIGH || (!(ctl & WalkCtl.NXE) && pteHigh & PAE_NX_HIGH))
        return fail(out, access, PFERR.PRESENT | PFERR.RSVD, ctl, mode);
      writable &&= (pte & PT_WRITABLE_MASK) !== 0;
      usr &&= (pte & PT_USER_MASK) !== 0;
      if (pteHigh & PAE_NX_HIGH) nx = true;
      if (level === 2 && pte & PT_PAGE_SIZE_MASK) {
        // 2 MiB page: bits 20:13 reserved (SDM Table 4-9).
        if (pte & 0x001fe000) return fail(out, access, PFERR.PRESENT | PFERR.RSVD, ctl, mode);
        large = true;
        break;
      }
      if (level === 1) break;
      if (setAccessed32(mem, pteAddr, pte)) out.written1 = pteAddr;
      pteAddr = (pteHigh & 0xf) * TWO32 + ((pte & 0xfffff000) >>> 0) + ((gva >>> 12) & 0x1ff) * 8;
      level = 1;
    }
  }

  // Permission checks (SDM 4.6): user accesses need U/S=1 at every level; writes need R/W=1
  // everywhere, except supervisor writes when CR0.WP = 0; fetches from XD pages fault.
  if (user && !usr) return fail(out, access, PFERR.PRESENT, ctl, mode);
  if (write && !writable && (user || ctl & WalkCtl.WP)) return fail(out, access, PFERR.PRESENT, ctl, mode);
  if (fetch && nx) return fail(out, access, PFERR.PRESENT, ctl, mode);

  let newPte = pte | PT_ACCESSED_MASK;
  if (write) newPte |= PT_DIRTY_MASK;
  if (newPte !== pte) {
    mem.write32(pteAddr, newPte >>> 0);
    out.written2 = pteAddr;
  }

  let frame: number;
  if (mode === 1) {
    if (large) frame = ((pte >>> 13) & 0xf) * TWO32 + ((pte & 0xffc00000) >>> 0) + (gva & 0x3ff000);
    else frame = (pte & 0xfffff000) >>> 0;
  } else if (large && level === 3) {
    frame = (pteHigh & 0xf) * TWO32 + ((pte & 0xc0000000) >>> 0) + (gva & 0x3ffff000);
  } else if (large) {
    frame = (pteHigh & 0xf) * TWO32 + ((pte & 0xffe00000) >>> 0) + (gva & 0x1ff000);
  } else {
    frame = (pteHigh & 0xf) * TWO32 + ((pte & 0xfffff000) >>> 0);
  }
  out.pfn = frame / 4096;
  out.pa = frame + (gva & 0xfff);
  out.writable = writable;
  out.user = usr;
  out.nx = nx;
  out.global = (pte & PT_GLOBAL_MASK) !== 0 && (ctl & WalkCtl.PGE) !== 0;
  out.dirty = (newPte & PT_DIRTY_MASK) !== 0;
  out.pageSize = large ? (mode === 1 ? 0x400000 : level === 3 ? 0x40000000 : 0x200000) : 4096;
  out.errorCode = 0;
  return true;
}

function setAccessed32(mem: PhysicalMemory, addr: number, pte: number): boolean {
  if (pte & PT_ACCESSED_MASK) return false;
  mem.write32(addr, (pte | PT_ACCESSED_MASK) >>> 0);
  return true;
}

function fail(out: WalkResult, access: number, bits: number, ctl: number, mode: number): false {
  let ec = bits | (access & (PFERR.WRITE | PFERR.USER));
  // I/D is reported only when XD can exist: PAE or 4-level paging with EFER.NXE (SDM 4.7).
  if (access & PFERR.FETCH && mode >= 2 && ctl & WalkCtl.NXE) ec |= PFERR.FETCH;
  out.errorCode = ec;
  return false;
}
