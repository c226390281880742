import { dropSpte, kvmMmuZapPage } from './page-cache.js';
import { ROLE_CR0_WP, ROLE_NXE, ROLE_PSE, roleGlevels, roleQuadrant } from './page-role.js';
import type { PteChain } from './parent-ptes.js';
import { PT_PRESENT_MASK, spteHpfn } from './pte-format.js';
import { updatePte } from './pte-write.js';
import type { ShadowPage } from './shadow-page.js';
import type { MmuState } from './state.js';
import type { MmuVmState } from './vm-state.js';
import { rmapWriteProtect } from './write-protect.js';

/**
 * Out-of-sync shadow pages (KVM 2.6.27's "unsync" pages). A last-level guest page table that the
 * guest writes is not emulated write by write: its frame is mapped writable and its shadow page
 * marked `unsync`, so the guest's stores run natively and the sptes go stale. They are rebuilt
 * from the gptes (`kvm_sync_page`) when the architecture says the guest may rely on them: a CR3
 * load (every root's unsync descendants, found through the `unsync_child_bitmap`s the marking
 * set up the parent chains: `mmu_sync_roots`, `mmu_sync_children`), an INVLPG (the one spte), and
 * when the fault path links the page under a new parent. A directory, a root, or a gfn shadowed
 * by pages of several roles is never unsync (`kvm_unsync_page`), as in KVM.
 */

/**
 * `mmu_need_write_protect`: whether a writable spte for `gfn` must stay read-only because the gfn
 * is a shadowed guest table. An unsync page's gfn is writable; a last-level table of one role
 * goes unsync now if `canUnsync` (a fault or a prefetch, not a sync).
 */
export function mmuNeedWriteProtect(s: MmuState, gfn: number, canUnsync: boolean): boolean {
  const list = s.kvm.hash.get(gfn);
  if (list === undefined) return false;
  let shadow: ShadowPage | null = null;
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (p.metaphysical) continue;
    if (shadow === null) shadow = p;
    // Several roles for one gfn: a write must update all of them (KVM refuses unsync).
    else if (p.role !== shadow.role) return true;
  }
  if (shadow === null) return false;
  if (shadow.level !== 1) return true;
  if (shadow.unsync) return false;
  if (!canUnsync || !s.kvm.options.unsync) return true;
  kvmUnsyncPage(s.kvm, shadow);
  return false;
}

/** `kvm_unsync_page`: `page` (level 1, its gfn's only role) goes out of sync. */
function kvmUnsyncPage(kvm: MmuVmState, page: ShadowPage): void {
  page.unsync = true;
  kvm.stats.unsyncs++;
  kvm.stats.unsyncPages++;
  kvmMmuMarkParentsUnsync(kvm, page);
}

/** `kvm_mmu_mark_parents_unsync`: every parent spte's bit, and theirs up to the roots. */
export function kvmMmuMarkParentsUnsync(kvm: MmuVmState, page: ShadowPage): void {
  if (page.parentPtes === null) {
    if (page.parentPte >= 0) markUnsync(kvm, page.parentPte);
    return;
  }
  for (let c: PteChain | null = page.parentPtes; c !== null; c = c.next) {
    for (let i = 0; i < c.n; i++) markUnsync(kvm, c.parentPtes[i]);
  }
}

/** `mark_unsync`: the spte `ref` leads to an unsync page. */
export function markUnsync(kvm: MmuVmState, ref: number): void {
  const parent = kvm.pageByRef(ref);
  if (parent === null) {
    kvm.stats.inconsistencies++;
    return;
  }
  const index = ref & 511;
  const bm = parent.unsyncChildBitmap;
  const bit = 1 << (index & 31);
  if (bm[index >>> 5] & bit) return;
  bm[index >>> 5] |= bit;
  // Already on the way to the roots: its parents have their bits.
  if (parent.unsyncChildren++ > 0) return;
  kvmMmuMarkParentsUnsync(kvm, parent);
}

/**
 * `kvm_sync_page`: brings unsync `page` back in sync for `s`'s mode. Its gfn is write-protected
 * again first (so no store slips in between), then every present spte is rebuilt from its gpte
 * or dropped (not present, not accessed, another frame or rights: `FNAME(sync_page)`). A page
 * built for another paging mode cannot be rebuilt here: it is zapped (KVM: glevels mismatch).
 * TLB flushes are requested (for every vCPU) where sptes lost rights.
 */
export function kvmSyncPage(s: MmuState, page: ShadowPage): void {
  const kvm = s.kvm;
  kvm.stats.syncPages++;
  const ctx = s.ctx;
  const role = page.role;
  if (
    ctx.fmt === null ||
    roleGlevels(role) !== ctx.rootLevel ||
    ((role & ROLE_CR0_WP) !== 0) !== ctx.wp ||
    ((role & ROLE_NXE) !== 0) !== ctx.nxe ||
    ((role & ROLE_PSE) !== 0) !== ctx.pse
  ) {
    kvmMmuZapPage(kvm, page, 'sync');
    return;
  }
  page.unsync = false;
  kvm.stats.unsyncPages--;
  rmapWriteProtect(kvm, page.gfn);
  const pteSize = ctx.rootLevel === 2 ? 4 : 8;
  // A 32-bit guest table holds 1024 gptes; this shadow page covers half of them (its quadrant).
  const base = page.gfn * 4096 + (pteSize === 4 ? roleQuadrant(role) * 2048 : 0);
  // Only the present sptes (FNAME(sync_page) skips the others): found through the page's
  // presentBitmap, a copy of which is walked since dropping an spte clears its bit.
  const bm = page.presentBitmap;
  for (let w = 0; w < 16; w++) {
    let bits = bm[w];
    while (bits !== 0) {
      const low = bits & -bits;
      bits &= ~low;
      const i = w * 32 + (31 - Math.clz32(low));
      kvm.stats.sptesResynced++;
      if (!updatePte(s, page, i, base + i * pteSize, pteSize, false)) dropSpte(kvm, page, i);
    }
  }
}

/**
 * `mmu_sync_children`: syncs every unsync page below directory `page`, clearing the bits that
 * led there (stale ones included).
 */
export function mmuSyncChildren(s: MmuState, page: ShadowPage): void {
  if (page.unsyncChildren === 0) return;
  const bm = page.unsyncChildBitmap;
  const byHpfn = s.kvm.byHpfn;
  for (let w = 0; w < 16; w++) {
    while (bm[w] !== 0) {
      const low = bm[w] & -bm[w];
      const index = w * 32 + (31 - Math.clz32(low));
      bm[w] &= ~low;
      page.unsyncChildren--;
      const lo = page.spt[index * 2];
      if (!(lo & PT_PRESENT_MASK)) continue;
      const child = byHpfn.get(spteHpfn(lo, page.spt[index * 2 + 1]));
      if (child === undefined) continue;
      if (child.level === 1) {
        if (child.unsync) kvmSyncPage(s, child);
      } else mmuSyncChildren(s, child);
    }
  }
}

/** `mmu_sync_roots`: everything unsync below this vCPU's roots is synced (a CR3 load). */
export function mmuSyncRoots(s: MmuState): void {
  if (s.rootPage !== null) {
    mmuSyncChildren(s, s.rootPage);
    return;
  }
  const roots = s.paeRootPages;
  for (let i = 0; i < 4; i++) {
    const r = roots[i];
    if (r !== null) mmuSyncChildren(s, r);
  }
}
