import { describe, expect, it } from 'vitest';
import { kvmMmuCreateVm } from '../src/index.js';
import { FakeVcpuHost, G_A, G_D, G_P, G_U, G_W, GuestPageTables } from '../src/testing/index.js';
import { expectSound, hpaOf, PF_W, rig, shadowTranslate, start } from './helpers.js';

/**
 * Out-of-sync shadow pages (KVM 2.6.27): a last-level guest table the guest writes is left
 * writable and its sptes resynced on CR3 load and INVLPG, instead of every write being emulated.
 */

/** A 4-level guest with data at 0x400000 and 0x401000 and a writable window onto its page table. */
function setup64() {
  const { host, gt } = rig('paging64');
  const pte0 = gt.map(0x400000, 0x200000, G_P | G_W | G_U | G_A | G_D);
  const pte1 = gt.map(0x401000, 0x201000, G_P | G_W | G_U | G_A | G_D);
  const ptGpa = pte0 - (pte0 % 4096);
  // The guest kernel's view of its page table (a direct map), in another page table.
  const window = 0x40000000;
  gt.map(window, ptGpa, G_P | G_W | G_A | G_D);
  const mmu = start(host, { unsync: true });
  mmu.pageFault(0x400000, 0);
  mmu.pageFault(0x401000, 0);
  return { host, gt, mmu, pte0, pte1, ptGpa, window };
}

describe('unsync shadow pages', () => {
  it('a write fault on a last-level guest table leaves it writable and out of sync instead of emulating', () => {
    const { host, mmu, ptGpa, window } = setup64();
    expect(mmu.pageFault(window, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, window)!.w).toBe(true);
    const pt = mmu.shadowPages().find((p) => p.gfn === ptGpa / 4096 && p.level === 1)!;
    expect(pt.unsync).toBe(true);
    expect(mmu.stats.unsyncs).toBe(1);
    expect(mmu.stats.unsyncPages).toBe(1);
    expect(mmu.stats.pfEmulate).toBe(0);
    expectSound(mmu); // the audit checks the unsync-child bits up to the root
  });

  it('native writes to an unsync table take effect on the next CR3 load, which protects it again', () => {
    const { host, gt, mmu, window } = setup64();
    mmu.pageFault(window, PF_W);
    // The guest remaps 0x400000 by a plain store: no exit, the shadow is stale for now.
    gt.map(0x400000, 0x300000, G_P | G_U | G_A);
    expect(shadowTranslate(host, mmu, 0x400000)!.hpa).toBe(hpaOf(host, 0x200000));
    const created = mmu.stats.shadowPagesCreated;
    expect(mmu.kvmSetCr3(gt.cr3)).toBe('ok');
    const t = shadowTranslate(host, mmu, 0x400000)!;
    expect(t.hpa).toBe(hpaOf(host, 0x300000));
    expect(t.w).toBe(false);
    // The untouched pte was rebuilt in place; the table is protected again; nothing was created.
    expect(shadowTranslate(host, mmu, 0x401000)!.hpa).toBe(hpaOf(host, 0x201000));
    expect(shadowTranslate(host, mmu, window)!.w).toBe(false);
    expect(mmu.stats.unsyncPages).toBe(0);
    expect(mmu.stats.syncPages).toBe(1);
    expect(mmu.stats.sptesResynced).toBe(2);
    expect(mmu.stats.shadowPagesCreated).toBe(created);
    // The next write to it goes unsync again (a fault, no emulation).
    expect(mmu.pageFault(window, PF_W)).toEqual({ kind: 'fixed' });
    expect(mmu.stats.unsyncs).toBe(2);
    expectSound(mmu);
  });

  it('INVLPG syncs the one spte it names', () => {
    const { host, gt, mmu, window } = setup64();
    mmu.pageFault(window, PF_W);
    gt.map(0x400000, 0x300000, G_P | G_W | G_U | G_A | G_D);
    gt.map(0x401000, 0x301000, G_P | G_W | G_U | G_A | G_D);
    mmu.invlpg(0x400000);
    expect(shadowTranslate(host, mmu, 0x400000)!.hpa).toBe(hpaOf(host, 0x300000));
    // The other changed pte stays stale until its own INVLPG or a CR3 load (as a CPU's TLB may).
    expect(shadowTranslate(host, mmu, 0x401000)!.hpa).toBe(hpaOf(host, 0x201000));
    expect(mmu.stats.sptesResynced).toBe(1);
    // A gpte made not present (or not accessed) drops the spte: the next access refaults.
    gt.map(0x401000, 0x301000, G_P | G_W | G_U);
    mmu.invlpg(0x401000);
    expect(shadowTranslate(host, mmu, 0x401000)).toBeNull();
    expect(host.tlbFlushedGvas).toEqual([0x400000, 0x401000]);
    expectSound(mmu);
  });

  it('a page directory is never unsync: writes to it are emulated', () => {
    const { host, gt } = rig('paging64');
    gt.map(0x400000, 0x200000, G_P | G_W | G_U | G_A | G_D);
    const pdGpa = gt.entryGpa(0x400000, 2) & ~0xfff;
    gt.map(0x40000000, pdGpa, G_P | G_W | G_A | G_D);
    const mmu = start(host, { unsync: true });
    mmu.pageFault(0x400000, 0);
    expect(mmu.pageFault(0x40000000, PF_W)).toEqual({ kind: 'emulate', gpa: pdGpa });
    expect(mmu.stats.unsyncs).toBe(0);
    expectSound(mmu);
  });

  it('a gfn shadowed with two roles is never unsync, and an unsync table that gains a second role is synced', () => {
    // A 32-bit guest table spans 4 MiB, a shadow table 2 MiB: used in both halves, it has two
    // shadow pages (quadrants 0 and 1), whose sptes a write must both update.
    const { host, gt } = rig('paging32');
    gt.map(0x00000000, 0x200000, G_P | G_W | G_A | G_D);
    const ptGpa = gt.entryGpa(0x00000000, 1) & ~0xfff;
    gt.map(0x00001000, ptGpa, G_P | G_W | G_A | G_D); // the table maps itself at 0x1000
    const mmu = start(host, { unsync: true });
    mmu.pageFault(0x00000000, 0);
    expect(mmu.pageFault(0x00001000, PF_W)).toEqual({ kind: 'fixed' });
    expect(mmu.stats.unsyncPages).toBe(1);
    // The upper half of the same table is used: a second role for the gfn.
    gt.map(0x00200000, 0x201000, G_P | G_W | G_A | G_D);
    gt.map(0x00000000, 0x202000, G_P | G_W | G_A | G_D); // a native write while unsync
    expect(mmu.pageFault(0x00200000, 0)).toEqual({ kind: 'fixed' });
    expect(mmu.stats.unsyncPages).toBe(0);
    expect(mmu.stats.syncPages).toBe(1);
    expect(shadowTranslate(host, mmu, 0x00000000)!.hpa).toBe(hpaOf(host, 0x202000));
    expect(shadowTranslate(host, mmu, 0x00001000)!.w).toBe(false);
    expect(mmu.pageFault(0x00001000, PF_W)).toEqual({ kind: 'emulate', gpa: ptGpa });
    expect(mmu.stats.unsyncs).toBe(1);
    expectSound(mmu);
  });

  it("one vCPU's native writes to an unsync table are synced for another vCPU when it loads CR3", () => {
    const { host, gt } = rig('paging64');
    const other = new GuestPageTables(host, 'paging64', 0x180000);
    gt.map(0x400000, 0x200000, G_P | G_W | G_U | G_A | G_D);
    const ptGpa = gt.entryGpa(0x400000, 1) & ~0xfff;
    gt.map(0x40000000, ptGpa, G_P | G_W | G_A | G_D);
    other.map(0x10000, 0x210000, G_P | G_W);
    const vm = kvmMmuCreateVm(host, { audit: true });
    const ha = new FakeVcpuHost(host);
    const hb = new FakeVcpuHost(host);
    Object.assign(ha.paging, host.paging);
    Object.assign(hb.paging, host.paging);
    const a = vm.createVcpuMmu(ha)!;
    const b = vm.createVcpuMmu(hb)!;
    a.kvmMmuSetup();
    b.kvmMmuSetup();
    b.pageFault(0x400000, 0);
    // B runs another process; A makes the shared table unsync and rewrites a pte natively.
    hb.paging.cr3 = other.cr3;
    expect(b.kvmSetCr3(other.cr3)).toBe('ok');
    expect(a.pageFault(0x40000000, PF_W)).toEqual({ kind: 'fixed' });
    gt.map(0x400000, 0x300000, G_P | G_U | G_A);
    // B comes back to the first address space: its CR3 load syncs what A left out of sync.
    hb.paging.cr3 = gt.cr3;
    expect(b.kvmSetCr3(gt.cr3)).toBe('ok');
    expect(shadowTranslate(host, b, 0x400000)!.hpa).toBe(hpaOf(host, 0x300000));
    // A still runs with write access to the table: re-protecting it asked A for a flush.
    expect(ha.tlbFlushRequests).toBeGreaterThan(0);
    // B's own TLB is flushed once for the load: the root switch and the sync's write protection
    // together (KVM's one KVM_REQ_TLB_FLUSH_CURRENT), not once each.
    const bFlushes = hb.tlbFlushes;
    const requests = ha.tlbFlushRequests;
    expect(a.pageFault(0x40000000, PF_W)).toEqual({ kind: 'fixed' });
    hb.paging.cr3 = other.cr3;
    expect(b.kvmSetCr3(other.cr3)).toBe('ok');
    hb.paging.cr3 = gt.cr3;
    const syncs = vm.stats.syncPages;
    expect(b.kvmSetCr3(gt.cr3)).toBe('ok');
    expect(vm.stats.syncPages).toBe(syncs + 1);
    expect(hb.tlbFlushes).toBe(bFlushes + 2);
    expect(ha.tlbFlushRequests).toBe(requests + 1);
    expect(shadowTranslate(host, a, 0x40000000)!.w).toBe(false);
    expect(vm.audit()).toEqual([]);
    expect(vm.auditLog).toEqual([]);
  });

  it('the audit catches an unsync page its parent does not mark, and a wrong unsync counter', () => {
    const { mmu, ptGpa, window } = setup64();
    mmu.pageFault(window, PF_W);
    expectSound(mmu);
    const pt = mmu.s.kvm.pagesById.find((p) => p !== null && p.gfn === ptGpa / 4096 && p.level === 1)!;
    const pd = mmu.s.kvm.pageByRef(pt.parentPte)!;
    const i = pt.parentPte & 511;
    pd.unsyncChildBitmap[i >>> 5] &= ~(1 << (i & 31));
    expect(mmu.audit().join('\n')).toMatch(/is or holds unsync pages but parent .* lacks the bit/);
    expect(mmu.audit().join('\n')).toMatch(/unsync child bits but unsyncChildren/);
    pd.unsyncChildBitmap[i >>> 5] |= 1 << (i & 31);
    mmu.s.kvm.stats.unsyncPages++;
    expect(mmu.audit()).toEqual(['1 unsync pages but the counter says 2']);
  });

  it('with the option off every write to a shadowed table is emulated, as in 2007', () => {
    const { host, gt } = rig('paging64');
    const pte = gt.map(0x400000, 0x200000, G_P | G_W | G_U | G_A | G_D);
    gt.map(0x40000000, pte & ~0xfff, G_P | G_W | G_A | G_D);
    const mmu = start(host, { unsync: false });
    mmu.pageFault(0x400000, 0);
    expect(mmu.pageFault(0x40000000, PF_W)).toEqual({ kind: 'emulate', gpa: pte & ~0xfff });
    expect(mmu.stats.unsyncs).toBe(0);
    expectSound(mmu);
  });
});
