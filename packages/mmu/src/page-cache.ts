import { packRole, tdpRole } from './page-role.js';
import { firstParentPte, mmuPageAddParentPte, mmuPageRemoveParentPte } from './parent-ptes.js';
import { PT_PRESENT_MASK, spteHpfn } from './pte-format.js';
import { markSpteAbsent, ShadowPage, spteRef } from './shadow-page.js';
import type { MmuState } from './state.js';
import type { ZapCause } from './stats.js';
import { kvmSyncPage, mmuSyncChildren } from './unsync.js';
import type { MmuVmState } from './vm-state.js';
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
export function kvmMmuLookupPage(kvm: MmuVmState, gfn: number, role: number): ShadowPage | null {
  const list = kvm.hash.get(gfn);
  if (list === undefined) return null;
  for (let i = 0; i < list.length; i++) if (list[i].role === role) return list[i];
  return null;
}

/** Whether `gfn` is shadowed as a guest page table (a non-metaphysical shadow page exists). */
export function isGfnShadowed(kvm: MmuVmState, gfn: number): boolean {
  const list = kvm.hash.get(gfn);
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
  const kvm = s.kvm;
  let quadrant = 0;
  if (ctx.rootLevel === 2 && !metaphysical) {
    // A 32-bit guest table maps 2^(10·level+2) bytes, a shadow table 2^(9·level+3): which part?
    quadrant = Math.floor((gaddr >>> 0) / 2 ** (12 + 9 * level)) & ((1 << level) - 1);
  }
  // TDP pages do not depend on the guest's mode: one map serves every mode (kvm_mmu_get_page
  // with the TDP root_role).
  const role = s.tdp
    ? tdpRole(level, access)
    : packRole(ctx.rootLevel, level, quadrant, metaphysical, access, ctx.wp, ctx.nxe, ctx.pse);
  const found = kvmMmuLookupPage(kvm, gfn, role);
  if (found !== null) {
    kvm.stats.cacheHits++;
    if (parentRef >= 0) {
      addParent(kvm, found, parentRef);
      // A new path reaches it, and the vCPU taking that path must not see stale sptes through
      // it (KVM 2.6.27 syncs an unsync page found here; later, KVM_REQ_MMU_SYNC).
      if (found.unsync) kvmSyncPage(s, found);
      else if (found.unsyncChildren > 0) mmuSyncChildren(s, found);
    }
    return found;
  }
  kvm.stats.cacheMisses++;
  // A second role for a gfn whose table is out of sync: it goes back in sync (and is protected
  // again) first, since a write must now update both (KVM never leaves such a gfn unsync).
  if (!metaphysical) syncUnsyncPageOf(s, gfn);
  // Changelog: "When we cache a guest page table into a shadow page table, we need to prevent
  // further access to that page by the guest" — metaphysical pages shadow no guest table, and a
  // gfn that already has a shadow page is already protected.
  const protect = !metaphysical && !isGfnShadowed(kvm, gfn);
  const page = allocShadowPage(kvm, gfn, role);
  if (parentRef >= 0) addParent(kvm, page, parentRef);
  if (protect) rmapWriteProtect(kvm, gfn);
  return page;
}

function syncUnsyncPageOf(s: MmuState, gfn: number): void {
  const list = s.kvm.hash.get(gfn);
  if (list === undefined) return;
  for (let i = 0; i < list.length; i++) {
    if (list[i].unsync) {
      // At most one (an unsync gfn has one role); syncing may zap it, which edits the list.
      kvmSyncPage(s, list[i]);
      return;
    }
  }
}

function addParent(kvm: MmuVmState, page: ShadowPage, ref: number): void {
  mmuPageAddParentPte(kvm.caches, page, ref);
  kvm.stats.parentPteAdds++;
}

function allocShadowPage(kvm: MmuVmState, gfn: number, role: number): ShadowPage {
  const hpfn = kvm.caches.allocPage();
  const page = kvm.spare.pop() ?? new ShadowPage();
  const id = kvm.freeIds.length > 0 ? kvm.freeIds.pop()! : kvm.pagesById.length;
  page.init(id, gfn, role, hpfn, kvm.host.pageView(hpfn));
  kvm.pagesById[id] = page;
  kvm.byHpfn.set(hpfn, page);
  const list = kvm.hash.get(gfn);
  if (list === undefined) kvm.hash.set(gfn, [page]);
  else list.push(page);
  activeAddHead(kvm, page);
  kvm.nPages++;
  countLevel(kvm, page.level, 1);
  kvm.stats.shadowPagesCreated++;
  kvm.stats.shadowPagesLive = kvm.nPages;
  return page;
}

/** Keeps the per-level live counters (stats.shadowPagesL1…L4). */
function countLevel(kvm: MmuVmState, level: number, delta: number): void {
  const st = kvm.stats;
  if (level === 1) st.shadowPagesL1 += delta;
  else if (level === 2) st.shadowPagesL2 += delta;
  else if (level === 3) st.shadowPagesL3 += delta;
  else st.shadowPagesL4 += delta;
}

function activeAddHead(kvm: MmuVmState, page: ShadowPage): void {
  page.prev = null;
  page.next = kvm.activeHead;
  if (kvm.activeHead !== null) kvm.activeHead.prev = page;
  kvm.activeHead = page;
  if (kvm.activeTail === null) kvm.activeTail = page;
}

function activeRemove(kvm: MmuVmState, page: ShadowPage): void {
  if (page.prev !== null) page.prev.next = page.next;
  else kvm.activeHead = page.next;
  if (page.next !== null) page.next.prev = page.prev;
  else kvm.activeTail = page.prev;
  page.prev = page.next = null;
}

/**
 * Clears one spte and undoes what it implied: a leaf leaves its host frame's rmap, a directory
 * entry leaves its child's parent chain. Requests a TLB flush if it was present.
 */
export function dropSpte(kvm: MmuVmState, page: ShadowPage, index: number): void {
  const lo = page.spt[index * 2];
  if (!(lo & PT_PRESENT_MASK)) {
    page.spt[index * 2] = 0;
    page.spt[index * 2 + 1] = 0;
    markSpteAbsent(page, index);
    return;
  }
  const hpfn = spteHpfn(lo, page.spt[index * 2 + 1]);
  const ref = spteRef(page, index);
  if (page.level === 1) {
    if (kvm.rmap.remove(hpfn, ref)) kvm.stats.rmapRemoves++;
    else kvm.stats.inconsistencies++;
  } else {
    clearUnsyncChild(page, index);
    const child = kvm.byHpfn.get(hpfn);
    if (child !== undefined && mmuPageRemoveParentPte(kvm.caches, child, ref)) kvm.stats.parentPteRemoves++;
    else kvm.stats.inconsistencies++;
  }
  page.spt[index * 2] = 0;
  page.spt[index * 2 + 1] = 0;
  markSpteAbsent(page, index);
  kvm.requestTlbFlush();
}

/** Forgets that directory spte `index` of `page` leads to an unsync page. */
export function clearUnsyncChild(page: ShadowPage, index: number): void {
  const bm = page.unsyncChildBitmap;
  const bit = 1 << (index & 31);
  if (bm[index >>> 5] & bit) {
    bm[index >>> 5] &= ~bit;
    page.unsyncChildren--;
  }
}

/**
 * Zaps a shadow page (`kvm_mmu_zap_page`): clears every spte that points at it, clears its own
 * sptes (children lose this parent, leaves leave their rmaps), then frees it — unless it is a
 * root in use, which stays and moves to the head of the active list (changelog: "We always need
 * cr3 to point to something valid, so if we detect that we're freeing a root page, simply push it
 * back to the top of the active list"). Freeing only here is the changelog's "Move the freeing to
 * kvm_mmu_zap_page()".
 */
export function kvmMmuZapPage(kvm: MmuVmState, page: ShadowPage, cause: ZapCause): void {
  kvm.stats.shadowPagesZapped++;
  countCause(kvm, cause);
  for (let ref = firstParentPte(page); ref >= 0; ref = firstParentPte(page)) {
    const parent = kvm.pageByRef(ref);
    if (parent === null) {
      // Should not happen; drop the link so the loop ends.
      mmuPageRemoveParentPte(kvm.caches, page, ref);
      kvm.stats.inconsistencies++;
      continue;
    }
    dropSpte(kvm, parent, ref & 511);
    if (firstParentPte(page) === ref) {
      // The parent spte did not point here after all (a broken invariant): unlink by hand so
      // the loop ends.
      mmuPageRemoveParentPte(kvm.caches, page, ref);
      kvm.stats.inconsistencies++;
    }
  }
  for (let i = 0; i < 512; i++)
    if (page.spt[i * 2] !== 0 || page.spt[i * 2 + 1] !== 0) dropSpte(kvm, page, i);
  if (page.rootCount > 0) {
    // A root some vCPU's CR3 still points at: it must stay a valid page until every user has
    // loaded another root (kvm_mmu_zap_page: `role.invalid = 1` and kvm_reload_remote_mmus).
    // Emptied and out of the hash, it no longer shadows (or write-protects) its gfn, and no
    // vCPU is given it again.
    kvm.stats.zapRootKept++;
    if (!page.invalid) {
      page.invalid = true;
      unhash(kvm, page);
      requestReloads(kvm, page);
    }
    activeRemove(kvm, page);
    activeAddHead(kvm, page);
    return;
  }
  freeShadowPage(kvm, page);
}

/** KVM_REQ_MMU_RELOAD for every vCPU whose roots include `page`. */
function requestReloads(kvm: MmuVmState, page: ShadowPage): void {
  for (const v of kvm.vcpus) {
    let uses = v.rootPage === page;
    for (let i = 0; i < 4; i++) if (v.paeRootPages[i] === page) uses = true;
    if (!uses) continue;
    kvm.stats.mmuReloadRequests++;
    v.host.requestMmuReload?.();
  }
}

/**
 * A vCPU stops using `page` as a root (`mmu_free_roots`): the last user of a zapped
 * (`invalid`) root frees it.
 */
export function kvmMmuPutRoot(kvm: MmuVmState, page: ShadowPage): void {
  page.rootCount--;
  if (page.rootCount === 0 && page.invalid) {
    kvm.stats.invalidRootsFreed++;
    freeShadowPage(kvm, page);
  }
}

function unhash(kvm: MmuVmState, page: ShadowPage): void {
  const list = kvm.hash.get(page.gfn);
  if (list === undefined) return;
  const i = list.indexOf(page);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) kvm.hash.delete(page.gfn);
}

function countCause(kvm: MmuVmState, cause: ZapCause): void {
  const st = kvm.stats;
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
    case 'sync':
      st.zapSync++;
      break;
  }
}

function freeShadowPage(kvm: MmuVmState, page: ShadowPage): void {
  unhash(kvm, page);
  if (page.unsync) {
    page.unsync = false;
    kvm.stats.unsyncPages--;
  }
  kvm.byHpfn.delete(page.hpfn);
  activeRemove(kvm, page);
  kvm.pagesById[page.id] = null;
  kvm.freeIds.push(page.id);
  kvm.caches.freePage(page.hpfn);
  page.hpfn = -1;
  page.id = -1;
  kvm.spare.push(page);
  kvm.nPages--;
  countLevel(kvm, page.level, -1);
  kvm.stats.shadowPagesFreed++;
  kvm.stats.shadowPagesLive = kvm.nPages;
}

/**
 * Before a fault (or root allocation), make sure enough shadow pages are free, zapping the
 * oldest ones (changelog: "When beginning to process a page fault, make sure we have enough
 * shadow pages available to service the fault. If not, free some pages").
 */
export function kvmMmuFreeSomePages(kvm: MmuVmState): void {
  const max = kvm.options.maxShadowPages;
  if (max - kvm.nPages >= KVM_MIN_FREE_MMU_PAGES) return;
  // A root in use is not evicted (zapping it would only make its vCPUs reload it): it moves to
  // the head, as KVM's zap of the oldest pages skips `root_count` pages. Bound the walk.
  let budget = kvm.nPages;
  while (max - kvm.nPages < KVM_REFILL_PAGES && budget-- > 0 && kvm.activeTail !== null) {
    const page = kvm.activeTail;
    if (page.rootCount > 0) {
      kvm.stats.zapRootKept++;
      activeRemove(kvm, page);
      activeAddHead(kvm, page);
      continue;
    }
    kvmMmuZapPage(kvm, page, 'evict');
  }
}

/** Zaps every shadow page (roots in use stay, emptied). */
export function kvmMmuZapAllPages(kvm: MmuVmState, cause: ZapCause): void {
  // Zapping one page can free others' links but never frees another page, so a snapshot is safe.
  const pages: ShadowPage[] = [];
  for (let p = kvm.activeHead; p !== null; p = p.next) pages.push(p);
  for (const p of pages) if (p.id >= 0) kvmMmuZapPage(kvm, p, cause);
}
