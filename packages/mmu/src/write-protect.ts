import { isGfnShadowed, kvmMmuZapPage } from './page-cache.js';
import { PT_WRITABLE_MASK } from './pte-format.js';
import type { ShadowPage } from './shadow-page.js';
import type { MmuVmState } from './vm-state.js';

/**
 * Write protection of shadowed guest page tables. Once a guest page is cached as a shadow page
 * table, no spte may map it writable: a guest write then faults, is emulated, and the MMU hears
 * of it through kvmMmuPteWrite (changelog: "When we cache a guest page table into a shadow page
 * table, we need to prevent further access to that page by the guest, as that would render the
 * cache incoherent").
 */

/** Drops W from every spte mapping `gfn` (`rmap_write_protect`), via the reverse map. */
export function rmapWriteProtect(s: MmuVmState, gfn: number): void {
  const hpfn = s.host.gfnToHpfn(gfn);
  if (hpfn < 0) return;
  const refs = s.scratchRefs;
  const n = s.rmap.collect(hpfn, refs);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const page = s.pageByRef(refs[i]);
    if (page === null) {
      s.stats.inconsistencies++;
      continue;
    }
    const at = (refs[i] & 511) * 2;
    const lo = page.spt[at];
    if (lo & PT_WRITABLE_MASK) {
      page.spt[at] = (lo & ~PT_WRITABLE_MASK) >>> 0;
      changed++;
    }
  }
  s.stats.writeProtects++;
  if (changed > 0) {
    s.stats.sptesWriteProtected += changed;
    s.requestTlbFlush();
  }
}

/**
 * `kvm_mmu_unprotect_page`: zaps every shadow page that shadows `gfn` as a guest table, so the
 * guest may write the page natively again. Used when emulating a write to it failed — changelog:
 * "A page table may have been recycled into a regular page, and so any instruction can be
 * executed on it. Unprotect the page and let the cpu do its thing." Returns true when it zapped
 * something and the page is no longer protected (the caller retries the instruction); false when
 * there was nothing to unprotect or a root in use shadows it (zapped, but its vCPUs reload it:
 * the caller reports the emulation failure instead of retrying for ever).
 */
export function kvmMmuUnprotectPage(s: MmuVmState, gfn: number): boolean {
  const victims: ShadowPage[] = [];
  const list = s.hash.get(gfn);
  if (list !== undefined) for (const p of list) if (!p.metaphysical) victims.push(p);
  // A root zapped earlier (say by a flood of writes to the directory in use) that its vCPUs have
  // not reloaded yet is out of the hash but will be shadowed again on that reload.
  let rootInUse = false;
  for (const v of s.vcpus) {
    for (const p of v.paeRootPages) if (p?.invalid && p.gfn === gfn && !p.metaphysical) rootInUse = true;
    if (v.rootPage?.invalid && v.rootPage.gfn === gfn) rootInUse = true;
  }
  if (victims.length === 0 && !rootInUse) return false;
  for (const p of victims) {
    if (p.rootCount > 0) rootInUse = true;
    kvmMmuZapPage(s, p, 'unprotect');
  }
  s.stats.unprotects++;
  // A root in use is reloaded before its vCPU runs again, which shadows (and protects) the same
  // guest table again: retrying would fault on the same write for ever.
  return !rootInUse && !isGfnShadowed(s, gfn);
}
