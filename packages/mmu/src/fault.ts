import { holdAsDoubles } from '@kvm/x86emu';
import { kvmMmuFreeSomePages, kvmMmuGetPage } from './page-cache.js';
import {
  ACC_ALL,
  hpfnHi,
  hpfnLo,
  PAGE_SHIFT,
  PFERR_FETCH_MASK,
  PFERR_RSVD_MASK,
  PFERR_USER_MASK,
  PFERR_WRITE_MASK,
  PT_DIRTY_MASK,
  PT_PRESENT_MASK,
  pteIndex,
  spteHpfn,
} from './pte-format.js';
import { mmuSetSpte, SET_SPTE_EMULATE } from './set-spte.js';
import { markSptePresent, type ShadowPage, spteRef } from './shadow-page.js';
import type { MmuState } from './state.js';
import { type GuestWalker, walkAddr64 } from './walker.js';

/**
 * What the exit handler does after a #PF exit. One named result each (KVM 2007 folded three of
 * them into one int):
 * - `fixed`: the shadow tables now map the address; resume the guest (retry the instruction).
 * - `inject-pf`: the guest's own tables refuse the access; inject #PF with `errorCode`, CR2 = `cr2`.
 * - `emulate`: a write to a write-protected guest page table at `gpa`; emulate the instruction,
 *   then call `kvmMmuPteWrite(gpa, bytes)`; if emulation fails, `kvmMmuUnprotectPageVirt(cr2)`
 *   and retry.
 * - `mmio`: `gpa` is not RAM; emulate the instruction with its access going to the device model.
 * - `no-memory`: the host could not supply a page for the memory caches; nothing changed. Fail
 *   KVM_RUN with ENOMEM (or free memory and retry).
 *
 * `cr2` is the faulting linear address as a plain number (4-level: bits 47:0; the guest's CR2
 * is that value sign-extended from bit 47). The objects are the MMU's own, reused by the next
 * `pageFault` (the fault path allocates nothing): read them before calling it again.
 */
export type PageFaultResult =
  | { readonly kind: 'fixed' }
  | { readonly kind: 'inject-pf'; readonly errorCode: number; readonly cr2: number }
  | { readonly kind: 'emulate'; readonly gpa: number }
  | { readonly kind: 'mmio'; readonly gpa: number }
  | { readonly kind: 'no-memory' };

export const PF_FIXED: PageFaultResult = Object.freeze({ kind: 'fixed' });
export const PF_NO_MEMORY: PageFaultResult = Object.freeze({ kind: 'no-memory' });

/** The reusable results with a payload, one set per MMU (see {@link PageFaultResult}). */
export class PageFaultResults {
  readonly injectPf = { kind: 'inject-pf' as const, errorCode: 0, cr2: 0 };
  readonly emulate = { kind: 'emulate' as const, gpa: 0 };
  readonly mmio = { kind: 'mmio' as const, gpa: 0 };

  constructor() {
    // Guest-physical addresses and CR2 values at or above 2^31 (x86emu's double-fields.ts).
    holdAsDoubles(this.injectPf, ['cr2']);
    holdAsDoubles(this.emulate, ['gpa']);
    holdAsDoubles(this.mmio, ['gpa']);
  }
}

/**
 * The page-fault handler proper (`nonpaging_page_fault` / `FNAME(page_fault)`), with the memory
 * caches already topped up and roots loaded by the caller (KvmMmu.pageFault).
 */
/** `gvaLo` may be an int32 or a uint32 (only its bits are used); `gvaHi` is bits 47:32 or 0. */
export function handlePageFault(
  s: MmuState,
  gvaLo: number,
  gvaHi: number,
  errorCode: number,
): PageFaultResult {
  const st = s.stats;
  const ctx = s.ctx;
  kvmMmuFreeSomePages(s.kvm);
  const write = (errorCode & PFERR_WRITE_MASK) !== 0;
  const user = (errorCode & PFERR_USER_MASK) !== 0;
  let gfn: number;
  let access: number;
  let dirty: boolean;
  let walker: GuestWalker | null = null;
  if (s.tdp) {
    // Two-dimensional paging (`kvm_tdp_page_fault`): the address is guest-physical, every page
    // direct; above 4 GiB too (`gvaHi`).
    gfn = gvaHi * 0x100000 + (gvaLo >>> PAGE_SHIFT);
    access = ACC_ALL;
    dirty = true;
  } else if (ctx.fmt === null) {
    // Paging off: gva is the gpa (identity), every shadow page metaphysical.
    gfn = gvaLo >>> PAGE_SHIFT;
    access = ACC_ALL;
    dirty = true;
  } else {
    walker = s.walker;
    const params = s.walkParams!;
    const mask = PFERR_WRITE_MASK | PFERR_USER_MASK | PFERR_FETCH_MASK;
    if (!walkAddr64(walker, s.host, params, gvaLo, gvaHi, errorCode & mask, true)) {
      st.pfGuest++;
      if (walker.errorCode & PFERR_RSVD_MASK) st.pfRsvd++;
      const r = s.results.injectPf;
      r.errorCode = walker.errorCode;
      r.cr2 = gvaHi * 0x100000000 + (gvaLo >>> 0);
      return r;
    }
    gfn = walker.gfn;
    access = walker.access;
    dirty = (walker.pteLo[walker.level] & PT_DIRTY_MASK) !== 0;
  }
  const gpa = gfn * 4096 + (gvaLo & 0xfff);
  if (s.host.gfnToHpfn(gfn) < 0) {
    st.pfMmio++;
    const r = s.results.mmio;
    r.gpa = gpa;
    return r;
  }
  if (walker !== null && walker.level > 1) {
    if (walker.level === 2) st.pfLarge2M++;
    else st.pfLarge1G++;
  }
  const page = fetch(s, gvaLo, gvaHi, walker);
  if (page === null) {
    // No shadow root for this address although the guest walk succeeded: cannot happen while
    // roots and PDPTEs are loaded together. Counted; the guest retries.
    st.inconsistencies++;
    return PF_FIXED;
  }
  const index = (gvaLo >>> PAGE_SHIFT) & 511;
  const r = mmuSetSpte(s, page, index, gfn, access, write, user, dirty, true);
  if (r === SET_SPTE_EMULATE) {
    st.pfEmulate++;
    const e = s.results.emulate;
    e.gpa = gpa;
    return e;
  }
  if (s.tdp && s.kvm.options.tdpPrefetch > 1) tdpPrefetch(s, page, index, gfn);
  st.pfFixed++;
  return PF_FIXED;
}

/**
 * TDP: maps the RAM frames of the aligned group of `MmuOptions.tdpPrefetch` entries around entry
 * `index` of level-1 page `page`, just mapped for `gfn` (`direct_pte_prefetch`). Each entry is
 * what a nested page fault on its frame would make (every right, no guest table involved: the
 * same `mmuSetSpte` call, a read fault), so only the exits go: Debian's boot on `-accel vmx`
 * took 21,427 EPT violations for RAM, one per 4 KiB page it touched. Entries present already are
 * left, and frames without a slot or a host page (MMIO, holes) stay unmapped, their accesses
 * faulting as before. Invalidation is the faulting frame's: a slot change zaps every page
 * (`kvmMmuZapAll`), and a zapped or evicted page drops its entries with a TLB flush.
 */
function tdpPrefetch(s: MmuState, page: ShadowPage, index: number, gfn: number): void {
  const n = s.kvm.options.tdpPrefetch;
  const first = index & ~(n - 1);
  const base = gfn - index;
  const spt = page.spt;
  let mapped = 0;
  for (let j = first; j < first + n; j++) {
    if (j === index || spt[j * 2] & PT_PRESENT_MASK) continue;
    if (s.host.gfnToHpfn(base + j) < 0) continue;
    mmuSetSpte(s, page, j, base + j, ACC_ALL, false, false, true, true);
    mapped++;
  }
  s.stats.tdpPrefetched += mapped;
}

/**
 * Descends the shadow tables for `gva` from the root, creating the missing shadow pages
 * (`FNAME(fetch)` / `nonpaging_map`), and returns the level-1 shadow page that holds the leaf.
 * Tables come from the walker's recorded table gfns; below a guest large page, and everywhere
 * when paging is off, the pages are metaphysical, named by the first gfn they map.
 */
export function fetch(s: MmuState, gvaLo: number, gvaHi: number, w: GuestWalker | null): ShadowPage | null {
  const ctx = s.ctx;
  let page: ShadowPage | null;
  let level: number;
  if (ctx.shadowRootLevel === 3) {
    page = s.paeRootPages[(gvaLo >>> 30) & 3];
    level = 2;
  } else {
    page = s.rootPage;
    level = ctx.shadowRootLevel;
  }
  if (page === null) return null;
  while (level > 1) {
    const index = pteIndex(gvaLo, gvaHi, PAGE_SHIFT + 9 * (level - 1), 511);
    const at = index * 2;
    const lo = page.spt[at];
    if (lo & PT_PRESENT_MASK) {
      const child = s.byHpfn.get(spteHpfn(lo, page.spt[at + 1]));
      if (child === undefined) {
        s.stats.inconsistencies++;
        return null;
      }
      page = child;
      level--;
      continue;
    }
    const childLevel = level - 1;
    let gfn: number;
    let metaphysical: boolean;
    let access: number;
    if (w === null || childLevel < w.level) {
      // No guest table behind it: paging off, or the area of a guest large page. Name the page by
      // the first frame it maps (the frame actually mapped, not the directory's).
      // (A 4-level guest's 1 GiB page gets a metaphysical level-2 page and level-1 pages under it.)
      const frames = w === null ? gvaHi * 0x100000 + (gvaLo >>> PAGE_SHIFT) : w.gfn;
      const span = 2 ** (9 * childLevel);
      gfn = frames - (frames % span);
      metaphysical = true;
      access = w === null ? ACC_ALL : w.accessAt[w.level];
    } else {
      gfn = w.tableGfn[childLevel];
      metaphysical = false;
      access = w.accessAt[level];
    }
    const child = kvmMmuGetPage(s, gfn, gvaLo, childLevel, metaphysical, access, spteRef(page, index));
    // Directory sptes grant everything; the leaf carries the effective rights.
    page.spt[at] = (hpfnLo(child.hpfn) | s.spteFmt.dirLo) >>> 0;
    page.spt[at + 1] = hpfnHi(child.hpfn);
    markSptePresent(page, index);
    page = child;
    level = childLevel;
  }
  return page;
}
