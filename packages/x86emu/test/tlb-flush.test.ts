/**
 * TLB flushes clear the entries filled since the last flush (a list of their indices, one for
 * global entries and one for the others), or the whole TLB once that list overflows; MOV to CR3
 * with CR4.PGE keeps global entries either way (SDM Vol. 3 4.10.4.1) and looks only at the others.
 */
import { describe, expect, it } from 'vitest';
import { TLB_USED_MAX } from '../src/cpu/consts.js';
import { protectedMode } from './pm.js';

const PD = 0x3ff000;

/**
 * Identity map of 32 MiB with 4 KiB pages; pages at 0x800000… are global (G = bit 8). Pages
 * 16 MiB apart share a TLB index (4096 entries).
 */
function paged() {
  const m = protectedMode('hlt');
  for (let t = 0; t < 8; t++) {
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

  it('a CR3 load with more global entries cached than a list holds stays proportional', () => {
    const m = paged();
    touch(m, 0x800000, TLB_USED_MAX + 40); // global: their own list overflows
    touch(m, 0x100000, 4);
    expect(m.cpu.tlbUsedCount).toBe(4);
    m.cpu.flushTlbNonGlobal();
    expect(cached(m, 0x100000, 4)).toBe(0);
    expect(cached(m, 0x800000, TLB_USED_MAX + 40)).toBe(TLB_USED_MAX + 40);
    // The next load clears what was filled since, from the list (the count restarted: one list
    // for both classes stayed overflowed, and every later CR3 load scanned all 4096 entries).
    expect(m.cpu.tlbUsedCount).toBe(0);
    touch(m, 0x200000, 3);
    expect(m.cpu.tlbUsedCount).toBe(3);
    m.cpu.flushTlbNonGlobal();
    expect(cached(m, 0x200000, 3)).toBe(0);
    expect(cached(m, 0x800000, TLB_USED_MAX + 40)).toBe(TLB_USED_MAX + 40);
    // A full flush drops the globals beyond their list too.
    m.cpu.flushTlb();
    expect(cached(m, 0x800000, TLB_USED_MAX + 40)).toBe(0);
  });

  it('an entry refilled in place with a page of the other class is flushed as that class', () => {
    const m = paged();
    // Index 0x100: non-global 0x100000, then global 0x1100000 in its place; kept by a CR3 load.
    touch(m, 0x100000, 1);
    touch(m, 0x1100000, 1);
    // Index 0x200: global 0x1200000, then non-global 0x200000 in its place; dropped by it.
    touch(m, 0x1200000, 1);
    touch(m, 0x200000, 1);
    expect([cached(m, 0x1100000, 1), cached(m, 0x200000, 1)]).toEqual([1, 1]);
    m.cpu.flushTlbNonGlobal();
    expect([cached(m, 0x1100000, 1), cached(m, 0x200000, 1)]).toEqual([1, 0]);
    m.cpu.flushTlb();
    expect(cached(m, 0x1100000, 1)).toBe(0);
  });

  it('a refill in place of the same class is not listed again', () => {
    const m = paged();
    // Global pages 16 MiB apart, one index: each fill replaces the other.
    touch(m, 0x900000, 1);
    touch(m, 0x1900000, 1);
    touch(m, 0x900000, 1);
    touch(m, 0x100000, 1);
    touch(m, 0x100000, 1); // a hit
    expect([m.cpu.tlbUsedGlobalCount, m.cpu.tlbUsedCount]).toEqual([1, 1]);
  });
});
