/**
 * Host-physical memory: one address space holding the guest RAM slots (the VMM's buffers) and
 * the hypervisor's own pages (shadow page tables, VMCS/VMCB, I/O and MSR bitmaps), each 4 KiB
 * page a host frame (hpfn). The silicon walks shadow tables and reads control structures here
 * exactly as a CPU reads RAM. It implements x86emu's `PhysicalMemory`: a frame with no page
 * reads as all ones and ignores writes (open bus), never a JavaScript exception.
 */
import type { PhysicalMemory } from '@kvm/x86emu';
import { Errno, KvmError } from '../api/errors.js';
import { PAGE_SHIFT, PAGE_SIZE } from './hva-space.js';

export class HostPhysicalMemory implements PhysicalMemory {
  /** Page views by hpfn; `undefined` for a hole. */
  private readonly frames: (Uint8Array | undefined)[] = [];
  /**
   * Single frames of freed hypervisor pages, reused first by `allocPage` (the hot path: shadow
   * pages come and go one at a time, like Linux's per-CPU free lists).
   */
  private readonly freeFrames: number[] = [];
  /**
   * Freed runs of consecutive frames (from `freePages` and `releaseRange`), sorted by first
   * frame and coalesced, as `[first, count]`. Kept apart from `freeFrames` so that a run handed
   * back whole can be handed out whole again: SVM's permission maps must be physically
   * contiguous (APM Vol. 2, 15.10.1 and 15.11: IOPM_BASE_PA and MSRPM_BASE_PA name one base for
   * 12 KiB and 8 KiB), which is why svm.c takes them from `alloc_pages(order)`.
   */
  private readonly freeRuns: [number, number][] = [];
  /** Frame numbers are handed out from 1 (hpa 0 stays a hole: a null root is never valid memory). */
  private nextFrame = 1;
  private hypervisorPages = 0;
  private readonly maxHypervisorPages: number;

  constructor(maxHypervisorPages = 1 << 18) {
    this.maxHypervisorPages = maxHypervisorPages;
  }

  /** How many hypervisor pages are allocated now. */
  get allocatedPages(): number {
    return this.hypervisorPages;
  }

  /** One past the highest frame number ever handed out (what a leak of frames would grow). */
  get frameLimit(): number {
    return this.nextFrame;
  }

  /**
   * A zeroed hypervisor page; returns its hpfn. Throws KvmError(ENOMEM) past the limit (the
   * caller, like KVM's pre-topped caches, allocates before it changes anything).
   */
  allocPage(): number {
    if (this.hypervisorPages >= this.maxHypervisorPages) {
      throw new KvmError('alloc_page', Errno.ENOMEM, `${this.hypervisorPages} hypervisor pages in use`);
    }
    const hpfn = this.freeFrames.length > 0 ? this.freeFrames.pop()! : this.takeRun(1);
    this.frames[hpfn] = new Uint8Array(PAGE_SIZE);
    this.hypervisorPages++;
    return hpfn;
  }

  /** Returns a hypervisor page. Freeing a hole or a RAM frame is a bug in the caller: it throws. */
  freePage(hpfn: number): void {
    if (this.frames[hpfn] === undefined) throw new Error(`freePage: hpfn ${hpfn} is not allocated`);
    this.frames[hpfn] = undefined;
    this.freeFrames.push(hpfn);
    this.hypervisorPages--;
  }

  /**
   * `alloc_pages`: `count` zeroed hypervisor pages at consecutive frames (for structures the
   * silicon reads from one base address); returns the first hpfn. Free them with `freePages`
   * (the same first frame and count). Throws KvmError(ENOMEM) past the limit.
   */
  allocPages(count: number): number {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`allocPages: count ${count}`);
    if (this.hypervisorPages + count > this.maxHypervisorPages) {
      throw new KvmError('alloc_pages', Errno.ENOMEM, `${this.hypervisorPages} hypervisor pages in use`);
    }
    const first = this.takeRun(count);
    for (let i = 0; i < count; i++) this.frames[first + i] = new Uint8Array(PAGE_SIZE);
    this.hypervisorPages += count;
    return first;
  }

  /** `__free_pages`: returns a run from `allocPages` whole, so it can be handed out whole again. */
  freePages(first: number, count: number): void {
    for (let i = 0; i < count; i++) {
      if (this.frames[first + i] === undefined)
        throw new Error(`freePages: hpfn ${first + i} is not allocated`);
    }
    for (let i = 0; i < count; i++) this.frames[first + i] = undefined;
    this.hypervisorPages -= count;
    this.giveRun(first, count);
  }

  /** Reserves `count` consecutive frames for RAM pages (views set later); returns the first hpfn. */
  reserveRange(count: number): number {
    return this.takeRun(count);
  }

  /**
   * Gives back a range from `reserveRange` (a deleted memory slot) for reuse. The caller has
   * removed the views it installed (`setFrame(hpfn, null)`); a range may be far larger than its
   * backed pages, so it is not walked here.
   */
  releaseRange(first: number, count: number): void {
    this.giveRun(first, count);
  }

  /** First fit among the freed runs, else fresh frames past the highest one. */
  private takeRun(count: number): number {
    const runs = this.freeRuns;
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i];
      if (run[1] < count) continue;
      const first = run[0];
      if (run[1] === count) runs.splice(i, 1);
      else {
        run[0] += count;
        run[1] -= count;
      }
      return first;
    }
    const first = this.nextFrame;
    this.nextFrame += count;
    return first;
  }

  /** Inserts a freed run in order, merging it with its neighbours and with the unused top. */
  private giveRun(first: number, count: number): void {
    if (count <= 0) return;
    const runs = this.freeRuns;
    let i = 0;
    while (i < runs.length && runs[i][0] < first) i++;
    const before = i > 0 ? runs[i - 1] : undefined;
    const after = i < runs.length ? runs[i] : undefined;
    if (before !== undefined && before[0] + before[1] === first) {
      before[1] += count;
      if (after !== undefined && before[0] + before[1] === after[0]) {
        before[1] += after[1];
        runs.splice(i, 1);
      }
    } else if (after !== undefined && first + count === after[0]) {
      after[0] = first;
      after[1] += count;
    } else {
      runs.splice(i, 0, [first, count]);
    }
    // A run that reaches the top goes back to never-used frames, so the frame table shrinks.
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === this.nextFrame) {
      this.nextFrame = last[0];
      runs.pop();
      this.frames.length = Math.min(this.frames.length, this.nextFrame);
    }
  }

  /** Installs (or with null removes) the view of a RAM frame. */
  setFrame(hpfn: number, view: Uint8Array | null): void {
    this.frames[hpfn] = view ?? undefined;
  }

  /** The 4 KiB view of frame `hpfn`, or null for a hole (PhysicalMemory's fast path). */
  pageView(pfn: number): Uint8Array | null {
    return this.frames[pfn] ?? null;
  }

  read8(pa: number): number {
    const f = this.frames[Math.floor(pa / PAGE_SIZE)];
    return f === undefined ? 0xff : f[pa & (PAGE_SIZE - 1)];
  }
  read16(pa: number): number {
    const f = this.frames[Math.floor(pa / PAGE_SIZE)];
    if (f === undefined) return 0xffff;
    const o = pa & (PAGE_SIZE - 1);
    return f[o] | (f[o + 1] << 8);
  }
  read32(pa: number): number {
    const f = this.frames[Math.floor(pa / PAGE_SIZE)];
    if (f === undefined) return 0xffffffff;
    const o = pa & (PAGE_SIZE - 1);
    return (f[o] | (f[o + 1] << 8) | (f[o + 2] << 16) | (f[o + 3] << 24)) >>> 0;
  }
  write8(pa: number, value: number): void {
    const f = this.frames[Math.floor(pa / PAGE_SIZE)];
    if (f !== undefined) f[pa & (PAGE_SIZE - 1)] = value;
  }
  write16(pa: number, value: number): void {
    const f = this.frames[Math.floor(pa / PAGE_SIZE)];
    if (f === undefined) return;
    const o = pa & (PAGE_SIZE - 1);
    f[o] = value;
    f[o + 1] = value >>> 8;
  }
  write32(pa: number, value: number): void {
    const f = this.frames[Math.floor(pa / PAGE_SIZE)];
    if (f === undefined) return;
    const o = pa & (PAGE_SIZE - 1);
    f[o] = value;
    f[o + 1] = value >>> 8;
    f[o + 2] = value >>> 16;
    f[o + 3] = value >>> 24;
  }
}

export { PAGE_SHIFT };
