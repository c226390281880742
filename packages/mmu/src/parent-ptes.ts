import type { MmuMemoryCaches } from './memory-caches.js';
import type { ShadowPage } from './shadow-page.js';

/**
 * Parent pte chains: the sptes (in higher-level shadow pages) that point at a shadow page. One
 * parent is held inline in `page.parentPte`; a second turns the page "multimapped" and the
 * parents move to a chain of `PteChain`s from the pre-topped memory cache. Zapping a page walks
 * this to clear every pointer to it (changelog: "When removing a page table, we must maintain
 * the parent_pte field all child shadow page tables").
 */

export const NR_PTE_CHAIN_ENTRIES = 5;

export class PteChain {
  readonly parentPtes = new Int32Array(NR_PTE_CHAIN_ENTRIES);
  n = 0;
  next: PteChain | null = null;
}

export function mmuPageAddParentPte(caches: MmuMemoryCaches, page: ShadowPage, ref: number): void {
  if (page.parentPtes === null) {
    if (page.parentPte < 0) {
      page.parentPte = ref;
      return;
    }
    const chain = caches.allocPteChain();
    chain.parentPtes[0] = page.parentPte;
    chain.parentPtes[1] = ref;
    chain.n = 2;
    page.parentPte = -1;
    page.parentPtes = chain;
    return;
  }
  let chain = page.parentPtes;
  while (chain.n === NR_PTE_CHAIN_ENTRIES && chain.next !== null) chain = chain.next;
  if (chain.n === NR_PTE_CHAIN_ENTRIES) {
    chain.next = caches.allocPteChain();
    chain = chain.next;
  }
  chain.parentPtes[chain.n++] = ref;
}

/** Returns false if `ref` was not a parent of `page` (an invariant broken). */
export function mmuPageRemoveParentPte(caches: MmuMemoryCaches, page: ShadowPage, ref: number): boolean {
  if (page.parentPtes === null) {
    if (page.parentPte !== ref) return false;
    page.parentPte = -1;
    return true;
  }
  for (let chain: PteChain | null = page.parentPtes; chain !== null; chain = chain.next) {
    for (let i = 0; i < chain.n; i++) {
      if (chain.parentPtes[i] !== ref) continue;
      let last = chain;
      let lastPrev: PteChain | null = null;
      for (let c: PteChain | null = page.parentPtes; c !== null && c.next !== null; c = c.next) {
        lastPrev = c;
        last = c.next;
      }
      chain.parentPtes[i] = last.parentPtes[last.n - 1];
      last.n--;
      if (last.n === 0) {
        if (lastPrev === null) page.parentPtes = null;
        else lastPrev.next = null;
        caches.freePteChain(last);
      }
      // Down to one parent: back inline, no longer multimapped.
      const head = page.parentPtes;
      if (head !== null && head.n === 1 && head.next === null) {
        page.parentPte = head.parentPtes[0];
        page.parentPtes = null;
        caches.freePteChain(head);
      }
      return true;
    }
  }
  return false;
}

/** Any one parent of `page`, or -1. */
export function firstParentPte(page: ShadowPage): number {
  if (page.parentPtes !== null) return page.parentPtes.parentPtes[0];
  return page.parentPte;
}

/** All parents of `page` into `out`; returns the count. */
export function collectParentPtes(page: ShadowPage, out: number[]): number {
  if (page.parentPtes === null) {
    if (page.parentPte < 0) return 0;
    out[0] = page.parentPte;
    return 1;
  }
  let n = 0;
  for (let chain: PteChain | null = page.parentPtes; chain !== null; chain = chain.next) {
    for (let i = 0; i < chain.n; i++) out[n++] = chain.parentPtes[i];
  }
  return n;
}
