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
  /** Frames of freed hypervisor pages, reused first. */
  private readonly freeFrames: number[] = [];
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

  /**
   * A zeroed hypervisor page; returns its hpfn. Throws KvmError(ENOMEM) past the limit (the
   * caller, like KVM's pre-topped caches, allocates before it changes anything).
   */
  allocPage(): number {
    if (this.hypervisorPages >= this.maxHypervisorPages) {
      throw new KvmError('alloc_page', Errno.ENOMEM, `${this.hypervisorPages} hypervisor pages in use`);
    }
    const hpfn = this.freeFrames.length > 0 ? this.freeFrames.pop()! : this.nextFrame++;
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

  /** Reserves `count` consecutive frames for RAM pages (views set later); returns the first hpfn. */
  reserveRange(count: number): number {
    const first = this.nextFrame;
    this.nextFrame += count;
    return first;
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
