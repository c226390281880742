import { describe, expect, it } from 'vitest';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PSE,
} from '../src/index.js';
import { FakeHost } from '../src/testing/index.js';
import { expectSound, start } from './helpers.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/**
 * A guest doing anything at all: page tables full of random bytes (pointing into RAM, MMIO holes
 * and nowhere), random CR3 loads, mode changes, faults of every kind and emulated writes of any
 * size. The MMU must answer every call without throwing and keep its invariants.
 */
describe('a guest doing anything at all', () => {
  for (const [seed, unsync] of [11, 12, 13, 14].flatMap(
    (n) =>
      [
        [n, false],
        [n, true],
      ] as const,
  )) {
    it(`never makes the MMU throw or break an invariant (seed ${seed}${unsync ? ', unsync pages' : ''})`, () => {
      const rnd = prng(seed);
      const host = new FakeHost({ ramBytes: 4 << 20, maxHostPages: 200 });
      for (let gfn = 0x300; gfn < 0x308; gfn++) host.mmioGfns.add(gfn);
      // Random table contents: mostly present entries pointing back into this 256 KiB of tables
      // (so walks go deep), some large pages, some entries pointing anywhere at all.
      for (let gpa = 0; gpa < 0x40000; gpa += 4) {
        const r = rnd();
        const kind = r % 8;
        const entry =
          kind === 0
            ? r
            : kind === 1
              ? (r & 0x3fe000) | 0x80 | (r & 0x67) | 1
              : (r & 0x3f000) | (r & 0xe67) | 1;
        host.write32(gpa, entry >>> 0);
      }
      host.paging.cr0 = X86_CR0_PG | X86_CR0_WP | 1;
      host.paging.cr4 = X86_CR4_PSE;
      host.paging.cr3 = 0x1000;
      const mmu = start(host, { maxShadowPages: 64, audit: false, unsync });
      const modes = [
        { cr0: 1, cr4: 0, efer: 0 },
        { cr0: X86_CR0_PG | 1, cr4: X86_CR4_PSE, efer: 0 },
        { cr0: X86_CR0_PG | X86_CR0_WP | 1, cr4: X86_CR4_PAE, efer: EFER_NX },
        { cr0: X86_CR0_PG | X86_CR0_WP | 1, cr4: X86_CR4_PAE, efer: EFER_LMA | EFER_NX },
      ];
      const kinds = new Set<string>();
      for (let step = 0; step < 3000; step++) {
        const op = rnd() % 100;
        if (op < 70) {
          const gva = op < 60 ? rnd() & 0x3fffff : rnd() * 65536 + (rnd() & 0xffff);
          kinds.add(mmu.pageFault(gva, rnd() & 0x1f).kind);
        } else if (op < 85) {
          // Mostly aligned writes into pages that are shadowed right now, sometimes anything.
          const shadowed = mmu.shadowPages().filter((p) => !p.metaphysical && p.gfn < 0x40 && p.level === 1);
          const gfn =
            shadowed.length > 0 && rnd() % 4 !== 0 ? shadowed[rnd() % shadowed.length].gfn : rnd() % 0x40;
          const bytes = [4, 4, 4, 8, 8, 8, 8, 1, 2, 16][rnd() % 10];
          const gpa = gfn * 4096 + (rnd() % 8 === 0 ? rnd() % 4096 : (rnd() % 512) * 8);
          const r = rnd();
          host.write32(gpa & ~3, r % 3 === 0 ? r : ((r & 0x3ff000) | 0x27) >>> 0);
          // An unsync table is written natively (the MMU hears nothing) half the time.
          const native =
            unsync && rnd() % 2 === 0 && mmu.shadowPages().some((p) => p.unsync && p.gfn === gfn);
          if (!native) mmu.kvmMmuPteWrite(gpa, bytes);
        } else if (op < 93) {
          const cr3 = rnd() % 8 === 0 ? rnd() : (rnd() % 0x40) * 0x1000;
          expect(['ok', 'gp']).toContain(mmu.kvmSetCr3(cr3));
        } else if (op < 96) {
          Object.assign(host.paging, modes[rnd() % modes.length]);
          expect(mmu.kvmMmuReset()).toBe(true);
        } else if (op < 98) {
          mmu.kvmMmuUnprotectPage(rnd() % 0x40);
        } else {
          mmu.invlpg(rnd() & 0x3fffff);
        }
        if (step % 500 === 0) expectSound(mmu);
      }
      expectSound(mmu);
      expect(mmu.stats.inconsistencies).toBe(0);
      expect(mmu.stats.shadowPagesLive).toBeLessThanOrEqual(64 + 4);
      // The fuzz reached every kind of answer and every kind of zap.
      expect([...kinds].sort()).toEqual(['emulate', 'fixed', 'inject-pf', 'mmio']);
      expect(mmu.stats.zapMisaligned + mmu.stats.zapEvict).toBeGreaterThan(0);
      // Some writes updated sptes, or (unsync) some tables went out of sync instead.
      if (unsync) expect(mmu.stats.unsyncs).toBeGreaterThan(0);
      else {
        expect(mmu.stats.pteUpdated).toBeGreaterThan(0);
        expect(mmu.stats.unsyncs).toBe(0);
      }
    });
  }
});

/**
 * The same for 64-bit guests: 8-byte entries at four levels, 2 MiB and 1 GiB pages, XD with and
 * without NXE, ignored and reserved high bits, 48-bit addresses given as halves (sometimes with
 * bits 63:48 set), 8-byte and half-entry writes at every level, CR3 loads anywhere and switches
 * to and from the other modes. The audit compares the reachable shadow tables with the guest's.
 */
describe('a 64-bit guest doing anything at all', () => {
  for (const [seed, unsync] of [21, 22, 23, 24].flatMap(
    (n) =>
      [
        [n, false],
        [n, true],
      ] as const,
  )) {
    it(`never makes the MMU throw or break an invariant (seed ${seed}${unsync ? ', unsync pages' : ''})`, () => {
      const rnd = prng(seed);
      const host = new FakeHost({ ramBytes: 4 << 20, maxHostPages: 200 });
      for (let gfn = 0x300; gfn < 0x308; gfn++) host.mmioGfns.add(gfn);
      const highHalf = () => {
        const r = rnd() % 16;
        return r < 10 ? 0 : r < 13 ? 0x80000000 : r < 15 ? 0x7ff00000 : rnd() & 0x800fffff;
      };
      // Mostly entries pointing back into these 256 KiB of tables, some large (2 MiB and 1 GiB
      // frames at 0, so they reach RAM and the MMIO hole), some anything at all.
      const entry = (): [number, number] => {
        const r = rnd();
        const kind = r % 8;
        if (kind === 0) return [rnd(), rnd()];
        if (kind === 1) return [((r & 0x200000) | 0x80 | (r & 0x67) | 1) >>> 0, highHalf()];
        return [((r & 0x3f000) | (r & 0xe67) | 1) >>> 0, highHalf()];
      };
      for (let gpa = 0; gpa < 0x40000; gpa += 8) host.write64(gpa, ...entry());
      const long = (efer: number, wp: number) => ({
        cr0: X86_CR0_PG | wp | 1,
        cr4: X86_CR4_PAE,
        efer: EFER_LMA | EFER_LME | efer,
      });
      const modes = [
        long(EFER_NX, X86_CR0_WP),
        long(EFER_NX, X86_CR0_WP),
        long(0, X86_CR0_WP),
        long(EFER_NX, 0),
        { cr0: 1, cr4: 0, efer: 0 },
        { cr0: X86_CR0_PG | X86_CR0_WP | 1, cr4: X86_CR4_PAE, efer: EFER_NX },
      ];
      Object.assign(host.paging, modes[0]);
      host.paging.cr3 = 0x1000;
      const mmu = start(host, { maxShadowPages: 64, audit: false, unsync });
      const kinds = new Set<string>();
      let maxL4 = 0;
      let maxL3 = 0;
      for (let step = 0; step < 3000; step++) {
        const op = rnd() % 100;
        if (op < 65) {
          const hi = (rnd() % 4 === 0 ? 0xffff0000 : 0) | (rnd() & 0xffff);
          // Half of them inside the first 4 MiB of a 1 GiB page, where the RAM is.
          const lo = rnd() % 2 === 0 ? rnd() : (rnd() & 0xc03fffff) >>> 0;
          kinds.add(mmu.pageFault64(lo, hi >>> 0, rnd() & 0x1f).kind);
        } else if (op < 85) {
          const shadowed = mmu.shadowPages().filter((p) => !p.metaphysical && p.gfn < 0x40);
          const gfn =
            shadowed.length > 0 && rnd() % 4 !== 0 ? shadowed[rnd() % shadowed.length].gfn : rnd() % 0x40;
          const at = gfn * 4096 + (rnd() % 512) * 8;
          const [lo, hi] = entry();
          const form = rnd() % 8;
          if (form < 5) {
            host.write64(at, lo, hi);
            // An unsync table is written natively (the MMU hears nothing) half the time.
            const native =
              unsync && rnd() % 2 === 0 && mmu.shadowPages().some((p) => p.unsync && p.gfn === gfn);
            if (!native) mmu.kvmMmuPteWrite(at, 8);
          } else if (form < 7) {
            host.write32(at + (form - 5) * 4, form === 5 ? lo : hi);
            mmu.kvmMmuPteWrite(at + (form - 5) * 4, 4);
          } else {
            host.write32(at + 4, lo);
            mmu.kvmMmuPteWrite(at + 6, 4); // straddles two entries: misaligned
          }
        } else if (op < 93) {
          const cr3 = rnd() % 8 === 0 ? rnd() * 256 : (rnd() % 0x40) * 0x1000;
          expect(['ok', 'gp']).toContain(mmu.kvmSetCr3(cr3));
        } else if (op < 96) {
          Object.assign(host.paging, modes[rnd() % modes.length]);
          host.paging.gbPages = rnd() % 4 !== 0;
          expect(mmu.kvmMmuReset()).toBe(true);
        } else if (op < 98) {
          mmu.kvmMmuUnprotectPage(rnd() % 0x40);
        } else {
          mmu.invlpg((rnd() & 0xffff) * 2 ** 32 + rnd());
        }
        maxL4 = Math.max(maxL4, mmu.stats.shadowPagesL4);
        maxL3 = Math.max(maxL3, mmu.stats.shadowPagesL3);
        if (step % 500 === 0) expectSound(mmu);
      }
      expectSound(mmu);
      expect(mmu.stats.inconsistencies).toBe(0);
      expect(mmu.stats.shadowPagesLive).toBeLessThanOrEqual(64 + 4);
      expect([...kinds].sort()).toEqual(['emulate', 'fixed', 'inject-pf', 'mmio']);
      // Every level was shadowed, large pages of both sizes were met, reserved bits too.
      expect(maxL4).toBeGreaterThan(0);
      expect(maxL3).toBeGreaterThan(0);
      expect(mmu.stats.pfLarge2M).toBeGreaterThan(0);
      expect(mmu.stats.pfLarge1G).toBeGreaterThan(0);
      expect(mmu.stats.pfRsvd).toBeGreaterThan(0);
      expect(mmu.stats.pteUpdated + mmu.stats.sptesResynced).toBeGreaterThan(0);
      expect(mmu.stats.zapMisaligned + mmu.stats.zapFlood).toBeGreaterThan(0);
      if (unsync) expect(mmu.stats.unsyncs).toBeGreaterThan(0);
      else expect(mmu.stats.unsyncs).toBe(0);
    });
  }
});
