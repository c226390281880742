import { packRole } from './page-role.js';
import { firstParentPte, mmuPageAddParentPte, mmuPageRemoveParentPte } from './parent-ptes.js';
import { PT_PRESENT_MASK, spteHpfn } from './pte-format.js';
import { ShadowPage, spteRef } from './shadow-page.js';
import type { MmuState } from './state.js';
import type { ZapCause } from './stats.js';
import { rmapWriteProtect } from './write-protect.js';

/**
 * The shadow page cache: the gfn hash, the active list, and the life of a shadow page
 * (`kvm_mmu_get_page`, `kvm_mmu_zap_page`, `kvm_mmu_free_some_pages`).
 */

/** Keep at least this many shadow pages free before handling a fault (KVM_MIN_FREE_MMU_PAGES). */
export const KVM_MIN_FREE_MMU_PAGES = 5;
/** When below it, free up to this many (KVM_REFILL_PAGES). */
export const KVM_REFILL_PAGES = 25;

/** The page for (gfn, role) if cached. */
export function kvmMmuLookupPage(s: MmuState, gfn: number, role: number): ShadowPage | null {
  const list = s.hash.get(gfn);
  if (list === undefined) return null;
  for (let i = 0; i < list.length; i++) if (list[i].role === role) return list[i];
  return null;
}

/** Whether `gfn` is shadowed as a guest page table (a non-metaphysical shadow page exists). */
export function isGfnShadowed(s: MmuState, gfn: number): boolean {
  const list = s.hash.get(gfn);
  if (list === undefined) return false;
  for (let i = 0; i < list.length; i++) if (!list[i].metaphysical) return true;
  return false;
}

/**
 * Finds or creates the shadow page for `gfn` at `level`, linking it under `parentRef` (an
 * SpteRef, or -1 for a root). `gaddr` is a guest-virtual address inside the area it covers, used
 * to compute the quadrant for 32-bit guests. A new non-metaphysical page write-protects its gfn.
 * Needs a topped-up page cache and a free slot (kvmMmuFreeSomePages) — the fault path has both.
 */
export function kvmMmuGetPage(
  s: MmuState,
  gfn: number,
  gaddr: number,
  level: number,
  metaphysical: boolean,
  access: number,
  parentRef: number,
): ShadowPage {
  const ctx = s.ctx;
  let quadrant = 0;
  if (ctx.rootLevel === 2 && !metaphysical) {
    // A 32-bit guest table maps 2^(10·level+2) bytes, a shadow table 2^(9·level+3): which part?
    quadrant = Math.floor((gaddr >>> 0) / 2 ** (12 + 9 * level)) & ((1 << level) - 1);
  }
  const role = packRole(ctx.rootLevel, level, quadrant, metaphysical, access, ctx.wp, ctx.nxe, ctx.pse);
  const found = kvmMmuLookupPage(s, gfn, role);
  if (found !== null) {
    s.stats.cacheHits++;
    if (parentRef >= 0) addParent(s, found, parentRef);
    return found;
  }
  s.stats.cacheMisses++;
  // Changelog: "When we cache a guest page table into a shadow page table, we need to prevent
  // further access to that page by the guest" — metaphysical pages shadow no guest table, and a
  // gfn that already has a shadow page is already protected.
  const protect = !metaphysical && !isGfnShadowed(s, gfn);
  const page = allocShadowPage(s, gfn, role);
  if (parentRef >= 0) addParent(s, page, parentRef);
  if (protect) rmapWriteProtect(s, gfn);
  return page;
}

function addParent(s: MmuState, page: ShadowPage, ref: number): void {
  mmuPageAddParentPte(s.caches, page, ref);
  s.stats.parentPteAdds++;
}

function allocShadowPage(s: MmuState, gfn: number, role: number): ShadowPage {
  const hpfn = s.caches.allocPage();
  const page = s.spare.pop() ?? new ShadowPage();
  const id = s.freeIds.length > 0 ? s.freeIds.pop()! : s.pagesById.length;
  page.init(id, gfn, role, hpfn, s.host.pageView(hpfn));
  s.pagesById[id] = page;
  s.byHpfn.set(hpfn, page);
  const list = s.hash.get(gfn);
  if (list === undefined) s.hash.set(gfn, [page]);
  else list.push(page);
  activeAddHead(s, page);
  s.nPages++;
  countLevel(s, page.level, 1);
  s.stats.shadowPagesCreated++;
  s.stats.shadowPagesLive = s.nPages;
  return page;
}

/** Keeps the per-level live counters (stats.shadowPagesL1…L4). */
function countLevel(s: MmuState, level: number, delta: number): void {
  const st = s.stats;
  if (level === 1) st.shadowPagesL1 += delta;
  else if (level === 2) st.shadowPagesL2 += delta;
  else if (level === 3) st.shadowPagesL3 += delta;
  else st.shadowPagesL4 += delta;
}

function activeAddHead(s: MmuState, page: ShadowPage): void {
  page.prev = null;
  page.next = s.activeHead;
  if (s.activeHead !== null) s.activeHead.prev = page;
  s.activeHead = page;
  if (s.activeTail === null) s.activeTail = page;
}

function activeRemove(s: MmuState, page: ShadowPage): void {
  if (page.prev !== null) page.prev.next = page.next;
  else s.activeHead = page.next;
  if (page.next !== null) page.next.prev = page.prev;
  else s.activeTail = page.prev;
  page.prev = page.next = null;
}

/**
 * Clears one spte and undoes what it implied: a leaf leaves its host frame's rmap, a directory
 * entry leaves its child's parent chain. Requests a TLB flush if it was present.
 */
export function dropSpte(s: MmuState, page: ShadowPage, index: number): void {
  const lo = page.spt[index * 2];
  if (!(lo & PT_PRESENT_MASK)) {
    page.spt[index * 2] = 0;
    page.spt[index * 2 + 1] = 0;
    return;
  }
  const hpfn = spteHpfn(lo, page.spt[index * 2 + 1]);
  const ref = spteRef(page, index);
  if (page.level === 1) {
    if (s.rmap.remove(hpfn, ref)) s.stats.rmapRemoves++;
    else s.stats.inconsistencies++;
  } else {
    const child = s.byHpfn.get(hpfn);
    if (child !== undefined && mmuPageRemoveParentPte(s.caches, child, ref)) s.stats.parentPteRemoves++;
    else s.stats.inconsistencies++;
  }
  page.spt[index * 2] = 0;
  page.spt[index * 2 + 1] = 0;
  s.requestTlbFlush();
}

/**
 * Zaps a shadow page (`kvm_mmu_zap_page`): clears every spte that points at it, clears its own
 * sptes (children lose this parent, leaves leave their rmaps), then frees it — unless it is a
 * root in use, which stays and moves to the head of the active list (changelog: "We always need
 * cr3 to point to something valid, so if we detect that we're freeing a root page, simply push it
 * back to the top of the active list"). Freeing only here is the changelog's "Move the freeing to
 * kvm_mmu_zap_page()".
 */
export function kvmMmuZapPage(s: MmuState, page: ShadowPage, cause: ZapCause): void {
  s.stats.shadowPagesZapped++;
  countCause(s, cause);
  for (let ref = firstParentPte(page); ref >= 0; ref = firstParentPte(page)) {
    const parent = s.pageByRef(ref);
    if (parent === null) {
      // Should not happen; drop the link so the loop ends.
      mmuPageRemoveParentPte(s.caches, page, ref);
      s.stats.inconsistencies++;
      continue;
    }
    dropSpte(s, parent, ref & 511);
    if (firstParentPte(page) === ref) {
      // The parent spte did not point here after all (a broken invariant): unlink by hand so
      // the loop ends.
      mmuPageRemoveParentPte(s.caches, page, ref);
      s.stats.inconsistencies++;
    }
  }
  for (let i = 0; i < 512; i++) if (page.spt[i * 2] !== 0 || page.spt[i * 2 + 1] !== 0) dropSpte(s, page, i);
  if (page.rootCount > 0) {
    s.stats.zapRootKept++;
    activeRemove(s, page);
    activeAddHead(s, page);
    return;
  }
  freeShadowPage(s, page);
}

function countCause(s: MmuState, cause: ZapCause): void {
  const st = s.stats;
  switch (cause) {
    case 'flood':
      st.zapFlood++;
      break;
    case 'misaligned':
      st.zapMisaligned++;
      break;
    case 'unprotect':
      st.zapUnprotect++;
      break;
    case 'evict':
      st.zapEvict++;
      break;
    case 'all':
      st.zapAll++;
      break;
    case 'cacheOff':
      st.zapCacheOff++;
      break;
  }
}

function freeShadowPage(s: MmuState, page: ShadowPage): void {
  const list = s.hash.get(page.gfn);
  if (list !== undefined) {
    const i = list.indexOf(page);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) s.hash.delete(page.gfn);
  }
  s.byHpfn.delete(page.hpfn);
  activeRemove(s, page);
  s.pagesById[page.id] = null;
  s.freeIds.push(page.id);
  s.caches.freePage(page.hpfn);
  page.hpfn = -1;
  page.id = -1;
  s.spare.push(page);
  s.nPages--;
  countLevel(s, page.level, -1);
  s.stats.shadowPagesFreed++;
  s.stats.shadowPagesLive = s.nPages;
}

/**
 * Before a fault (or root allocation), make sure enough shadow pages are free, zapping the
 * oldest ones (changelog: "When beginning to process a page fault, make sure we have enough
 * shadow pages available to service the fault. If not, free some pages").
 */
export function kvmMmuFreeSomePages(s: MmuState): void {
  const max = s.options.maxShadowPages;
  if (max - s.nPages >= KVM_MIN_FREE_MMU_PAGES) return;
  // Roots in use move to the head instead of going away, so bound the walk.
  let budget = s.nPages;
  while (max - s.nPages < KVM_REFILL_PAGES && budget-- > 0 && s.activeTail !== null) {
    kvmMmuZapPage(s, s.activeTail, 'evict');
  }
}

/** Zaps every shadow page (roots in use stay, emptied). */
export function kvmMmuZapAllPages(s: MmuState, cause: ZapCause): void {
  // Zapping one page can free others' links but never frees another page, so a snapshot is safe.
  const pages: ShadowPage[] = [];
  for (let p = s.activeHead; p !== null; p = p.next) pages.push(p);
  for (const p of pages) if (p.id >= 0) kvmMmuZapPage(s, p, cause);
}
