import { describe, expect, it } from 'vitest';
import { G_A, G_D, G_P, G_U, G_W, type GuestPagingMode } from '../src/testing/index.js';
import { expectSound, hpaOf, PF_U, PF_W, rig, shadowTranslate, start } from './helpers.js';

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TABLE_AREA = [0x100000, 0x200000];
const REGIONS_32 = [0x00000000, 0x00400000, 0x40000000, 0xc0000000];

/**
 * Builds random guest tables, faults every mapped address with the access the guest allows, then
 * checks with an independent walk of the shadow tables (helpers.shadowTranslate) that every
 * address maps to the same host page with the same rights as the guest tables say — except W,
 * which the MMU removes exactly on frames that are shadowed guest page tables.
 */
function checkEquivalence(mode: GuestPagingMode, seed: number, unsync = false): void {
  const rnd = prng(seed);
  const nx = mode !== 'paging32';
  const { host, gt } = rig(mode, { nxe: nx, ramBytes: 32 << 20 });
  const gvas: number[] = [];
  const ptes = new Map<number, number>();
  const pick = (n: number) => Math.floor(rnd() * n);
  const dirChoices = [G_P | G_W | G_U, G_P | G_W | G_U, G_P | G_U, G_P | G_W];
  // Large pages first, in their own region, so no table wants their directory slot.
  const largeSize = mode === 'paging32' ? 4 << 20 : 2 << 20;
  for (let i = 0; i < 4; i++) {
    const gva = 0x80000000 + i * largeSize;
    const frame = (2 + pick(5)) * largeSize;
    gt.map(gva, frame, G_P | (rnd() < 0.7 ? G_W : 0) | (rnd() < 0.7 ? G_U : 0), {
      large: true,
      nx: nx && rnd() < 0.3,
    });
    for (let j = 0; j < 3; j++) gvas.push(gva + pick(largeSize / 4096) * 4096);
  }
  if (mode === 'paging64') {
    // 1 GiB pages of frame 0 (RAM is the first 32 MiB of them; the tables are in there too).
    for (let i = 0; i < 2; i++) {
      const gva = 0x7f0000000000 + i * 2 ** 30;
      gt.map(gva, 0, G_P | (rnd() < 0.7 ? G_W : 0) | (rnd() < 0.7 ? G_U : 0), {
        huge: true,
        nx: rnd() < 0.3,
      });
      for (let j = 0; j < 4; j++) gvas.push(gva + pick(0x2000) * 4096);
    }
  }
  for (let i = 0; i < 160; i++) {
    const regions =
      mode === 'paging64'
        ? // Low memory, user stack, and the kernel halves 0xffff8880… and 0xffffffff80… (48 bits).
          [0x00000000, 0x7fffffe00000, 0x888000000000, 0xffff80000000]
        : REGIONS_32;
    const region = regions[pick(4)];
    const gva = region + pick(1024) * 4096;
    if (ptes.has(gva)) continue;
    // One in ten points at a page table (the guest mapping its own tables).
    const gpa = rnd() < 0.1 ? TABLE_AREA[0] + pick(8) * 4096 : 0x300000 + pick(2048) * 4096;
    const flags = G_P | (rnd() < 0.7 ? G_W : 0) | (rnd() < 0.7 ? G_U : 0) | (rnd() < 0.5 ? G_A : 0);
    ptes.set(gva, gt.map(gva, gpa, flags, { dirFlags: dirChoices[pick(4)], nx: nx && rnd() < 0.3 }));
    gvas.push(gva);
  }
  // With unsync pages the guest writes its tables through a window onto them (as a kernel's
  // direct map): a write fault there makes a last-level table unsync or is to be emulated.
  const window = mode === 'paging64' ? 0x600000000000 : 0x60000000;
  if (unsync) {
    for (let gpa = TABLE_AREA[0]; gpa < TABLE_AREA[1]; gpa += 4096)
      gt.map(window + gpa - TABLE_AREA[0], gpa, G_P | G_W | G_A | G_D);
  }
  const mmu = start(host, { maxShadowPages: 1024, audit: false, unsync });

  const faultAll = () => {
    for (const gva of gvas) {
      const g = gt.translate(gva)!;
      const access = (g.u ? PF_U : 0) | (g.w ? PF_W : 0);
      // Upper-half addresses go in as sign-extended halves, the way a driver holds them.
      const hi = Math.floor(gva / 2 ** 32);
      const r =
        hi & 0x8000
          ? mmu.pageFault64(gva % 2 ** 32, (hi | 0xffff0000) >>> 0, access)
          : mmu.pageFault(gva, access);
      expect(['fixed', 'emulate']).toContain(r.kind);
    }
  };
  const shadowedTables = () => {
    const gfns = new Set(
      mmu
        .shadowPages()
        .filter((p) => !p.metaphysical)
        .map((p) => p.gfn),
    );
    for (const gfn of gfns) {
      expect(gfn * 4096).toBeGreaterThanOrEqual(TABLE_AREA[0]);
      expect(gfn * 4096).toBeLessThan(TABLE_AREA[1]);
    }
    return gfns;
  };
  let protectedSeen = 0;
  const unsyncTables = () =>
    new Set(
      mmu
        .shadowPages()
        .filter((p) => p.unsync)
        .map((p) => p.gfn),
    );
  const compareAll = (exactW: boolean) => {
    const tables = shadowedTables();
    const outOfSync = unsyncTables();
    for (const gva of gvas) {
      const g = gt.translate(gva)!;
      const s = shadowTranslate(host, mmu, gva);
      if (s === null) {
        expect(exactW).toBe(false); // dropped by a pte write, refaults later
        continue;
      }
      expect(s.hpa).toBe(hpaOf(host, g.gpa));
      expect(s.u).toBe(g.u);
      expect(s.nx).toBe(g.nx);
      // An unsync table's frame is writable by design (its writes are not emulated).
      const protectedFrame = tables.has(Math.floor(g.gpa / 4096)) && !outOfSync.has(Math.floor(g.gpa / 4096));
      if (protectedFrame && g.w) protectedSeen++;
      if (exactW) expect(s.w).toBe(g.w && !protectedFrame);
      else expect(!s.w || (g.w && !protectedFrame)).toBe(true);
    }
  };

  faultAll();
  faultAll(); // second round: pages protected late now fault as reads/emulations too
  compareAll(true);
  expect(protectedSeen).toBeGreaterThan(0); // the write-protection case was exercised
  if (mode === 'paging64') expect(mmu.stats.pfLarge1G).toBeGreaterThan(0);
  expectSound(mmu);

  // Addresses the guest never mapped stay unmapped and fault into the guest.
  for (let i = 0; i < 20; i++) {
    const gva = 0x20000000 + pick(0x1000) * 4096;
    expect(mmu.pageFault(gva, 0).kind).toBe('inject-pf');
    expect(shadowTranslate(host, mmu, gva)).toBeNull();
  }

  // The guest rewrites ptes (emulated writes, the MMU told each time; with unsync pages, native
  // writes followed by INVLPG or a CR3 load): never a stale translation.
  const entries = [...ptes.entries()];
  let nativeWrites = 0;
  for (let i = 0; i < 60; i++) {
    const [gva, pteGpa] = entries[pick(entries.length)];
    const gpa = 0x300000 + pick(2048) * 4096;
    const flags = G_P | (rnd() < 0.7 ? G_W : 0) | (rnd() < 0.7 ? G_U : 0) | (rnd() < 0.6 ? G_A | G_D : 0);
    // A write to an unsync table runs natively (no exit, the MMU is not told); to a protected one
    // it is emulated and reported.
    let native = false;
    if (unsync) {
      const at = window + pteGpa - TABLE_AREA[0];
      const t = shadowTranslate(host, mmu, at);
      if (t?.w) native = true;
      else {
        const r = mmu.pageFault(at, PF_W);
        expect(['fixed', 'emulate']).toContain(r.kind);
        native = r.kind === 'fixed';
      }
    }
    gt.map(gva, gpa, flags, { nx: nx && rnd() < 0.3 });
    if (!native) mmu.kvmMmuPteWrite(pteGpa, gt.pteSize);
    else {
      nativeWrites++;
      if (rnd() < 0.5) {
        // INVLPG: from now on the guest may rely on the new pte.
        mmu.invlpg(gva);
        const t = shadowTranslate(host, mmu, gva);
        const g = gt.translate(gva)!;
        if (t !== null) expect(t.hpa).toBe(hpaOf(host, g.gpa));
      }
    }
    if (rnd() < 0.2) expect(mmu.kvmSetCr3(gt.cr3)).toBe('ok');
  }
  // A CR3 load: everything synced.
  expect(mmu.kvmSetCr3(gt.cr3)).toBe('ok');
  if (unsync) expect(nativeWrites).toBeGreaterThan(0);
  else expect(nativeWrites).toBe(0);
  compareAll(false);
  faultAll();
  faultAll();
  compareAll(true);
  expectSound(mmu);
}

describe('shadow tables translate like the guest tables', () => {
  for (const seed of [1, 2, 3]) {
    it(`32-bit guest, seed ${seed}`, () => checkEquivalence('paging32', seed));
    it(`PAE guest with NX, seed ${seed}`, () => checkEquivalence('paging32E', seed));
    it(`4-level guest with NX, seed ${seed}`, () => checkEquivalence('paging64', seed));
    it(`unsync pages: 32-bit guest, seed ${seed}`, () => checkEquivalence('paging32', seed, true));
    it(`unsync pages: PAE guest with NX, seed ${seed}`, () => checkEquivalence('paging32E', seed, true));
    it(`unsync pages: 4-level guest with NX, seed ${seed}`, () => checkEquivalence('paging64', seed, true));
  }
});
