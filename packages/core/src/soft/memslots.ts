/**
 * Memory slots: KVM_SET_USER_MEMORY_REGION with Linux's rules (virt/kvm/kvm_main.c,
 * `__kvm_set_memory_region`), the errno of each misuse checked against the host kernel:
 *
 *   flags other than LOG_DIRTY_PAGES                      EINVAL
 *   address space (slot >> 16) other than 0, id ≥ 32764   EINVAL
 *   size, guest_phys_addr or userspace_addr not page-aligned  EINVAL
 *   userspace range past user space (access_ok), even for a delete  EINVAL
 *   guest_phys_addr + size wraps                          EINVAL
 *   more than KVM_MEM_MAX_NR_PAGES pages                  EINVAL
 *   delete (size 0) of a slot that does not exist         EINVAL
 *   change of an existing slot's userspace_addr or size   EINVAL
 *   create or move over another slot                      EEXIST
 *   create or move past the MMU's last gfn (kvm_arch_prepare_memory_region)  EINVAL
 *
 * A change is prepared completely (host frames, dirty bitmap) before anything is committed, so a
 * failure (ENOMEM) leaves the old slots exactly as they were (changelog: "__free_page() doesn't
 * like a NULL argument … if memory is exhausted during allocation of a memory slot").
 *
 * Guest RAM is reached through host frames: each slot page has an hpfn in `HostPhysicalMemory`
 * whose view is the VMM's buffer at the slot's userspace address. A page whose userspace address
 * has no mapping behind it has no view; touching it makes KVM_RUN fail with EFAULT, as on Linux.
 */
import { Errno, KvmError } from '../api/errors.js';
import type { KvmUserspaceMemoryRegion } from '../api/structs.js';
import type { HostPhysicalMemory } from './host-physical.js';
import { type HvaSpace, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE_MAX } from './hva-space.js';

/** KVM_MEM_LOG_DIRTY_PAGES */
export const KVM_MEM_LOG_DIRTY_PAGES = 1;
/** KVM_MEM_READONLY: not offered by this engine (KVM_CAP_READONLY_MEM is 0), so EINVAL. */
export const KVM_MEM_READONLY = 2;
/** KVM_USER_MEM_SLOTS on x86 (KVM_CAP_NR_MEMSLOTS of the host kernel). */
export const KVM_USER_MEM_SLOTS = 32764;
/** Address spaces (no SMM address space in this engine). */
export const KVM_ADDRESS_SPACE_NUM = 1;
/** KVM_MEM_MAX_NR_PAGES: (1 << 31) - 1. */
export const KVM_MEM_MAX_NR_PAGES = 0x7fff_ffff;
/**
 * `kvm_mmu_max_gfn()` under shadow paging: guest-physical addresses of 52 bits, the
 * architectural maximum MAXPHYADDR (SDM Vol. 3A 4.1.4; with EPT/NPT Linux uses the host's own
 * MAXPHYADDR instead). A slot reaching past it is EINVAL, which is how gpa 1 << 60 is refused.
 */
export const KVM_MMU_MAX_GFN = 2 ** (52 - PAGE_SHIFT) - 1;

const OP = 'KVM_SET_USER_MEMORY_REGION';

/** One memory slot (`struct kvm_memory_slot`). Addresses are numbers (exact below 2^53). */
export interface MemorySlot {
  readonly id: number;
  readonly flags: number;
  readonly baseGfn: number;
  readonly npages: number;
  /** userspace_addr */
  readonly hva: number;
  /** The host frame of the slot's first page; page i is `hpfnBase + i`. */
  readonly hpfnBase: number;
  /** One bit per page when LOG_DIRTY_PAGES is set. */
  readonly dirtyBitmap: Uint32Array | null;
  /** The page runs `[first, count]` that have VMM memory behind them (the rest are holes). */
  readonly backed: [number, number][];
}

/** What a gfn resolves to. */
export const GFN_NO_SLOT = -1;
export const GFN_UNBACKED = -2;

export class MemorySlots {
  /** Slots by id. */
  private readonly byId = new Map<number, MemorySlot>();
  /** Slots sorted by baseGfn, for gfn lookups. */
  private sorted: MemorySlot[] = [];
  /** Bumped on every change; users that cache translations compare it. */
  generation = 0;

  constructor(
    private readonly hva: HvaSpace,
    private readonly hpm: HostPhysicalMemory,
  ) {}

  /** Every slot, sorted by guest-physical address. */
  list(): readonly MemorySlot[] {
    return this.sorted;
  }

  /**
   * KVM_SET_USER_MEMORY_REGION. Returns true when the slot map changed (the caller then zaps the
   * shadow MMU and flushes TLBs, as `kvm_arch_flush_shadow_memslot` does).
   */
  set(region: KvmUserspaceMemoryRegion, allocDirtyBitmap = defaultBitmapAlloc): boolean {
    const { slot, flags } = region;
    if ((flags & ~KVM_MEM_LOG_DIRTY_PAGES) !== 0)
      throw new KvmError(OP, Errno.EINVAL, `flags 0x${flags.toString(16)}`);
    const asId = slot >>> 16;
    const id = slot & 0xffff;
    if (asId >= KVM_ADDRESS_SPACE_NUM || id >= KVM_USER_MEM_SLOTS) {
      throw new KvmError(OP, Errno.EINVAL, `slot ${slot}`);
    }
    const size = region.memorySize;
    const gpa = region.guestPhysAddr;
    const uaddr = region.userspaceAddr;
    const pageMask = BigInt(PAGE_SIZE - 1);
    if ((size & pageMask) !== 0n) throw new KvmError(OP, Errno.EINVAL, 'memory_size not page-aligned');
    if ((gpa & pageMask) !== 0n) throw new KvmError(OP, Errno.EINVAL, 'guest_phys_addr not page-aligned');
    if ((uaddr & pageMask) !== 0n) throw new KvmError(OP, Errno.EINVAL, 'userspace_addr not page-aligned');
    // access_ok(userspace_addr, memory_size) runs before the delete case too.
    if (uaddr + size > BigInt(TASK_SIZE_MAX)) {
      throw new KvmError(OP, Errno.EINVAL, 'userspace range outside user space');
    }
    if (gpa + size > 0xffff_ffff_ffff_ffffn) throw new KvmError(OP, Errno.EINVAL, 'guest range wraps');
    const npagesBig = size >> BigInt(PAGE_SHIFT);
    if (npagesBig > BigInt(KVM_MEM_MAX_NR_PAGES)) throw new KvmError(OP, Errno.EINVAL, 'too many pages');

    const old = this.byId.get(id);
    if (size === 0n) {
      if (old === undefined) throw new KvmError(OP, Errno.EINVAL, `slot ${id} does not exist`);
      this.commitDelete(old);
      return true;
    }
    const npages = Number(npagesBig);
    const baseGfn = Number(gpa >> BigInt(PAGE_SHIFT));
    const hva = Number(uaddr);
    if (old !== undefined) {
      if (hva !== old.hva || npages !== old.npages) {
        throw new KvmError(OP, Errno.EINVAL, `slot ${id}: userspace_addr and size cannot change`);
      }
      if (baseGfn === old.baseGfn) {
        if (flags === old.flags) return false;
        // KVM_MR_FLAGS_ONLY: dirty logging on or off.
        const bitmap = flags & KVM_MEM_LOG_DIRTY_PAGES ? allocDirtyBitmap(npages) : null;
        this.replace(old, { ...old, flags, dirtyBitmap: bitmap });
        return false;
      }
    }
    // KVM_MR_CREATE or KVM_MR_MOVE: no overlap with another slot.
    for (const s of this.sorted) {
      if (s.id === id) continue;
      if (baseGfn < s.baseGfn + s.npages && s.baseGfn < baseGfn + npages) {
        throw new KvmError(OP, Errno.EEXIST, `overlaps slot ${s.id}`);
      }
    }
    // kvm_arch_prepare_memory_region, after the overlap check (so an overlap is EEXIST first).
    if (baseGfn + npages - 1 > KVM_MMU_MAX_GFN) {
      throw new KvmError(
        OP,
        Errno.EINVAL,
        `gfn 0x${(baseGfn + npages - 1).toString(16)} past the MMU's last`,
      );
    }
    // Prepare everything that can fail before touching the live map.
    const dirtyBitmap = flags & KVM_MEM_LOG_DIRTY_PAGES ? allocDirtyBitmap(npages) : null;
    // A slot over the wasm arena maps its host frames in place (the silicon's wasm code reaches
    // them inline); any other gets fresh frames, whose views are the VMM's buffer.
    const inArena = this.hva.arenaFrame(hva, npages);
    const hpfnBase = inArena >= 0 ? inArena : this.hpm.reserveRange(npages);
    const next: MemorySlot = { id, flags, baseGfn, npages, hva, hpfnBase, dirtyBitmap, backed: [] };
    if (old !== undefined) this.commitDelete(old);
    this.commitCreate(next);
    return true;
  }

  /** The slot holding `gfn`, or undefined (MMIO). */
  slotOf(gfn: number): MemorySlot | undefined {
    const ss = this.sorted;
    let lo = 0;
    let hi = ss.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = ss[mid];
      if (gfn < s.baseGfn) hi = mid - 1;
      else if (gfn >= s.baseGfn + s.npages) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  /** `gfn_to_page`: the host frame of `gfn`, GFN_NO_SLOT (MMIO) or GFN_UNBACKED (→ EFAULT). */
  gfnToHpfn(gfn: number): number {
    const s = this.slotOf(gfn);
    if (s === undefined) return GFN_NO_SLOT;
    const hpfn = s.hpfnBase + (gfn - s.baseGfn);
    return this.hpm.pageView(hpfn) === null ? GFN_UNBACKED : hpfn;
  }

  /** `mark_page_dirty` */
  markDirty(gfn: number): void {
    const s = this.slotOf(gfn);
    if (s?.dirtyBitmap) {
      const rel = gfn - s.baseGfn;
      s.dirtyBitmap[rel >>> 5] |= 1 << (rel & 31);
    }
  }

  private commitCreate(s: MemorySlot): void {
    // Only the pages with a mapping behind them get views; the rest stay holes (EFAULT on use).
    const end = s.hva + s.npages * PAGE_SIZE;
    for (const m of this.hva.overlapping(s.hva, end)) {
      const from = Math.max(m.hva, s.hva);
      const to = Math.min(m.hva + m.size, end);
      const first = (from - s.hva) / PAGE_SIZE;
      const count = (to - from) / PAGE_SIZE;
      for (let i = 0; i < count; i++) {
        this.hpm.setFrame(
          s.hpfnBase + first + i,
          m.bytes.subarray(from - m.hva + i * PAGE_SIZE, from - m.hva + (i + 1) * PAGE_SIZE),
        );
      }
      s.backed.push([first, count]);
    }
    this.byId.set(s.id, s);
    this.sorted = [...this.sorted, s].sort((a, b) => a.baseGfn - b.baseGfn);
    this.generation++;
  }

  /**
   * Deletes every slot (`kvm_free_memslots` when the VM goes away): their host frames are given
   * back, so a VMM that creates and closes VMs does not grow the host-physical space.
   */
  clear(): void {
    for (const s of [...this.sorted]) this.commitDelete(s);
  }

  private commitDelete(s: MemorySlot): void {
    // The views go with the frames: nothing keeps the VMM's buffer alive through a deleted slot.
    for (const [first, count] of s.backed) {
      for (let i = 0; i < count; i++) this.hpm.setFrame(s.hpfnBase + first + i, null);
    }
    this.hpm.releaseRange(s.hpfnBase, s.npages);
    this.byId.delete(s.id);
    this.sorted = this.sorted.filter((x) => x !== s);
    this.generation++;
  }

  private replace(old: MemorySlot, next: MemorySlot): void {
    this.byId.set(next.id, next);
    this.sorted = this.sorted.map((x) => (x === old ? next : x));
  }
}

function defaultBitmapAlloc(npages: number): Uint32Array {
  try {
    return new Uint32Array(Math.ceil(npages / 32));
  } catch {
    throw new KvmError(OP, Errno.ENOMEM, 'dirty bitmap');
  }
}
