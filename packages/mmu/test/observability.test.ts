import { describe, expect, it } from 'vitest';
import { G_A, G_D, G_P, G_PCD, G_PS, G_U, G_W } from '../src/testing/index.js';
import { expectSound, PF_W, rig, shadowTranslate, start } from './helpers.js';

function faulted() {
  const { host, gt } = rig('paging32');
  const pte = gt.map(0x1000, 0x200000, G_P | G_W | G_U | G_A | G_D);
  const ptGpa = pte & ~0xfff;
  gt.map(0x00800000, ptGpa, G_P | G_W | G_A | G_D);
  const mmu = start(host, { audit: false });
  mmu.pageFault(0x1000, PF_W);
  mmu.pageFault(0x00800000, 0);
  return { host, gt, mmu, ptGpa };
}

/** The spte bytes of `gva`'s leaf, through the host page (as the silicon sees them). */
function leafSpteView(
  mmu: ReturnType<typeof faulted>['mmu'],
  gva: number,
): { page: Uint32Array; at: number } {
  const leaf = [...mmu.s.kvm.pagesById].find(
    (p) => p !== null && p.level === 1 && p.spt[((gva >>> 12) & 511) * 2] & 1,
  )!;
  return { page: leaf.spt, at: ((gva >>> 12) & 511) * 2 };
}

describe('audit mode', () => {
  it('finds nothing wrong in a healthy MMU', () => {
    const { mmu } = faulted();
    expectSound(mmu);
  });

  it('catches an spte changed behind the reverse map', () => {
    const { mmu } = faulted();
    const { page, at } = leafSpteView(mmu, 0x1000);
    page[at] = 0;
    page[at + 1] = 0;
    expect(mmu.audit().join('\n')).toMatch(/rmap of hpfn \d+ holds .* which maps something else/);
  });

  it('catches a writable spte on a write-protected guest page table', () => {
    const { mmu } = faulted();
    const { page, at } = leafSpteView(mmu, 0x00800000);
    page[at] |= 2;
    expect(mmu.audit().join('\n')).toMatch(/is a shadowed page table but .* maps it writable/);
  });

  it('catches PCD/PWT/PAT in an spte', () => {
    const { mmu } = faulted();
    const { page, at } = leafSpteView(mmu, 0x1000);
    page[at] |= G_PCD;
    expect(mmu.audit().join('\n')).toMatch(/carries PCD\/PWT\/PAT/);
  });

  it('catches a broken parent chain', () => {
    const { mmu } = faulted();
    const leaf = [...mmu.s.kvm.pagesById].find((p) => p !== null && p.level === 1)!;
    leaf.parentPte = -1;
    expect(mmu.audit().join('\n')).toMatch(/lacks parent/);
  });

  it('compares the shadow tables with a 4-level guest’s: a pte changed behind the MMU shows', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    const gva = 0x888000001000;
    const pte = gt.map(gva, 0x200000, G_P | G_W | G_A | G_D);
    const mmu = start(host, { audit: false });
    mmu.pageFault(gva, PF_W);
    expectSound(mmu);
    host.write64(pte, 0x300000 | G_P | G_A | G_D, 0x80000000); // never reported to the MMU
    const found = mmu.audit().join('\n');
    expect(found).toMatch(/gva 888000001000\) maps hpfn \d+, the guest maps gfn 300/);
    expect(found).toMatch(/gva 888000001000\) is writable but the guest pte is read-only/);
    expect(found).toMatch(/gva 888000001000\) is executable, the guest's is not/);
    host.write64(pte, 0, 0);
    expect(mmu.audit().join('\n')).toMatch(
      /gva 888000001000\) is mapped but the guest's tables do not map it/,
    );
  });

  it('checks the levels of a 4-level hierarchy: XD or PS in a directory spte, the per-level counters', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host, { audit: false });
    mmu.pageFault(0x1000, 0);
    const pdpt = [...mmu.s.kvm.pagesById].find((p) => p !== null && p.level === 3)!;
    pdpt.spt[1] |= 0x80000000;
    pdpt.spt[0] |= G_PS;
    mmu.s.stats.shadowPagesL2++;
    const found = mmu.audit().join('\n');
    expect(found).toMatch(/level=3 .*\[0\] has XD/);
    expect(found).toMatch(/level=3 .*\[0\] has PS/);
    expect(found).toMatch(/1 live level-2 pages but the counter says 2/);
  });

  it('in audit mode, checks after every operation and logs what it finds', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W);
    gt.map(0x2000, 0x201000, G_P | G_W);
    const mmu = start(host, { audit: true });
    mmu.pageFault(0x1000, 0);
    const runs = mmu.stats.auditRuns;
    const { page, at } = leafSpteView(mmu as never, 0x1000);
    page[at] |= G_PCD;
    mmu.pageFault(0x2000, 0);
    expect(mmu.stats.auditRuns).toBe(runs + 1);
    expect(mmu.stats.auditFailures).toBeGreaterThan(0);
    expect(mmu.auditLog[0]).toMatch(/^after page fault: .*PCD/);
  });
});

describe('counters', () => {
  it('are a plain object of numbers that follows what the MMU did', () => {
    const { host, gt, mmu, ptGpa } = faulted();
    const stats = mmu.stats;
    expect(Object.getPrototypeOf(stats)).toBe(Object.prototype);
    expect(Object.values(stats).every((v) => typeof v === 'number')).toBe(true);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
    expect(stats.pageFaults).toBe(2);
    expect(stats.pfFixed).toBe(2);
    // 4 roots + 2 page tables (PT of 0x1000, PT of 0x800000).
    expect(stats.shadowPagesCreated).toBe(6);
    expect(stats.shadowPagesLive).toBe(6);
    expect(stats.rmapAdds).toBe(2);
    expect(stats.parentPteAdds).toBe(2);
    expect(stats.writeProtects).toBe(3); // the directory, then the two page tables
    mmu.pageFault(0x00800000, PF_W);
    expect(stats.pfEmulate).toBe(1);
    host.write32(ptGpa + 4, 0);
    mmu.kvmMmuPteWrite(ptGpa + 4, 4);
    expect(stats.pteWrites).toBe(1);
    expect(stats.pteZapped).toBe(1); // that was the pte of 0x1000
    const other = gt.cr3;
    mmu.kvmSetCr3(other);
    expect(stats.cr3Switches).toBe(1);
    expect(stats.cr3RootHits).toBe(4);
    expect(stats.tlbFlushes).toBeGreaterThan(0);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
  });
});

describe('teardown', () => {
  it('kvmMmuDestroy gives every host page back', () => {
    const { host, mmu } = faulted();
    expect(host.liveHostPages).toBeGreaterThan(6);
    mmu.kvmMmuDestroy();
    expect(host.liveHostPages).toBe(0);
  });
});
