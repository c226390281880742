/**
 * Guest RAM that several `Cpu`s, each on its own thread (a worker), read and write at once: one
 * flat RAM at physical address 0 over a `SharedArrayBuffer` that every thread maps, as QEMU's
 * MTTCG gives every vCPU thread the same RAMBlock. The page views the TLB caches are views of that
 * one buffer, so a plain store by one thread is seen by the others' plain loads (JavaScript's
 * memory model for shared typed arrays: unordered, but never torn for aligned accesses of a
 * typed array's element size, which is what x86's plain loads and stores need, SDM Vol. 3
 * 9.1.1). The locked read-modify-writes go through `lockedMemory` (locked-memory.ts).
 */
import type { PhysicalMemory } from '../api/physical-memory.js';

export class SharedPhysicalMemory implements PhysicalMemory {
  readonly bytes: Uint8Array;
  private readonly pages: number;
  private readonly views: (Uint8Array | undefined)[] = [];

  /**
   * Over `buffer` (a SharedArrayBuffer for threads; a plain ArrayBuffer works alike on one), its
   * whole length, a multiple of 4 KiB. Pass the same buffer to the `SharedPhysicalMemory` of
   * every thread.
   */
  constructor(readonly buffer: SharedArrayBuffer | ArrayBuffer) {
    if (buffer.byteLength === 0 || buffer.byteLength % 4096 !== 0)
      throw new RangeError(
        `SharedPhysicalMemory: size ${buffer.byteLength} is not a positive multiple of 4096`,
      );
    this.bytes = new Uint8Array(buffer);
    this.pages = buffer.byteLength / 4096;
  }

  /** A fresh SharedArrayBuffer of `size` bytes rounded up to whole pages. */
  static allocate(size: number): SharedPhysicalMemory {
    return new SharedPhysicalMemory(new SharedArrayBuffer(Math.ceil(size / 4096) * 4096));
  }

  pageView(pfn: number): Uint8Array | null {
    if (pfn >= this.pages || pfn < 0) return null;
    let v = this.views[pfn];
    if (v === undefined) {
      v = this.bytes.subarray(pfn * 4096, pfn * 4096 + 4096);
      this.views[pfn] = v;
    }
    return v;
  }
  read8(pa: number): number {
    return pa >= 0 && pa < this.bytes.length ? this.bytes[pa] : 0xff;
  }
  read16(pa: number): number {
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }
  read32(pa: number): number {
    return (this.read16(pa) | (this.read16(pa + 2) << 16)) >>> 0;
  }
  write8(pa: number, value: number): void {
    if (pa >= 0 && pa < this.bytes.length) this.bytes[pa] = value;
  }
  write16(pa: number, value: number): void {
    this.write8(pa, value & 0xff);
    this.write8(pa + 1, (value >>> 8) & 0xff);
  }
  write32(pa: number, value: number): void {
    this.write16(pa, value & 0xffff);
    this.write16(pa + 2, (value >>> 16) & 0xffff);
  }
}
