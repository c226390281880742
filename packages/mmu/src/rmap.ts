import type { MmuMemoryCaches } from './memory-caches.js';

/**
 * Reverse maps: for each host page frame that guest memory occupies, every leaf spte that maps
 * it (changelog: "Keep in each host page frame's page->private a pointer to the shadow pte which
 * maps it. If there are multiple … a linked list of all such mappings"). Write protection of a
 * shadowed guest table walks this list.
 *
 * One mapping is stored inline as its SpteRef; more go into a chain of `RmapDesc`s taken from the
 * pre-topped memory cache, so adding never allocates inside the fault path. A frame whose last
 * mapping goes keeps its key with {@link RMAP_EMPTY}: deleting and re-adding Map keys (a leaf
 * dropped and refaulted, over and over) makes the Map rehash, which allocates.
 */

/** The head of a frame with no mappings (SpteRefs are >= 0). */
const RMAP_EMPTY = -1;

export const RMAP_EXT = 4;

export class RmapDesc {
  readonly shadowPtes = new Int32Array(RMAP_EXT);
  n = 0;
  more: RmapDesc | null = null;
}

export class Rmap {
  /** hpfn → one SpteRef, a chain, or RMAP_EMPTY. */
  private readonly heads = new Map<number, number | RmapDesc>();
  private nonEmpty = 0;

  constructor(private readonly caches: MmuMemoryCaches) {}

  /** Records that the spte `ref` maps host frame `hpfn`. */
  add(hpfn: number, ref: number): void {
    const head = this.heads.get(hpfn);
    if (head === undefined || head === RMAP_EMPTY) {
      this.heads.set(hpfn, ref);
      this.nonEmpty++;
      return;
    }
    if (typeof head === 'number') {
      const desc = this.caches.allocRmapDesc();
      desc.shadowPtes[0] = head;
      desc.shadowPtes[1] = ref;
      desc.n = 2;
      this.heads.set(hpfn, desc);
      return;
    }
    let desc = head;
    while (desc.n === RMAP_EXT && desc.more !== null) desc = desc.more;
    if (desc.n === RMAP_EXT) {
      desc.more = this.caches.allocRmapDesc();
      desc = desc.more;
    }
    desc.shadowPtes[desc.n++] = ref;
  }

  /** Forgets that `ref` maps `hpfn`. Returns false if it was not recorded (an invariant broken). */
  remove(hpfn: number, ref: number): boolean {
    const head = this.heads.get(hpfn);
    if (head === undefined || head === RMAP_EMPTY) return false;
    if (typeof head === 'number') {
      if (head !== ref) return false;
      this.heads.set(hpfn, RMAP_EMPTY);
      this.nonEmpty--;
      return true;
    }
    let prev: RmapDesc | null = null;
    for (let desc: RmapDesc | null = head; desc !== null; prev = desc, desc = desc.more) {
      for (let i = 0; i < desc.n; i++) {
        if (desc.shadowPtes[i] !== ref) continue;
        // Fill the hole with the chain's last entry, as KVM's rmap_desc_remove_entry does.
        let last = desc;
        let lastPrev: RmapDesc | null = prev;
        while (last.more !== null) {
          lastPrev = last;
          last = last.more;
        }
        desc.shadowPtes[i] = last.shadowPtes[last.n - 1];
        last.n--;
        if (last.n === 0) {
          if (lastPrev === null) {
            this.heads.set(hpfn, RMAP_EMPTY);
            this.nonEmpty--;
          } else lastPrev.more = null;
          this.caches.freeRmapDesc(last);
        }
        this.collapse(hpfn);
        return true;
      }
    }
    return false;
  }

  /** A chain left with one entry goes back inline. */
  private collapse(hpfn: number): void {
    const head = this.heads.get(hpfn);
    if (head === undefined || typeof head === 'number') return;
    if (head.n === 1 && head.more === null) {
      this.heads.set(hpfn, head.shadowPtes[0]);
      this.caches.freeRmapDesc(head);
    }
  }

  /**
   * Copies the SpteRefs mapping `hpfn` into `out` (from index 0) and returns how many. Callers
   * copy first because what they do with each spte may change the map.
   */
  collect(hpfn: number, out: number[]): number {
    const head = this.heads.get(hpfn);
    if (head === undefined || head === RMAP_EMPTY) return 0;
    if (typeof head === 'number') {
      out[0] = head;
      return 1;
    }
    let n = 0;
    for (let desc: RmapDesc | null = head; desc !== null; desc = desc.more) {
      for (let i = 0; i < desc.n; i++) out[n++] = desc.shadowPtes[i];
    }
    return n;
  }

  /** Host frames with at least one mapping (for the audit). */
  hpfns(): number[] {
    const out: number[] = [];
    for (const [hpfn, head] of this.heads) if (head !== RMAP_EMPTY) out.push(hpfn);
    return out;
  }

  /** Whether `hpfn`'s mappings are held in a chain rather than inline. */
  isChained(hpfn: number): boolean {
    const head = this.heads.get(hpfn);
    return head !== undefined && typeof head !== 'number';
  }

  /** Host frames with at least one mapping. */
  get size(): number {
    return this.nonEmpty;
  }
}
