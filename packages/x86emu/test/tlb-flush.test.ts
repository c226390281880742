/**
 * TLB flushes clear the entries filled since the last flush (a list of their indices), or the
 * whole TLB once that list overflows; MOV to CR3 with CR4.PGE keeps global entries either way
 * (SDM Vol. 3 4.10.4.1).
 */
import { describe, expect, it } from 'vitest';
import { TLB_USED_MAX } from '../src/cpu/consts.js';
import { protectedMode } from './pm.js';

const PD = 0x3ff000;

/** Identity map of 16 MiB with 4 KiB pages; pages at 0x800000… are global (G = bit 8). */
function paged() {
  const m = protectedMode('hlt');
  for (let t = 0; t < 4; t++) {
    m.mem.write32(PD + t * 4, (0x400000 + t * 0x1000) | 7);
    for (let i = 0; i < 1024; i++) {
      const page = t * 1024 + i;
      m.mem.write32(0x400000 + page * 4, (page * 0x1000) | 7 | (page >= 0x800 ? 0x100 : 0));
    }
  }
  const s = m.cpu.state;
  s.cr[3] = PD;
  s.cr[4] |= 0x80; // PGE
  s.cr[0] |= 0x80010000;
  m.cpu.stateChanged();
  return m;
}

/** Fills the entries of `pages` pages from linear `base` (a read each). */
function touch(m: ReturnType<typeof paged>, base: number, pages: number): void {
  for (let i = 0; i < pages; i++) m.cpu.translate(base + i * 0x1000, 0);
}

/** How many of those pages are cached now. */
function cached(m: ReturnType<typeof paged>, base: number, pages: number): number {
  let n = 0;
  for (let i = 0; i < pages; i++) {
    const lin = base + i * 0x1000;
    if (m.cpu.tlbTag[(lin >>> 12) & 0xfff] === lin >>> 24) n++;
  }
  return n;
}

describe('TLB flushes', () => {
  it('a flush drops the few entries filled since the last one', () => {
    const m = paged();
    touch(m, 0x100000, 8);
    expect(cached(m, 0x100000, 8)).toBe(8);
    expect(m.cpu.tlbUsedCount).toBe(8);
    m.cpu.flushTlb();
    expect(cached(m, 0x100000, 8)).toBe(0);
    expect(m.cpu.tlbUsedCount).toBe(0);
  });

  it('more fills than the list holds: the flush clears everything', () => {
    const m = paged();
    touch(m, 0x100000, TLB_USED_MAX + 40);
    expect(m.cpu.tlbUsedCount).toBeGreaterThan(TLB_USED_MAX);
    expect(cached(m, 0x100000, TLB_USED_MAX + 40)).toBe(TLB_USED_MAX + 40);
    m.cpu.flushTlb();
    expect(cached(m, 0x100000, TLB_USED_MAX + 40)).toBe(0);
  });

  it('a non-global flush keeps global entries, listed or not, and a full flush drops them', () => {
    for (const many of [false, true]) {
      const m = paged();
      touch(m, 0x100000, many ? TLB_USED_MAX : 4); // not global
      touch(m, 0x800000, 4); // global
      m.cpu.flushTlbNonGlobal();
      expect(cached(m, 0x100000, 4), `many=${many}`).toBe(0);
      expect(cached(m, 0x800000, 4), `many=${many}`).toBe(4);
      // The kept global entries are still dropped by the next full flush.
      m.cpu.flushTlb();
      expect(cached(m, 0x800000, 4), `many=${many}`).toBe(0);
    }
  });
});
