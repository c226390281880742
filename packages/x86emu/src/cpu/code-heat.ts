/**
 * What a code page's decodes had earned toward compiling, kept across a write that drops them.
 *
 * A write into a code page drops all its decodes and the blocks compiled from them
 * (fetch.ts `invalidateCodePage`), and the new decodes start counting visits from zero. Linux
 * patches its own text all through its boot (`text_poke`: alternatives, static keys and calls,
 * jump labels; three writes a site), so the pages of hot code around a patched site lost their
 * blocks again and again: on Debian's bare boot 1,941 invalidations of 486 pages dropped 875
 * compiled blocks, more than a quarter of all compiled, and 13.5 M counted visits; at the
 * engines' threshold of 20,000 visits few of them ever compiled again, and their code ran
 * interpreted to the end (QEMU retranslates a TB at its next execution: it has no threshold).
 *
 * So the invalidation keeps the page's old bytes and, for every decode that had counted visits,
 * its count (a compiled block's start counting as the threshold reached); when the page is decoded
 * again, a new decode at an offset whose instruction bytes are the same starts from that count,
 * less a damping share (`HEAT_DAMPING`), so that a site patched again and again is not compiled
 * as often. Only when a block compiles changes, never what runs: the blocks are compiled from the
 * new decodes as always. The records are bounded (`MAX_PAGES`, oldest dropped first).
 *
 * Measured on the bare boot (wasm, threshold 20,000, `bare-boot.mjs --guest-prof`, to the reset):
 * interpreted instructions 145.8 M without, 138.3 M with a damping of 1/8, 136.6 M with 1/16,
 * 130.1 M with 1/64; blocks compiled 3,128, 3,236, 3,335, 3,562: each block more at 1/64 saves
 * ~29,000 interpreted instructions (~2 ms) for a compile of ~0.7 ms.
 */
import type { Insn } from '../decoder/insn.js';
import type { PageCode } from './fetch.js';

/** Pages whose heat is kept at most (a 4 KiB copy of the old bytes each). */
const MAX_PAGES = 256;

/**
 * The share of the threshold a carried count gives up: a compiled block's start compiles again
 * after 1/64 of the threshold's visits (313 at the engines' 20,000, 16 at a bare CPU's 1,000).
 */
export const HEAT_DAMPING = 64;

/** One dropped page's heat: its bytes then, and the counts by offset. */
export class PageHeat {
  readonly bytes = new Uint8Array(4096);
  /** Counted visits by page offset (0: none; only offsets where a decode started). */
  readonly hits = new Int32Array(4096);
}

/** The heat of dropped code pages by frame (`Jit.heat`). */
export class CodeHeat {
  private readonly pages = new Map<number, PageHeat>();
  private readonly pool: PageHeat[] = [];
  /** Pages whose heat was kept, and decodes that started from a carried count (for the bench). */
  readonly stats = { kept: 0, seeded: 0 };

  /**
   * Keeps the heat of code page `pc`'s decodes, about to be dropped (with what it still carried
   * from before, for offsets not decoded since); `hot` is the threshold a compiled block's start
   * counts as.
   */
  keep(pc: PageCode, hot: number): void {
    let h = pc.heat;
    pc.heat = null;
    const insns = pc.insns;
    for (let off = 0; off < 4096; off++) {
      const d = insns[off];
      if (d === undefined) continue;
      const n = d.jitBlock !== null ? hot : d.jitHits;
      if (n <= 0) continue;
      h ??= this.pool.pop() ?? new PageHeat();
      h.hits[off] = n;
    }
    if (h === null) return;
    h.bytes.set(pc.bytes);
    if (this.pages.size >= MAX_PAGES) {
      const oldest = this.pages.keys().next().value as number;
      this.release(this.take(oldest) as PageHeat);
    }
    this.pages.set(pc.pfn, h);
    this.stats.kept++;
  }

  /** The heat kept for frame `pfn`, now the caller's (its page decoded anew), or null. */
  take(pfn: number): PageHeat | null {
    const h = this.pages.get(pfn);
    if (h === undefined) return null;
    this.pages.delete(pfn);
    return h;
  }

  /**
   * The count a new decode `insn` at offset `off` of a page now holding `bytes` starts from:
   * the carried count less the damping share, where the instruction's bytes are those of then;
   * always below `hot` (the next counted visit does not compile by itself), 0 where nothing
   * carries.
   */
  seed(h: PageHeat, off: number, insn: Insn, bytes: Uint8Array, hot: number): number {
    const n = h.hits[off];
    if (n <= 0) return 0;
    const end = Math.min(off + insn.length, 4096);
    for (let i = off; i < end; i++) if (h.bytes[i] !== bytes[i]) return 0;
    const seeded = Math.min(n, hot) - Math.ceil(hot / HEAT_DAMPING);
    if (seeded <= 0) return 0;
    this.stats.seeded++;
    return seeded;
  }

  private release(h: PageHeat): void {
    h.hits.fill(0);
    if (this.pool.length < 16) this.pool.push(h);
  }
}
