import type { MmuHostOps, PagingState } from '../host.js';

/** Options for {@link FakeHost}. */
export interface FakeHostOptions {
  /** Guest RAM size in bytes (a multiple of 4096), at gpa 0. Default 16 MiB. */
  ramBytes?: number;
  /** The most host pages allocPage hands out at once (shadow pages + PAE root + caches). Default 4096. */
  maxHostPages?: number;
  /** Host frame of guest frame 0; guest RAM is host-contiguous from there. Default 0x40000 (hpa 1 GiB). */
  ramHpfnBase?: number;
  /** First host frame of the page pool. Default 0x100000 (hpa 4 GiB: addresses need the spte's high half). */
  poolHpfnBase?: number;
}

/**
 * A host for unit tests and benchmarks: guest RAM is one ArrayBuffer, shadow pages come from a
 * pool of separate 4 KiB buffers, TLB flushes are counted. Guest frames listed in `mmioGfns` (or
 * beyond RAM) are not RAM. Host-physical addresses of RAM and pool differ from guest-physical
 * ones on purpose, so mixing up the spaces shows.
 */
export class FakeHost implements MmuHostOps {
  readonly ram: Uint8Array;
  readonly ramView: DataView;
  readonly paging: PagingState = { cr0: 0, cr3: 0, cr4: 0, efer: 0 };
  readonly ramPages: number;
  readonly ramHpfnBase: number;
  readonly poolHpfnBase: number;
  /** Guest frames inside RAM's range that behave as MMIO. */
  readonly mmioGfns = new Set<number>();
  maxHostPages: number;
  tlbFlushes = 0;
  readonly tlbFlushedGvas: number[] = [];
  private readonly pool = new Map<number, Uint8Array>();
  private readonly freeHpfns: number[] = [];
  private nextPoolHpfn: number;
  liveHostPages = 0;

  constructor(opts: FakeHostOptions = {}) {
    const ramBytes = opts.ramBytes ?? 16 << 20;
    this.ram = new Uint8Array(new ArrayBuffer(ramBytes));
    this.ramView = new DataView(this.ram.buffer);
    this.ramPages = ramBytes >>> 12;
    this.maxHostPages = opts.maxHostPages ?? 4096;
    this.ramHpfnBase = opts.ramHpfnBase ?? 0x40000;
    this.poolHpfnBase = opts.poolHpfnBase ?? 0x100000;
    this.nextPoolHpfn = this.poolHpfnBase;
  }

  isRam(gfn: number): boolean {
    return gfn >= 0 && gfn < this.ramPages && !this.mmioGfns.has(gfn);
  }

  readGuest(gpa: number, dst: Uint8Array): boolean {
    if (!this.isRam(Math.floor(gpa / 4096)) || !this.isRam(Math.floor((gpa + dst.length - 1) / 4096)))
      return false;
    // Byte by byte: a subarray per read would allocate, and the benchmark measures the MMU's
    // allocations through this host.
    const ram = this.ram;
    for (let i = 0; i < dst.length; i++) dst[i] = ram[gpa + i];
    return true;
  }

  cmpxchgGuest32(gpa: number, expected: number, desired: number): boolean {
    if (!this.isRam(Math.floor(gpa / 4096))) return false;
    if (this.ramView.getUint32(gpa, true) !== expected >>> 0) return false;
    this.ramView.setUint32(gpa, desired >>> 0, true);
    return true;
  }

  gfnToHpfn(gfn: number): number {
    return this.isRam(gfn) ? this.ramHpfnBase + gfn : -1;
  }

  allocPage(): number {
    if (this.liveHostPages >= this.maxHostPages) return -1;
    const hpfn = this.freeHpfns.pop() ?? this.nextPoolHpfn++;
    let page = this.pool.get(hpfn);
    if (page === undefined) {
      page = new Uint8Array(4096);
      this.pool.set(hpfn, page);
    } else page.fill(0);
    this.liveHostPages++;
    return hpfn;
  }

  freePage(hpfn: number): void {
    if (!this.pool.has(hpfn)) return;
    this.pool.get(hpfn)!.fill(0xcc); // garbage, so a use after free shows
    this.freeHpfns.push(hpfn);
    this.liveHostPages--;
  }

  pageView(hpfn: number): Uint8Array {
    const page = this.pool.get(hpfn);
    if (page !== undefined) return page;
    const gfn = hpfn - this.ramHpfnBase;
    return this.ram.subarray(gfn * 4096, gfn * 4096 + 4096);
  }

  flushTlb(): void {
    this.tlbFlushes++;
  }

  flushTlbGva(gva: number): void {
    this.tlbFlushedGvas.push(gva);
  }

  /** Reads 8 bytes of host-physical memory (pool page or guest RAM) as lo/hi halves; null if nothing there. */
  readHost64(hpa: number): { lo: number; hi: number } | null {
    const hpfn = Math.floor(hpa / 4096);
    const off = hpa % 4096;
    const page = this.pool.get(hpfn);
    if (page !== undefined) {
      const v = new DataView(page.buffer, page.byteOffset, 4096);
      return { lo: v.getUint32(off, true), hi: v.getUint32(off + 4, true) };
    }
    const gfn = hpfn - this.ramHpfnBase;
    if (gfn < 0 || gfn >= this.ramPages) return null;
    return {
      lo: this.ramView.getUint32(gfn * 4096 + off, true),
      hi: this.ramView.getUint32(gfn * 4096 + off + 4, true),
    };
  }

  read32(gpa: number): number {
    return this.ramView.getUint32(gpa, true);
  }
  write32(gpa: number, value: number): void {
    this.ramView.setUint32(gpa, value >>> 0, true);
  }
  /** Writes a 64-bit value given as halves (what an emulated cmpxchg8b or two movs leave). */
  write64(gpa: number, lo: number, hi: number): void {
    this.ramView.setUint32(gpa, lo >>> 0, true);
    this.ramView.setUint32(gpa + 4, hi >>> 0, true);
  }
}

/**
 * One more vCPU of a {@link FakeHost}'s VM: its own paging state and TLB counters, the same
 * guest RAM and page pool. Flush and reload requests (KVM_REQ_TLB_FLUSH, KVM_REQ_MMU_RELOAD) are
 * counted, as a run loop would serve them before the vCPU's next entry.
 */
export class FakeVcpuHost implements MmuHostOps {
  readonly paging: PagingState = { cr0: 0, cr3: 0, cr4: 0, efer: 0 };
  tlbFlushes = 0;
  tlbFlushRequests = 0;
  mmuReloadRequests = 0;
  readonly tlbFlushedGvas: number[] = [];

  constructor(readonly vm: FakeHost) {}

  readGuest(gpa: number, dst: Uint8Array): boolean {
    return this.vm.readGuest(gpa, dst);
  }
  cmpxchgGuest32(gpa: number, expected: number, desired: number): boolean {
    return this.vm.cmpxchgGuest32(gpa, expected, desired);
  }
  gfnToHpfn(gfn: number): number {
    return this.vm.gfnToHpfn(gfn);
  }
  allocPage(): number {
    return this.vm.allocPage();
  }
  freePage(hpfn: number): void {
    this.vm.freePage(hpfn);
  }
  pageView(hpfn: number): Uint8Array {
    return this.vm.pageView(hpfn);
  }
  flushTlb(): void {
    this.tlbFlushes++;
  }
  flushTlbGva(gva: number): void {
    this.tlbFlushedGvas.push(gva);
  }
  requestTlbFlush(): void {
    this.tlbFlushRequests++;
  }
  requestMmuReload(): void {
    this.mmuReloadRequests++;
  }
}
