import { describe, expect, it } from 'vitest';
import { EFER_LMA, EFER_NX, X86_CR0_PG, X86_CR0_WP, X86_CR4_PAE, X86_CR4_PSE } from '../src/index.js';
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
  for (const seed of [11, 12, 13, 14]) {
    it(`never makes the MMU throw or break an invariant (seed ${seed})`, () => {
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
      const mmu = start(host, { maxShadowPages: 64, audit: false });
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
          mmu.kvmMmuPteWrite(gpa, bytes);
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
      expect(mmu.stats.pteUpdated).toBeGreaterThan(0);
    });
  }
});
