import type { MmuVmHostOps } from './host.js';
import { PteChain } from './parent-ptes.js';
import { RmapDesc } from './rmap.js';

/**
 * Pre-topped memory caches (`mmu_topup_memory_caches`). Changelog: "The mmu sometimes needs
 * memory for reverse mapping and parent pte chains. however, we can't allocate from within the
 * mmu … So, move the allocations to a central place that can be executed before the main mmu
 * machinery, where we can bail out on failure before any damage is done."
 *
 * Host pages are the allocation that can really fail here (`MmuHostOps.allocPage` returns -1);
 * rmap descriptors and pte chains are pooled objects, kept so the fault path allocates nothing.
 */

/** Host pages to hold before any operation that may create shadow pages: four PAE roots, or one
 * fault's tables (at most three, below a 4-level root), plus slack. */
export const MMU_PAGE_CACHE_MIN = 5;
/** Pages kept for reuse after zapping before they go back to the host. */
export const MMU_PAGE_CACHE_MAX = 16;
export const RMAP_DESC_CACHE_MIN = 4;
export const PTE_CHAIN_CACHE_MIN = 8;

export class MmuMemoryCaches {
  private readonly pages: number[] = [];
  private readonly rmapDescs: RmapDesc[] = [];
  private readonly pteChains: PteChain[] = [];

  constructor(private readonly host: MmuVmHostOps) {}

  /** Fills every cache to its minimum. False (nothing else changed) when the host is out of pages. */
  mmuTopupMemoryCaches(): boolean {
    while (this.pages.length < MMU_PAGE_CACHE_MIN) {
      const hpfn = this.host.allocPage();
      if (hpfn < 0) return false;
      this.pages.push(hpfn);
    }
    while (this.rmapDescs.length < RMAP_DESC_CACHE_MIN) this.rmapDescs.push(new RmapDesc());
    while (this.pteChains.length < PTE_CHAIN_CACHE_MIN) this.pteChains.push(new PteChain());
    return true;
  }

  /** A host page from the cache. Only called after a successful topup; -1 means a caller bug. */
  allocPage(): number {
    return this.pages.pop() ?? -1;
  }

  /** Takes back a page of a freed shadow page, or returns it to the host when the cache is full. */
  freePage(hpfn: number): void {
    if (this.pages.length < MMU_PAGE_CACHE_MAX) this.pages.push(hpfn);
    else this.host.freePage(hpfn);
  }

  allocRmapDesc(): RmapDesc {
    const desc = this.rmapDescs.pop() ?? new RmapDesc();
    desc.n = 0;
    desc.more = null;
    return desc;
  }
  freeRmapDesc(desc: RmapDesc): void {
    desc.more = null;
    desc.n = 0;
    this.rmapDescs.push(desc);
  }

  allocPteChain(): PteChain {
    const chain = this.pteChains.pop() ?? new PteChain();
    chain.n = 0;
    chain.next = null;
    return chain;
  }
  freePteChain(chain: PteChain): void {
    chain.next = null;
    chain.n = 0;
    this.pteChains.push(chain);
  }

  /** Host pages currently held (allocated from the host, not in use as shadow pages). */
  get cachedPages(): number {
    return this.pages.length;
  }

  /** Gives every cached host page back (kvmMmuDestroy). */
  release(): void {
    for (const hpfn of this.pages) this.host.freePage(hpfn);
    this.pages.length = 0;
  }
}
