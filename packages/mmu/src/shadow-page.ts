import { holdAsDoubles } from '@kvm/x86emu';
import { roleLevel, roleMetaphysical } from './page-role.js';
import type { PteChain } from './parent-ptes.js';

/**
 * One shadow page table (`struct kvm_mmu_page`): a 4 KiB host page of 512 PAE-format sptes
 * that the silicon walks, plus the bookkeeping KVM hangs off it.
 *
 * An spte's location is an `SpteRef`: `page.id * 512 + index`, a small integer. Reverse maps and
 * parent chains store these instead of pointers.
 */
export class ShadowPage {
  /** Small integer naming this page in SpteRefs; reused after the page is freed. */
  id = -1;
  /** The guest frame this page shadows (for metaphysical pages: the first gfn it maps). */
  gfn = 0;
  /** Packed role, see page-role.ts. */
  role = 0;
  /** Cached from the role. */
  level = 0;
  metaphysical = false;
  /** Host page frame holding the sptes. */
  hpfn = -1;
  /** The sptes: entry i is `spt[2i]` (bits 31:0) and `spt[2i+1]` (bits 63:32). */
  spt: Uint32Array = EMPTY_SPT;
  /**
   * How many roots (PAE root slots or 4-level roots, of every vCPU) point here (`root_count`); a
   * root in use is never freed.
   */
  rootCount = 0;
  /**
   * Zapped while a root in use (KVM's `role.invalid`): out of the hash, emptied, never given to
   * a new user, freed when the last vCPU using it reloads its roots.
   */
  invalid = false;
  /**
   * A last-level guest page table left writable and out of sync (`unsync`, KVM 2.6.27): its
   * sptes are resynced from the gptes on CR3 load, INVLPG, or when a new path links it.
   */
  unsync = false;
  /** How many bits `unsyncChildBitmap` has set (`unsync_children`). */
  unsyncChildren = 0;
  /**
   * Directory pages: which sptes lead to an unsync page below (`unsync_child_bitmap`, 512 bits).
   * A bit may outlive its reason (the child synced through another parent): the walk clears it.
   */
  readonly unsyncChildBitmap = new Uint32Array(16);
  /**
   * Which sptes are present (512 bits), kept by every writer of `spt` (`mmuSetSpte`, `dropSpte`,
   * the fault path's directory links), so a sync (`kvmSyncPage`) visits the few present sptes
   * instead of testing all 512 (a CR3 load syncs a page each time the guest rewrote one pte).
   */
  readonly presentBitmap = new Uint32Array(16);
  /** One parent spte inline (-1: none) … */
  parentPte = -1;
  /** … or, when more than one, a chain of them (`multimapped` in KVM). */
  parentPtes: PteChain | null = null;
  /** Active list (most recently created or reused root first). */
  prev: ShadowPage | null = null;
  next: ShadowPage | null = null;

  constructor() {
    // A metaphysical page's gfn is computed as a double (x86emu's double-fields.ts).
    holdAsDoubles(this, ['gfn']);
  }

  init(id: number, gfn: number, role: number, hpfn: number, view: Uint8Array): void {
    this.id = id;
    this.gfn = gfn;
    this.role = role;
    this.level = roleLevel(role);
    this.metaphysical = roleMetaphysical(role);
    this.hpfn = hpfn;
    this.spt = new Uint32Array(view.buffer, view.byteOffset, 1024);
    this.spt.fill(0);
    this.rootCount = 0;
    this.invalid = false;
    this.unsync = false;
    this.unsyncChildren = 0;
    this.unsyncChildBitmap.fill(0);
    this.presentBitmap.fill(0);
    this.parentPte = -1;
    this.parentPtes = null;
    this.prev = this.next = null;
  }
}

const EMPTY_SPT = new Uint32Array(0);

/** Marks spte `index` of `page` present in its `presentBitmap`. */
export function markSptePresent(page: ShadowPage, index: number): void {
  page.presentBitmap[index >>> 5] |= 1 << (index & 31);
}

/** Marks spte `index` of `page` not present in its `presentBitmap`. */
export function markSpteAbsent(page: ShadowPage, index: number): void {
  page.presentBitmap[index >>> 5] &= ~(1 << (index & 31));
}

export const SPTE_REF_SHIFT = 9;

export function spteRef(page: ShadowPage, index: number): number {
  return page.id * 512 + index;
}
export function spteRefPageId(ref: number): number {
  return Math.floor(ref / 512);
}
export function spteRefIndex(ref: number): number {
  return ref & 511;
}

/** Typed arrays use the platform's byte order; sptes must be little-endian bytes for the walker. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
