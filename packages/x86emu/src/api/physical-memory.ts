/**
 * The physical address space the CPU reads and writes through. It belongs to the caller: a
 * plain emulator maps RAM and devices here; the software engine's silicon gives the
 * HOST-physical space (guest RAM slots plus the hypervisor's shadow page tables).
 *
 * Physical addresses are plain numbers (up to 52 bits fit a double exactly); never BigInt.
 */
export interface PhysicalMemory {
  /**
   * Fast path: a view of exactly 4096 bytes of backing store for physical page `pfn`
   * (physical address `pfn * 4096`), or `null` when the page is MMIO or unbacked, in which case
   * the CPU falls back to the `readN`/`writeN` calls below for every access to it.
   * The CPU caches the view in its TLB until `Cpu.flushTlb()`; the caller must flush when it
   * remaps a page. Must not throw.
   */
  pageView(pfn: number): Uint8Array | null;
  /**
   * Slow path for pages without a view. `pa` is a physical address, the access never crosses
   * a 4 KiB boundary. Unbacked addresses read as all ones (open bus) and ignore writes, like a
   * PC. Returns the value zero-extended (unsigned). Must not throw.
   */
  read8(pa: number): number;
  read16(pa: number): number;
  read32(pa: number): number;
  write8(pa: number, value: number): void;
  write16(pa: number, value: number): void;
  write32(pa: number, value: number): void;
}

/**
 * A physical memory made of one flat RAM buffer at physical address 0; everything above is
 * unbacked. `new FlatPhysicalMemory(size)` allocates the RAM; the shared (smp/) and wasm (jit/wasm/)
 * memories pass bytes that live in a SharedArrayBuffer or a WebAssembly.Memory.
 */
export class FlatPhysicalMemory implements PhysicalMemory {
  readonly bytes: Uint8Array;
  /** RAM pages (4 KiB): frames below this have a view. */
  readonly pages: number;
  /** Page views, made once (the CPU asks on every TLB miss). */
  private readonly views: (Uint8Array | undefined)[] = [];

  /** `size` in bytes, rounded up to a whole page, or the RAM's bytes (a whole number of pages). */
  constructor(sizeOrBytes: number | Uint8Array) {
    if (typeof sizeOrBytes === 'number') {
      this.pages = Math.ceil(sizeOrBytes / 4096);
      this.bytes = new Uint8Array(this.pages * 4096);
    } else {
      this.pages = Math.floor(sizeOrBytes.length / 4096);
      this.bytes = sizeOrBytes;
    }
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
