/**
 * The VMM's virtual address space, as the software engine models it: `Vm.allocateMemory` is
 * this engine's `mmap(MAP_ANONYMOUS)`, handing out page-aligned user addresses (hva) backed by
 * ArrayBuffers. `kvm_userspace_memory_region.userspace_addr` then names memory here, exactly as
 * on Linux it names memory in the process. One space per SoftKvm (no global state).
 */
import { Errno, KvmError } from '../api/errors.js';
import type { HostMemory } from '../api/types.js';

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/**
 * x86-64 `TASK_SIZE_MAX`: the end of user space. `access_ok()` refuses ranges past it, which is
 * why KVM_SET_USER_MEMORY_REGION with a kernel address is EINVAL.
 */
export const TASK_SIZE_MAX = 0x7fff_ffff_f000;

/** Where our "mmap" starts handing out addresses (like a 64-bit Linux mmap base). */
const MMAP_BASE = 0x7f00_0000_0000;

/**
 * Where the host-physical wasm arena is mapped (below MMAP_BASE; at most 4 GiB): the arena's frame
 * hpfn is at ARENA_HVA + hpfn * 4096, so a slot over it knows its host frames from its address.
 */
export const ARENA_HVA = 0x7e00_0000_0000;

/**
 * Where `allocate` takes memory first, when given: `HostPhysicalMemory`'s wasm arena (host RAM the
 * silicon's CPU reaches from wasm code), whose frames are handed out for good.
 */
export interface HvaArena {
  /** `count` consecutive frames; the first hpfn, or -1 when there is no room. */
  allocArenaFrames(count: number): number;
  /** The arena's frames as bytes (hpfn at hpfn * 4096), or null: no arena. */
  readonly arenaBytes: Uint8Array | null;
  /** One past the arena's last frame (undefined: no arena). */
  readonly wasmFrames: number | undefined;
}

/** One anonymous mapping. */
export interface HvaMapping extends HostMemory {
  /** `userspaceAddr` as a number (exact: below 2^47). */
  readonly hva: number;
  readonly bytes: Uint8Array;
}

export class HvaSpace {
  /** Mappings sorted by address (they never overlap: each gets a fresh range). */
  private readonly mappings: HvaMapping[] = [];
  private next = MMAP_BASE;
  /** Upper bound on bytes handed out, so a runaway VMM gets ENOMEM rather than a crash. */
  private readonly limit: number;
  private used = 0;

  /**
   * `shared`: mappings are SharedArrayBuffers, so the VMM can hand guest RAM to another thread
   * (a page's main thread, a second worker) without a copy, as MAP_SHARED memory is.
   */
  /**
   * `arena`: the host-physical wasm arena RAM comes from while it has room (then ArrayBuffers, as
   * without one); with `shared`, only an arena that is itself a SharedArrayBuffer's (a shared
   * `WebAssembly.Memory`), since another thread must be able to take the buffers handed out.
   */
  constructor(
    limitBytes = 16 * 1024 * 1024 * 1024,
    private readonly shared = false,
    private readonly arena: HvaArena | null = null,
  ) {
    this.limit = limitBytes;
    if (shared && arena?.arenaBytes && !(arena.arenaBytes.buffer instanceof SharedArrayBuffer))
      throw new TypeError('a shared hva space cannot map a wasm arena that is not shared');
  }

  /**
   * The host frame of the page at `hva` when `hva` … `hva + npages` pages are all in the wasm
   * arena (a memory slot over them uses the arena's frames in place), else -1.
   */
  arenaFrame(hva: number, npages: number): number {
    const frames = this.arena?.wasmFrames;
    if (frames === undefined || hva < ARENA_HVA + PAGE_SIZE) return -1;
    const first = (hva - ARENA_HVA) / PAGE_SIZE;
    return first + npages <= frames ? first : -1;
  }

  /**
   * Bytes handed out so far. There is no munmap: the mappings live as long as the engine, as a
   * VMM's would if it never unmapped, so this is what a VMM that allocates per boot grows.
   */
  get mappedBytes(): number {
    return this.used;
  }

  /** Anonymous, zeroed, page-aligned memory. EINVAL for a bad size, ENOMEM past the limit. */
  allocate(size: number): HvaMapping {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new KvmError('mmap', Errno.EINVAL, `size ${size}`);
    }
    const rounded = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    if (this.used + rounded > this.limit) throw new KvmError('mmap', Errno.ENOMEM, `${rounded} bytes`);
    const inArena = this.allocateInArena(rounded);
    if (inArena !== null) return inArena;
    let buffer: ArrayBuffer | SharedArrayBuffer;
    try {
      buffer = this.shared ? new SharedArrayBuffer(rounded) : new ArrayBuffer(rounded);
    } catch {
      throw new KvmError('mmap', Errno.ENOMEM, `${rounded} bytes`);
    }
    const hva = this.next;
    // A guard page between mappings, as mmap usually leaves none but we want overruns to miss.
    this.next += rounded + PAGE_SIZE;
    this.used += rounded;
    const m: HvaMapping = {
      hva,
      userspaceAddr: BigInt(hva),
      size: rounded,
      buffer,
      bytes: new Uint8Array(buffer),
    };
    this.mappings.push(m);
    return m;
  }

  /** `allocate` from the wasm arena, or null without one or room in it. */
  private allocateInArena(rounded: number): HvaMapping | null {
    const bytes = this.arena?.arenaBytes;
    if (bytes === null || bytes === undefined) return null;
    const first = this.arena!.allocArenaFrames(rounded / PAGE_SIZE);
    if (first < 0) return null;
    const hva = ARENA_HVA + first * PAGE_SIZE;
    const view = bytes.subarray(first * PAGE_SIZE, first * PAGE_SIZE + rounded);
    // Zeroed as mmap's memory is, with nothing to do: the arena is a fresh WebAssembly.Memory
    // (zero-filled by the engine) whose frames are handed out once and never reused
    // (host-physical.ts `allocArenaFrames`), and nothing reaches a frame before it is handed out.
    // Filling it anyway cost 0.1 s a 128 MiB VM at start-up and committed every page of it.
    this.used += rounded;
    const m: HvaMapping = {
      hva,
      userspaceAddr: BigInt(hva),
      size: rounded,
      buffer: view.buffer,
      byteOffset: view.byteOffset,
      bytes: view,
    };
    // Arena addresses lie below every mmap one, in the order handed out.
    let i = 0;
    while (i < this.mappings.length && this.mappings[i].hva < hva) i++;
    this.mappings.splice(i, 0, m);
    return m;
  }

  /** The mapping containing `hva`, or undefined (an unmapped address). */
  find(hva: number): HvaMapping | undefined {
    const ms = this.mappings;
    let lo = 0;
    let hi = ms.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = ms[mid];
      if (hva < m.hva) hi = mid - 1;
      else if (hva >= m.hva + m.size) lo = mid + 1;
      else return m;
    }
    return undefined;
  }

  /**
   * The mappings that overlap [`start`, `end`), in address order: how a memory slot finds the
   * pages that have memory behind them without visiting every page of a huge, mostly empty
   * slot (KVM_MEM_MAX_NR_PAGES is 2^31 - 1).
   */
  overlapping(start: number, end: number): HvaMapping[] {
    const ms = this.mappings;
    let lo = 0;
    let hi = ms.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ms[mid].hva + ms[mid].size <= start) lo = mid + 1;
      else hi = mid;
    }
    const out: HvaMapping[] = [];
    for (let i = lo; i < ms.length && ms[i].hva < end; i++) out.push(ms[i]);
    return out;
  }

  /** A 4 KiB view of the page at page-aligned `hva`, or null when nothing is mapped there. */
  pageAt(hva: number): Uint8Array | null {
    const m = this.find(hva);
    if (m === undefined) return null;
    const off = hva - m.hva;
    return m.bytes.subarray(off, off + PAGE_SIZE);
  }
}
