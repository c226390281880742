/**
 * Guest RAM that several `Cpu`s, each on its own thread (a worker), read and write at once: one
 * flat RAM at physical address 0 over a `SharedArrayBuffer` that every thread maps, as QEMU's
 * MTTCG gives every vCPU thread the same RAMBlock. The page views the TLB caches are views of that
 * one buffer, so a plain store by one thread is seen by the others' plain loads (JavaScript's
 * memory model for shared typed arrays: unordered, but never torn for aligned accesses of a
 * typed array's element size, which is what x86's plain loads and stores need, SDM Vol. 3
 * 9.1.1). The locked read-modify-writes go through `lockedMemory` (locked-memory.ts).
 */
import { FlatPhysicalMemory } from '../api/physical-memory.js';

export class SharedPhysicalMemory extends FlatPhysicalMemory {
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
    super(new Uint8Array(buffer));
  }

  /** A fresh SharedArrayBuffer of `size` bytes rounded up to whole pages. */
  static allocate(size: number): SharedPhysicalMemory {
    return new SharedPhysicalMemory(new SharedArrayBuffer(Math.ceil(size / 4096) * 4096));
  }
}
