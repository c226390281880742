import { describe, expect, it } from 'vitest';
import { roleLevel, roleMetaphysical, roleQuadrant } from '../src/index.js';
import { G_A, G_D, G_P, G_U, G_W, GuestPageTables } from '../src/testing/index.js';
import { expectSound, hpaOf, PF_W, rig, shadowTranslate, start } from './helpers.js';

describe('shadow page cache', () => {
  it('shadow pages are cached across CR3 switches and looked up on CR3 loads', () => {
    const { host, gt } = rig('paging32');
    const other = new GuestPageTables(host, 'paging32', 0x180000);
    gt.map(0x1000, 0x200000, G_P | G_W);
    other.map(0x1000, 0x300000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    expect(mmu.kvmSetCr3(other.cr3)).toBe('ok');
    mmu.pageFault(0x1000, 0);
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x300000));
    const created = mmu.stats.shadowPagesCreated;
    const hits = mmu.stats.cr3RootHits;
    expect(mmu.kvmSetCr3(gt.cr3)).toBe('ok');
    // Back to the first address space: its four roots come from the cache, with their contents.
    expect(mmu.stats.cr3RootHits - hits).toBe(4);
    expect(mmu.stats.shadowPagesCreated).toBe(created);
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x200000));
    expect(mmu.stats.cr3Switches).toBe(2);
    expectSound(mmu);
  });

  it('with the shadow cache off every CR3 switch drops all shadow pages', () => {
    const { host, gt } = rig('paging32');
    const other = new GuestPageTables(host, 'paging32', 0x180000);
    gt.map(0x1000, 0x200000, G_P | G_W);
    other.map(0x1000, 0x300000, G_P | G_W);
    const mmu = start(host, { shadowCache: false });
    mmu.pageFault(0x1000, 0);
    mmu.kvmSetCr3(other.cr3);
    mmu.kvmSetCr3(gt.cr3);
    expect(mmu.stats.cr3RootHits).toBe(0);
    expect(mmu.stats.zapCacheOff).toBeGreaterThan(0);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    expect(mmu.shadowPages().length).toBe(4); // just the new roots
    expect(mmu.pageFault(0x1000, 0)).toEqual({ kind: 'fixed' });
    expectSound(mmu);
  });

  it('a 32-bit guest table spans 4M and a shadow table 2M: one shadow page per quadrant', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x00000000, 0x200000, G_P | G_W);
    gt.map(0x00200000, 0x201000, G_P | G_W); // same guest page table, upper half
    const mmu = start(host);
    mmu.pageFault(0x00000000, 0);
    mmu.pageFault(0x00200000, 0);
    const tables = mmu.shadowPages().filter((p) => p.level === 1);
    expect(tables).toHaveLength(2);
    expect(tables[0].gfn).toBe(tables[1].gfn);
    expect(new Set(tables.map((p) => roleQuadrant(p.role)))).toEqual(new Set([0, 1]));
    expect(shadowTranslate(host, mmu, 0x00200000)!.hpa).toBe(hpaOf(host, 0x201000));
    expectSound(mmu);
  });

  it('a 32-bit guest directory spans 4G and a shadow directory 1G: four roots, quadrants 0-3 of one guest page', () => {
    const { host, gt } = rig('paging32');
    const mmu = start(host);
    const roots = mmu.shadowPages().filter((p) => p.rootCount > 0);
    expect(roots).toHaveLength(4);
    expect(new Set(roots.map((p) => p.gfn))).toEqual(new Set([gt.cr3 / 4096]));
    expect(new Set(roots.map((p) => roleQuadrant(p.role)))).toEqual(new Set([0, 1, 2, 3]));
    expect(roots.every((p) => roleLevel(p.role) === 2 && !roleMetaphysical(p.role))).toBe(true);
  });

  it('a page used both as a page table and as a directory gets one shadow page per level', () => {
    const { host, gt } = rig('paging32');
    // Recursive mapping: PDE 0x300 points at the directory itself, so the directory is also
    // the page table for 0xC0000000-0xC03FFFFF.
    host.write32(gt.cr3 + 0x300 * 4, gt.cr3 | G_P | G_W);
    gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0xc0000000, 0); // reads PDE 0 through the directory-as-table
    const pages = mmu.shadowPages().filter((p) => p.gfn === gt.cr3 / 4096);
    expect(new Set(pages.map((p) => p.level))).toEqual(new Set([1, 2]));
    // 0xC0000000 maps what PDE 0 points at: the page table of 0x1000.
    expect(shadowTranslate(host, mmu, 0xc0000000)!.hpa).toBe(hpaOf(host, host.read32(gt.cr3) & ~0xfff));
    // Mapping the directory itself (0xC0300000 → PDE 0x300 → the directory) is read-only: it is shadowed.
    mmu.pageFault(0xc0300000, 0);
    expect(shadowTranslate(host, mmu, 0xc0300000)).toMatchObject({ hpa: hpaOf(host, gt.cr3), w: false });
    expect(mmu.pageFault(0xc0300000, PF_W)).toEqual({ kind: 'emulate', gpa: gt.cr3 });
    expectSound(mmu);
  });

  it('PAE shadow roots: one page holds the four roots, empty where the PDPTE is not present', () => {
    const { host, gt } = rig('paging32E');
    gt.map(0x00001000, 0x200000, G_P | G_W);
    gt.map(0xc0001000, 0x201000, G_P | G_W);
    const mmu = start(host);
    const e = [0, 1, 2, 3].map((i) => host.readHost64(mmu.rootHpa + i * 8)!);
    expect(e.map((x) => x.lo & 1)).toEqual([1, 0, 0, 1]);
    // Only P and the address: bits 2:1 and 8:5 of a PDPTE are reserved.
    expect(e[0].lo & 0x1e6).toBe(0);
    expect(mmu.shadowPages().filter((p) => p.rootCount > 0)).toHaveLength(2);
    mmu.pageFault(0xc0001000, 0);
    expect(shadowTranslate(host, mmu, 0xc0001000)!.hpa).toBe(hpaOf(host, 0x201000));
    expect(mmu.pageFault(0x40000000, 0)).toEqual({ kind: 'inject-pf', errorCode: 0, cr2: 0x40000000 });
    expectSound(mmu);
  });

  it('a PAE guest CR3 load loads the four PDPTEs', () => {
    const { host, gt } = rig('paging32E');
    gt.map(0x00001000, 0x200000, G_P | G_W);
    const mmu = start(host);
    expect(mmu.pageFault(0x40001000, 0).kind).toBe('inject-pf');
    // The guest fills PDPTE 1 in memory; it takes effect only when CR3 is loaded again.
    gt.map(0x40001000, 0x201000, G_P | G_W);
    expect(mmu.pageFault(0x40001000, 0).kind).toBe('inject-pf');
    expect(mmu.kvmSetCr3(gt.cr3)).toBe('ok');
    expect(mmu.pdptes[2] & 1).toBe(1);
    expect(mmu.pageFault(0x40001000, 0)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x40001000)!.hpa).toBe(hpaOf(host, 0x201000));
    expectSound(mmu);
  });

  it('the PAE PDPT is not write-protected: walks use the loaded PDPTEs, as a real processor does', () => {
    const { host, gt } = rig('paging32E');
    gt.map(0x1000, 0x200000, G_P | G_W);
    gt.map(0x2000, gt.cr3, G_P | G_W | G_A | G_D); // the guest maps its PDPT page
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    expect(mmu.pageFault(0x2000, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x2000)).toMatchObject({ hpa: hpaOf(host, gt.cr3), w: true });
    expectSound(mmu);
  });

  it('PDPTEs with reserved bits fail the CR3 load with #GP and change nothing', () => {
    const { host, gt } = rig('paging32E');
    gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host);
    const bad = new GuestPageTables(host, 'paging32E', 0x180000);
    bad.map(0x1000, 0x300000, G_P | G_W);
    host.write32(bad.cr3, host.read32(bad.cr3) | G_W); // bit 1 is reserved in a PDPTE
    expect(mmu.loadPdptrs(bad.cr3)).toBe(false);
    expect(mmu.kvmSetCr3(bad.cr3)).toBe('gp');
    expect(host.paging.cr3).toBe(gt.cr3);
    mmu.pageFault(0x1000, 0);
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x200000));
  });

  it('the reverse map holds one mapping inline and chains more, and write protection reaches them all', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W);
    const ptGpa = pte & ~0xfff;
    // Map the (future) page table at 9 addresses, all dirty and writable.
    for (let i = 0; i < 9; i++) gt.map(0x00800000 + i * 0x1000, ptGpa, G_P | G_W | G_D | G_A);
    const mmu = start(host);
    mmu.pageFault(0x00800000, PF_W);
    const hpfn = host.gfnToHpfn(ptGpa / 4096);
    expect(mmu.s.rmap.isChained(hpfn)).toBe(false);
    for (let i = 1; i < 9; i++) mmu.pageFault(0x00800000 + i * 0x1000, PF_W);
    expect(mmu.s.rmap.isChained(hpfn)).toBe(true);
    expect(mmu.s.rmap.collect(hpfn, [])).toBe(9);
    mmu.pageFault(0x1000, 0); // shadows the page table: all nine lose W
    expect(mmu.stats.sptesWriteProtected).toBe(9);
    for (let i = 0; i < 9; i++) expect(shadowTranslate(host, mmu, 0x00800000 + i * 0x1000)!.w).toBe(false);
    // Unmapping them one by one brings the chain back inline.
    for (let i = 8; i >= 1; i--) mmu.invlpg(0x00800000 + i * 0x1000);
    expect(mmu.s.rmap.isChained(hpfn)).toBe(false);
    expect(mmu.s.rmap.collect(hpfn, [])).toBe(1);
    expectSound(mmu);
  });

  it('shadow pages are found by gfn and role in the hash during page faults', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W | G_U);
    // Two PDEs (in different GiB, so under different roots) share the page table.
    const pde = host.read32(gt.cr3);
    host.write32(gt.cr3 + 0x100 * 4, pde);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    const misses = mmu.stats.cacheMisses;
    mmu.pageFault(0x40001000, 0);
    expect(mmu.stats.cacheMisses).toBe(misses); // found, not created
    expect(mmu.shadowPages().filter((p) => p.level === 1)).toHaveLength(1);
    expectSound(mmu);
  });

  it('shadow pages reached with different inherited rights are not shared', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W | G_U);
    const pde = host.read32(gt.cr3);
    host.write32(gt.cr3 + 0x100 * 4, pde & ~G_U); // the same table, supervisor-only from here
    const mmu = start(host);
    mmu.pageFault(0x1000, 4);
    mmu.pageFault(0x40001000, 0);
    expect(mmu.shadowPages().filter((p) => p.level === 1)).toHaveLength(2);
    expect(shadowTranslate(host, mmu, 0x1000)!.u).toBe(true);
    expect(shadowTranslate(host, mmu, 0x40001000)!.u).toBe(false);
    expectSound(mmu);
  });
});
