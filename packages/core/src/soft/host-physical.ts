/**
 * Host-physical memory: one address space holding the guest RAM slots (the VMM's buffers) and
 * the hypervisor's own pages (shadow page tables, VMCS/VMCB, I/O and MSR bitmaps), each 4 KiB
 * page a host frame (hpfn). The silicon walks shadow tables and reads control structures here
 * exactly as a CPU reads RAM. It implements x86emu's `PhysicalMemory`: a frame with no page
 * reads as all ones and ignores writes (open bus), never a JavaScript exception.
 *
 * With a wasm arena (`wasmArenaBytes`), the low frames 1 … `wasmFrames - 1` are one
 * `WebAssembly.Memory` (x86emu's `wasmArenaMemory` layout: frame hpfn at `RAM + hpfn * 4096`),
 * which the hva space hands out as the VMM's RAM (`allocArenaFrames`) and memory slots over it map
 * frame for frame: v86's model, where the host-physical space is a wasm memory. That makes this an
 * x86emu `WasmPhysicalMemory`, so the silicon's CPU with the wasm backend reaches guest RAM inline;
 * hypervisor pages and every other slot's frames come from above the arena and take its imports.
 */
import { type PhysicalMemory, type WasmMemory, wasmArenaMemory } from '@kvm/x86emu';
import { Errno, KvmError } from '../api/errors.js';
import { PAGE_SHIFT, PAGE_SIZE } from './hva-space.js';

export class HostPhysicalMemory implements PhysicalMemory {
  /** Page views by hpfn; `undefined` for a hole. */
  private readonly frames: (Uint8Array | undefined)[] = [];
  /** The wasm arena's memory, or undefined without one (x86emu's `WasmPhysicalMemory.wasm`). */
  readonly wasm: WasmMemory | undefined;
  /** Frames below this are the arena's (frame 0 stays a hole); undefined without an arena. */
  readonly wasmFrames: number | undefined;
  /** The CPU whose TLB lives in the arena (x86emu's `moveTlb`); undefined without an arena. */
  tlbOwner: object | null | undefined;
  /** The arena's frames (frame hpfn at hpfn * 4096), or null. */
  private readonly arena: Uint8Array | null = null;
  /** The arena's next frame not yet handed out by `allocArenaFrames`. */
  private arenaNext = 1;
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

  /**
   * `wasmArenaBytes` > 0: a wasm arena for that much RAM (rounded up to 64 KiB; at most 4 GiB
   * minus 320 KiB), reserved at once since a wasm memory that grows moves its buffer; `shared`:
   * a shared memory, so the VMM's RAM taken from it is a SharedArrayBuffer's (the engine's
   * `sharedMemory`). Throws a RangeError when the JavaScript engine refuses the memory, or has no
   * WebAssembly.
   */
  constructor(maxHypervisorPages = 1 << 18, wasmArenaBytes = 0, shared = false) {
    this.maxHypervisorPages = maxHypervisorPages;
    if (wasmArenaBytes > 0) {
      const { wasm, bytes } = wasmArenaMemory(1 + Math.ceil(wasmArenaBytes / PAGE_SIZE), shared);
      this.wasm = wasm;
      this.arena = bytes;
      this.wasmFrames = bytes.length / PAGE_SIZE;
      this.tlbOwner = null;
      this.nextFrame = this.wasmFrames;
    }
  }

  /** Frames of the arena not yet handed out (0 without one). */
  get arenaFreeFrames(): number {
    return this.arena === null ? 0 : (this.wasmFrames as number) - this.arenaNext;
  }

  /**
   * `count` consecutive arena frames for the VMM's RAM (`HvaSpace.allocate`), viewed from now on
   * (host-physical memory does not go away: there is no munmap); returns the first hpfn, or -1
   * without an arena or room in it.
   */
  allocArenaFrames(count: number): number {
    const arena = this.arena;
    if (arena === null || count > this.arenaFreeFrames) return -1;
    const first = this.arenaNext;
    this.arenaNext += count;
    for (let i = first; i < first + count; i++)
      this.frames[i] = arena.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    return first;
  }

  /** The arena's frames as bytes (frame hpfn at hpfn * 4096), or null without an arena. */
  get arenaBytes(): Uint8Array | null {
    return this.arena;
  }

  /** Whether `hpfn` is an arena frame, whose view is fixed (`setFrame` and `releaseRange` leave it). */
  isArenaFrame(hpfn: number): boolean {
    return this.arena !== null && hpfn < (this.wasmFrames as number);
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
    // A slot over the arena used its frames in place (`MemorySlots.set`), reserved none.
    if (this.isArenaFrame(first)) return;
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

  /**
   * Installs (or with null removes) the view of a RAM frame. An arena frame keeps the arena's
   * view: a slot over the arena maps its frames in place, and another slot may alias them.
   */
  setFrame(hpfn: number, view: Uint8Array | null): void {
    if (this.isArenaFrame(hpfn)) return;
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

/** The wasm arena's RAM when the VMM does not say how much (`siliconHostMemory`). */
export const DEFAULT_WASM_RAM_BYTES = 512 * 1024 * 1024;

/**
 * The host-physical memory a silicon model makes for itself: with its guest CPU's compiler on
 * the wasm backend (`backend`, else `X86EMU_JIT_BACKEND=wasm`), one with a wasm arena for
 * `wasmRamBytes` of guest RAM, so compiled code reaches RAM inline; otherwise a plain one. Where
 * there is no WebAssembly the backend compiles to JavaScript anyway (x86emu probes it), so the
 * memory is plain there too. `sharedArena`: the arena a shared memory (the engine's
 * `sharedMemory`, for RAM other threads take).
 */
export function siliconHostMemory(
  jit: boolean,
  backend: 'js' | 'wasm' | undefined,
  wasmRamBytes: number = DEFAULT_WASM_RAM_BYTES,
  sharedArena = false,
): HostPhysicalMemory {
  const be = backend ?? (typeof process !== 'undefined' ? process.env?.X86EMU_JIT_BACKEND : undefined);
  const wasm =
    jit && be === 'wasm' && typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'object';
  return new HostPhysicalMemory(undefined, wasm ? wasmRamBytes : 0, wasm && sharedArena);
}
