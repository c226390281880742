import type { MmuHostOps } from './host.js';
import {
  ACC_ALL,
  ACC_EXEC_MASK,
  PAGE_SHIFT,
  PFERR_FETCH_MASK,
  PFERR_PRESENT_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  PT_ACCESSED_MASK,
  PT_DIRTY_MASK,
  PT_PAGE_SIZE_MASK,
  PT_PRESENT_MASK,
  PT_USER_MASK,
  PT_WRITABLE_MASK,
  PT64_NX_HI_MASK,
  type PteFormat,
  pse36Gfn,
  pte64Gfn,
  pteIndex,
} from './pte-format.js';

/**
 * The guest page-table walker (`walk_addr` from paging_tmpl.h), written once over a
 * {@link PteFormat}. It always descends to the lowest level (a 4 KiB pte) unless a directory
 * entry maps a large page (changelog: "It is never necessary to fetch a guest entry from an
 * intermediate page table level … always descending into the lowest possible level"), and records
 * the gfn of every table it walked ("Saving the table gfns removes the need to walk the guest and
 * host page tables in lockstep").
 *
 * Arrays are indexed by level (1 = page table … 4 = PML4); one walker object is reused.
 */
export class GuestWalker {
  /** Level of the leaf entry: 1, or 2 (2/4 MiB) or 3 (1 GiB) for a large page. */
  level = 0;
  /** The 4 KiB guest frame the address maps to (for a large page, the frame actually used). */
  gfn = 0;
  /** Effective rights (ACC_*) after every level. */
  access = 0;
  /** #PF error code when the walk failed. */
  errorCode = 0;
  /** [L]: gfn of the guest table holding the level-L entries. */
  readonly tableGfn = new Float64Array(6);
  /** [L]: gpa of the level-L entry (-1 for PAE PDPTEs, which are not re-read). */
  readonly ptePa = new Float64Array(6);
  readonly pteLo = new Uint32Array(6);
  readonly pteHi = new Uint32Array(6);
  /** [L]: rights accumulated from the top down to and including level L. */
  readonly accessAt = new Uint8Array(6);
  private readonly scratch = new Uint8Array(8);
  private readonly scratch4 = this.scratch.subarray(0, 4);
  private readonly view = new DataView(this.scratch.buffer);

  /** Reads one guest entry into `pteLo/pteHi[level]`. */
  readPte(host: MmuHostOps, fmt: PteFormat, gpa: number, level: number): boolean {
    const dst = fmt.pteSize === 8 ? this.scratch : this.scratch4;
    if (!host.readGuest(gpa, dst)) return false;
    this.pteLo[level] = this.view.getUint32(0, true);
    this.pteHi[level] = fmt.pteSize === 8 ? this.view.getUint32(4, true) : 0;
    return true;
  }
}

/** What the walker needs to know about the vCPU. */
export interface WalkParams {
  fmt: PteFormat;
  cr3: number;
  /** PAE only: PDPTEs as lo/hi halves. */
  pdptes: Uint32Array;
  wp: boolean;
}

const AD_RETRIES = 4;

/**
 * Translates `gva` for an access described by the #PF error-code bits in `access`
 * (PFERR_WRITE_MASK, PFERR_USER_MASK, PFERR_FETCH_MASK). On success returns true with the walker
 * filled in and, if `setAccessedDirty`, the accessed bits of every entry used and the dirty bit
 * of the leaf (on a write) set in guest memory. On failure returns false with `errorCode` holding
 * the error code a real CPU would push (SDM Vol. 3A 4.7), never touching guest memory.
 *
 * `gva` is a plain number: 32 bits for 2- and 3-level formats, a 48-bit linear address for
 * 4-level (bits 63:48 of a canonical address are copies of bit 47 and select nothing). Use
 * {@link walkAddr64} with halves for a full 64-bit value.
 *
 * A table that is not guest RAM reads as not present (a real PC would read open bus).
 */
export function walkAddr(
  w: GuestWalker,
  host: MmuHostOps,
  p: WalkParams,
  gva: number,
  access: number,
  setAccessedDirty: boolean,
): boolean {
  const gvaHi = p.fmt.rootLevel === 4 ? Math.floor(gva / 0x100000000) >>> 0 : 0;
  return walkAddr64(w, host, p, gva | 0, gvaHi, access, setAccessedDirty);
}

/**
 * {@link walkAddr} for a linear address given as halves (`gvaHi` = bits 63:32; only 47:32 are
 * used). Either half may be given as int32 or uint32: only the bits matter.
 */
export function walkAddr64(
  w: GuestWalker,
  host: MmuHostOps,
  p: WalkParams,
  gvaLo: number,
  gvaHi: number,
  access: number,
  setAccessedDirty: boolean,
): boolean {
  for (let attempt = 0; ; attempt++) {
    const r = walkOnce(w, host, p, gvaLo, gvaHi, access);
    if (!r || !setAccessedDirty) return r;
    if (updateAccessedDirty(w, host, p.fmt, access) || attempt === AD_RETRIES) return true;
    // The guest changed an entry under us (another vCPU, or a self-mapped table whose A bit
    // this very walk set one level up): walk again, as hardware would.
  }
}

function walkOnce(
  w: GuestWalker,
  host: MmuHostOps,
  p: WalkParams,
  gvaLo: number,
  gvaHi: number,
  access: number,
): boolean {
  const fmt = p.fmt;
  const write = (access & PFERR_WRITE_MASK) !== 0;
  const user = (access & PFERR_USER_MASK) !== 0;
  const fetch = (access & PFERR_FETCH_MASK) !== 0;
  if (fmt.rootLevel !== 4) gvaHi = 0;
  else gvaHi &= 0xffff;
  let level = fmt.rootLevel;
  let acc = ACC_ALL;
  w.errorCode = 0;

  if (fmt.rootFromPdptes) {
    // PAE: the PDPTEs were loaded (and checked for reserved bits) when CR3 was loaded.
    const i = (gvaLo >>> 30) & 3;
    const lo = p.pdptes[i * 2];
    const hi = p.pdptes[i * 2 + 1];
    w.tableGfn[3] = Math.floor(p.cr3 / 4096);
    w.ptePa[3] = -1;
    w.pteLo[3] = lo;
    w.pteHi[3] = hi;
    w.accessAt[3] = acc;
    if (!(lo & PT_PRESENT_MASK)) return fail(w, fmt, access, 0);
    w.tableGfn[2] = pte64Gfn(lo, hi, fmt.addrHiMask);
    level = 2;
  } else {
    // CR3 bits 11:0 are PWT/PCD (or a PCID), never address bits.
    w.tableGfn[level] = fmt.pteSize === 4 ? (p.cr3 >>> PAGE_SHIFT) & 0xfffff : Math.floor(p.cr3 / 4096);
  }

  const indexMask = (1 << fmt.bitsPerLevel) - 1;
  for (;;) {
    const shift = PAGE_SHIFT + fmt.bitsPerLevel * (level - 1);
    const gpa = w.tableGfn[level] * 4096 + pteIndex(gvaLo, gvaHi, shift, indexMask) * fmt.pteSize;
    w.ptePa[level] = gpa;
    if (!w.readPte(host, fmt, gpa, level)) return fail(w, fmt, access, 0);
    const lo = w.pteLo[level];
    const hi = w.pteHi[level];
    if (!(lo & PT_PRESENT_MASK)) return fail(w, fmt, access, 0);
    const ps =
      level > 1 && (fmt.largePageLevels & (1 << level)) !== 0 && (lo & PT_PAGE_SIZE_MASK) !== 0 ? 1 : 0;
    const slot = level * 2 + ps;
    if ((lo & fmt.rsvdLo[slot]) !== 0 || (hi & fmt.rsvdHi[slot]) !== 0) {
      return fail(w, fmt, access, PFERR_PRESENT_MASK | PFERR_RSVD_MASK);
    }
    acc &=
      (lo & (PT_WRITABLE_MASK | PT_USER_MASK)) | (fmt.nx && (hi & PT64_NX_HI_MASK) !== 0 ? 0 : ACC_EXEC_MASK);
    w.accessAt[level] = acc;
    if (level === 1 || ps) {
      w.level = level;
      if (level === 1) {
        w.gfn = fmt.pteSize === 4 ? lo >>> PAGE_SHIFT : pte64Gfn(lo, hi, fmt.addrHiMask);
      } else {
        // A large page: the frame actually used is the base plus the offset inside the page.
        // (Changelog: map "the actual gfn being mapped" rather than the directory's.)
        const base = fmt.pteSize === 4 ? pse36Gfn(lo) : pte64Gfn(lo, hi, fmt.addrHiMask);
        const span = 1 << (fmt.bitsPerLevel * (level - 1));
        w.gfn = base + ((gvaLo >>> PAGE_SHIFT) & (span - 1));
      }
      break;
    }
    w.tableGfn[level - 1] = fmt.pteSize === 4 ? lo >>> PAGE_SHIFT : pte64Gfn(lo, hi, fmt.addrHiMask);
    level--;
  }

  // Permission checks, SDM Vol. 3A 4.6: user accesses need U at every level; writes need W at
  // every level unless a supervisor write with CR0.WP=0; fetches need XD clear when NX is on.
  if (user && !(acc & PT_USER_MASK)) return fail(w, fmt, access, PFERR_PRESENT_MASK);
  if (write && !(acc & PT_WRITABLE_MASK) && (user || p.wp)) return fail(w, fmt, access, PFERR_PRESENT_MASK);
  if (fetch && fmt.nx && !(acc & ACC_EXEC_MASK)) return fail(w, fmt, access, PFERR_PRESENT_MASK);
  w.access = acc;
  return true;
}

function fail(w: GuestWalker, fmt: PteFormat, access: number, bits: number): false {
  // I/D is reported only where instruction fetches can be refused: PAE formats with NXE (4.7).
  const fetchBit = fmt.nx ? access & PFERR_FETCH_MASK : 0;
  w.errorCode = bits | (access & (PFERR_WRITE_MASK | PFERR_USER_MASK)) | fetchBit;
  return false;
}

/**
 * Sets A in every entry used and D in the leaf on a write (SDM Vol. 3A 4.8), with a 32-bit
 * cmpxchg on the low dword so a concurrent guest change is not overwritten. False: retry the walk.
 */
function updateAccessedDirty(w: GuestWalker, host: MmuHostOps, fmt: PteFormat, access: number): boolean {
  const top = fmt.rootFromPdptes ? 2 : fmt.rootLevel;
  for (let level = top; level >= w.level; level--) {
    const lo = w.pteLo[level];
    let want = lo | PT_ACCESSED_MASK;
    if (level === w.level && (access & PFERR_WRITE_MASK) !== 0) want |= PT_DIRTY_MASK;
    want >>>= 0;
    if (want === lo) continue;
    if (!host.cmpxchgGuest32(w.ptePa[level], lo, want)) return false;
    w.pteLo[level] = want;
  }
  return true;
}
