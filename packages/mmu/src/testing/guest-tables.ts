import type { FakeHost } from './fake-host.js';

export type GuestPagingMode = 'paging32' | 'paging32E' | 'paging64';

/** Flags for guest entries (low half). */
export const G_P = 1;
export const G_W = 2;
export const G_U = 4;
export const G_PWT = 8;
export const G_PCD = 16;
export const G_A = 32;
export const G_D = 64;
export const G_PS = 128;
export const G_G = 256;

/** Extra choices for {@link GuestPageTables.map}. */
export interface MapOptions {
  /** Flags of the directory entries created on the way (default P|W|U). Existing ones are kept. */
  dirFlags?: number;
  /** Map a large page (4 MiB for paging32, 2 MiB otherwise) with a PS directory entry. */
  large?: boolean;
  /** paging64: map a 1 GiB page with a PS PDPTE. */
  huge?: boolean;
  /** Set XD (bit 63) in the leaf (8-byte formats). */
  nx?: boolean;
}

/**
 * Builds guest page tables in a FakeHost's RAM, the way a guest kernel would: `map` creates
 * missing tables from a bump allocator of guest frames. Entries are written straight into RAM
 * (the MMU is not told), so build tables before the MMU shadows them, or notify it.
 */
export class GuestPageTables {
  /** The value for CR3. */
  readonly cr3: number;
  private nextGpa: number;
  readonly pteSize: number;
  readonly levels: number;

  constructor(
    readonly host: FakeHost,
    readonly mode: GuestPagingMode,
    /** Guest-physical range the tables are allocated from. */
    tableAreaGpa: number,
  ) {
    this.nextGpa = tableAreaGpa;
    this.pteSize = mode === 'paging32' ? 4 : 8;
    this.levels = mode === 'paging32' ? 2 : mode === 'paging32E' ? 3 : 4;
    // The PAE PDPT is 32 bytes; give it a page of its own anyway.
    this.cr3 = this.allocTable();
  }

  /** A zeroed guest page for a table; returns its gpa. */
  allocTable(): number {
    const gpa = this.nextGpa;
    this.nextGpa += 4096;
    this.host.ram.fill(0, gpa, gpa + 4096);
    return gpa;
  }

  private bitsAt(level: number): number {
    return this.mode === 'paging32' ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
  }

  private index(gva: number, level: number): number {
    const mask = this.mode === 'paging32' ? 0x3ff : this.mode === 'paging32E' && level === 3 ? 3 : 0x1ff;
    return Math.floor(gva / 2 ** this.bitsAt(level)) & mask;
  }

  readEntry(gpa: number): { lo: number; hi: number } {
    return { lo: this.host.read32(gpa), hi: this.pteSize === 8 ? this.host.read32(gpa + 4) : 0 };
  }

  private writeEntry(gpa: number, lo: number, hi: number): void {
    this.host.write32(gpa, lo);
    if (this.pteSize === 8) this.host.write32(gpa + 4, hi);
  }

  private entryBase(lo: number, hi: number): number {
    return this.pteSize === 8 ? (hi & 0xfffff) * 2 ** 32 + (lo & 0xfffff000) : lo & 0xfffff000;
  }

  /**
   * gpa of the entry for `gva` at `level` (1 = pte), creating missing tables above it. For
   * `level` above 1 with a large mapping, that is the PS directory entry.
   */
  entryGpa(gva: number, level: number, dirFlags = G_P | G_W | G_U): number {
    let table = this.cr3;
    for (let l = this.levels; l > level; l--) {
      const at = table + this.index(gva, l) * this.pteSize;
      let { lo, hi } = this.readEntry(at);
      if (!(lo & G_P)) {
        const t = this.allocTable();
        // PAE PDPTEs take only P (bits 1, 2, 5-8 are reserved).
        lo = (t | (this.mode === 'paging32E' && l === 3 ? G_P : dirFlags)) >>> 0;
        hi = 0;
        this.writeEntry(at, lo, hi);
      }
      table = this.entryBase(lo, hi);
    }
    return table + this.index(gva, level) * this.pteSize;
  }

  /** Maps the page at `gva` to `gpa` with leaf `flags` (include G_P). */
  map(gva: number, gpa: number, flags: number, opts: MapOptions = {}): number {
    const level = opts.huge ? 3 : opts.large ? 2 : 1;
    const at = this.entryGpa(gva, level, opts.dirFlags);
    let lo = flags | (level > 1 ? G_PS : 0);
    let hi = 0;
    if (this.pteSize === 8) {
      lo = (lo | ((gpa % 2 ** 32) & 0xfffff000)) >>> 0;
      hi = Math.floor(gpa / 2 ** 32) | (opts.nx ? 0x80000000 : 0);
    } else {
      lo = (lo | (gpa & 0xfffff000)) >>> 0;
    }
    this.writeEntry(at, lo, hi >>> 0);
    return at;
  }

  /** What the guest's tables say about `gva` (no rights checks): leaf gpa and rights, or null. */
  translate(gva: number): { gpa: number; w: boolean; u: boolean; nx: boolean } | null {
    let table = this.cr3;
    let w = true;
    let u = true;
    let nx = false;
    for (let l = this.levels; l >= 1; l--) {
      const at = table + this.index(gva, l) * this.pteSize;
      const { lo, hi } = this.readEntry(at);
      if (!(lo & G_P)) return null;
      if (!(this.mode === 'paging32E' && l === 3)) {
        w &&= (lo & G_W) !== 0;
        u &&= (lo & G_U) !== 0;
        nx ||= this.pteSize === 8 && (hi & 0x80000000) !== 0;
      }
      const base = this.entryBase(lo, hi);
      if (l === 1 || (l === 2 && lo & G_PS) || (l === 3 && this.mode === 'paging64' && lo & G_PS)) {
        const pageBytes = l === 1 ? 4096 : l === 3 ? 2 ** 30 : this.mode === 'paging32' ? 4 << 20 : 2 << 20;
        const frame = this.mode === 'paging32' && l === 2 ? lo & 0xffc00000 : base;
        return { gpa: frame + (gva % pageBytes), w, u, nx };
      }
      table = base;
    }
    return null;
  }
}
