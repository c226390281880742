import { describe, expect, it } from 'vitest';
import { kvmMmuCreate, X86_CR0_PG, X86_CR0_WP, X86_CR4_PAE } from '../src/index.js';
import { FakeHost, G_A, G_D, G_P, G_PCD, G_PWT, G_U, G_W, GuestPageTables } from '../src/testing/index.js';
import { CR0_PE, expectSound, hpaOf, PF_F, PF_U, PF_W, rig, shadowTranslate, start } from './helpers.js';

describe('page faults', () => {
  it('a fault on a mapped address builds the shadow chain so the silicon finds the right host page', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x00403000, 0x00200000, G_P | G_W | G_U);
    const mmu = start(host);
    expect(shadowTranslate(host, mmu, 0x00403123)).toBeNull();
    expect(mmu.pageFault(0x00403123, PF_U)).toEqual({ kind: 'fixed' });
    const t = shadowTranslate(host, mmu, 0x00403123)!;
    expect(t.hpa).toBe(hpaOf(host, 0x00200123));
    expect(t.u).toBe(true);
    expect(t.w).toBe(false); // clean page: read-only until the first write sets D
    expect(mmu.stats.pfFixed).toBe(1);
    expectSound(mmu);
  });

  it('a fault the guest tables refuse is reflected into the guest with its error code and CR2', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P); // supervisor read-only
    const mmu = start(host);
    expect(mmu.pageFault(0x1abc, PF_U | PF_W)).toEqual({
      kind: 'inject-pf',
      errorCode: 1 | PF_U | PF_W,
      cr2: 0x1abc,
    });
    expect(mmu.pageFault(0x9000, 0)).toEqual({ kind: 'inject-pf', errorCode: 0, cr2: 0x9000 });
    expect(mmu.stats.pfGuest).toBe(2);
    expectSound(mmu);
  });

  it('a read fault maps a clean page read-only, and the first write sets the dirty bit and makes it writable', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    expect(host.read32(pte) & (G_A | G_D)).toBe(G_A);
    expect(shadowTranslate(host, mmu, 0x1000)!.w).toBe(false);
    expect(mmu.pageFault(0x1000, PF_W)).toEqual({ kind: 'fixed' });
    expect(host.read32(pte) & (G_A | G_D)).toBe(G_A | G_D);
    expect(shadowTranslate(host, mmu, 0x1000)!.w).toBe(true);
    expectSound(mmu);
  });

  it('every guest page shadowed as a table is write-protected, and a write to it is to be emulated', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W);
    const ptGpa = pte & ~0xfff;
    gt.map(0x00800000, ptGpa, G_P | G_W | G_D | G_A); // the guest maps its own page table at 8 MiB
    const mmu = start(host);
    // Written before it is shadowed: an ordinary writable page.
    expect(mmu.pageFault(0x00800000, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x00800000)!.w).toBe(true);
    const flushes = host.tlbFlushes;
    // Shadowing it (a fault through it) takes W away from the existing spte and flushes the TLB.
    mmu.pageFault(0x1000, 0);
    expect(shadowTranslate(host, mmu, 0x00800000)!.w).toBe(false);
    expect(host.tlbFlushes).toBeGreaterThan(flushes);
    expect(mmu.stats.sptesWriteProtected).toBe(1);
    expect(mmu.pageFault(0x00800004, PF_W)).toEqual({ kind: 'emulate', gpa: ptGpa + 4 });
    expect(mmu.stats.pfEmulate).toBe(1);
    expectSound(mmu);
  });

  it('an emulated write through a pte sets its dirty bit', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W);
    const ptGpa = pte & ~0xfff;
    const aliasPte = gt.map(0x00800000, ptGpa, G_P | G_W); // clean alias of the page table
    const mmu = start(host);
    mmu.pageFault(0x1000, 0); // shadows the page table
    expect(host.read32(aliasPte) & G_D).toBe(0);
    expect(mmu.pageFault(0x00800000, PF_W).kind).toBe('emulate');
    // The write will be emulated, never done through the spte: the guest pte must say dirty now.
    expect(host.read32(aliasPte) & (G_A | G_D)).toBe(G_A | G_D);
  });

  it('shadow ptes never carry PCD/PWT/PAT from the guest', () => {
    const { host, gt } = rig('paging32E');
    gt.map(0x1000, 0x200000, G_P | G_W | G_PCD | G_PWT | 0x80 /* PAT */ | G_D | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, PF_W);
    const t = shadowTranslate(host, mmu, 0x1000)!;
    expect(t.hpa).toBe(hpaOf(host, 0x200000));
    expect(t.leafLo & (G_PCD | G_PWT | 0x80)).toBe(0);
    expectSound(mmu);
  });

  it('a fault on a gpa that is not RAM is MMIO and maps nothing', () => {
    const { host, gt } = rig('paging32');
    host.mmioGfns.add(0x300);
    gt.map(0x1000, 0x300000, G_P | G_W);
    const mmu = start(host);
    expect(mmu.pageFault(0x1010, PF_W)).toEqual({ kind: 'mmio', gpa: 0x300010 });
    expect(shadowTranslate(host, mmu, 0x1010)).toBeNull();
    expect(mmu.stats.pfMmio).toBe(1);
    expectSound(mmu);
  });

  it('paging off: gva is gpa through metaphysical pages, which write-protect nothing', () => {
    const host = new FakeHost();
    host.paging.cr0 = CR0_PE;
    const mmu = start(host);
    expect(mmu.mode).toBe('nonpaging');
    expect(mmu.pageFault(0x7c00, PF_W)).toEqual({ kind: 'fixed' });
    const t = shadowTranslate(host, mmu, 0x7c00)!;
    expect(t).toMatchObject({ hpa: hpaOf(host, 0x7c00), w: true, u: true, nx: false });
    expect(mmu.shadowPages().every((p) => p.metaphysical)).toBe(true);
    // A frame 1 MiB up lands in another metaphysical table of the same root; both identity.
    mmu.pageFault(0x00f00000 + 0x123, 0);
    expect(shadowTranslate(host, mmu, 0x00f00123)!.hpa).toBe(hpaOf(host, 0x00f00123));
    expect(mmu.pageFault(0x10000000, 0)).toEqual({ kind: 'mmio', gpa: 0x10000000 });
    expectSound(mmu);
  });

  it('large guest pages are shadowed by metaphysical pages naming the gfn actually mapped, and not write-protected', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x00400000, 0x00800000, G_P | G_W | G_U | G_D | G_A, { large: true });
    const mmu = start(host);
    mmu.pageFault(0x00600000, PF_W | PF_U); // upper 2 MiB half of the 4 MiB page
    const t = shadowTranslate(host, mmu, 0x00600000)!;
    expect(t).toMatchObject({ hpa: hpaOf(host, 0x00a00000), w: true, u: true });
    const leaf = mmu.shadowPages().find((p) => p.level === 1)!;
    expect(leaf.metaphysical).toBe(true);
    expect(leaf.gfn).toBe(0xa00); // the frame actually mapped, not 0x800 (the directory's)
    // The metaphysical page does not write-protect the frames it maps (there is no guest table).
    mmu.pageFault(0x00400000, PF_W);
    expect(shadowTranslate(host, mmu, 0x00400000)!.w).toBe(true);
    expectSound(mmu);
  });

  it('large pages map the gfn actually mapped: a page table inside a guest large page stays write-protected', () => {
    // Like Linux lowmem: the kernel maps physical memory with 4 MiB pages, page tables included.
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x00001000, 0x200000, G_P | G_W);
    const ptGpa = pte & ~0xfff; // inside the first 4 MiB of RAM
    gt.map(0xc0000000, 0, G_P | G_W | G_D | G_A, { large: true });
    const mmu = start(host);
    mmu.pageFault(0x00001000, 0); // shadows the page table
    expect(mmu.pageFault(0xc0000000 + ptGpa + 8, PF_W)).toEqual({ kind: 'emulate', gpa: ptGpa + 8 });
    expect(shadowTranslate(host, mmu, 0xc0000000 + ptGpa)).toMatchObject({
      hpa: hpaOf(host, ptGpa),
      w: false,
    });
    // Its neighbour in the same large page is ordinary memory: writable.
    expect(mmu.pageFault(0xc0000000 + ptGpa + 4096, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0xc0000000 + ptGpa + 4096)!.w).toBe(true);
    expectSound(mmu);
  });

  it('CR0.WP=0: a supervisor write to a read-only page gets a writable supervisor-only spte', () => {
    const { host, gt } = rig('paging32', { wp: false });
    gt.map(0x1000, 0x200000, G_P | G_U);
    const mmu = start(host);
    expect(mmu.pageFault(0x1000, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({ w: true, u: false });
    // The user still may not write, and gets its rights back for reading.
    expect(mmu.pageFault(0x1000, PF_W | PF_U).kind).toBe('inject-pf');
    expect(mmu.pageFault(0x1000, PF_U)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({ w: false, u: true });
    expectSound(mmu);
  });

  it('NX: an XD guest page is shadowed with XD, and a fetch from it is reflected with I/D', () => {
    const { host, gt } = rig('paging32E', { nxe: true });
    gt.map(0x1000, 0x200000, G_P | G_W, { nx: true });
    gt.map(0x2000, 0x201000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    mmu.pageFault(0x2000, PF_F);
    expect(shadowTranslate(host, mmu, 0x1000)!.nx).toBe(true);
    expect(shadowTranslate(host, mmu, 0x2000)!.nx).toBe(false);
    expect(mmu.pageFault(0x1000, PF_F)).toEqual({ kind: 'inject-pf', errorCode: 1 | PF_F, cr2: 0x1000 });
    expectSound(mmu);
  });

  it('a CR3 pointing at no guest memory gives the guest its fault, never an exception', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host);
    expect(mmu.kvmSetCr3(0x7f000000)).toBe('ok');
    expect(mmu.pageFault(0x1000, PF_W)).toEqual({ kind: 'inject-pf', errorCode: PF_W, cr2: 0x1000 });
    expect(mmu.gvaToGpa(0x1000)).toBe(-1);
    expectSound(mmu);
    // PAE: the PDPTEs cannot be loaded from nowhere: #GP, CR3 unchanged.
    const pae = rig('paging32E');
    pae.gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu2 = start(pae.host);
    expect(mmu2.kvmSetCr3(0x7f000000)).toBe('gp');
    expect(pae.host.paging.cr3).toBe(pae.gt.cr3);
    expect(mmu2.pageFault(0x1000, 0)).toEqual({ kind: 'fixed' });
  });

  it('memory caches are topped up before a fault: an exhausted host gets no-memory and nothing changes', () => {
    const { host, gt } = rig('paging32');
    for (let i = 0; i < 8; i++) gt.map(i * 0x400000, 0x200000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0, 0);
    host.maxHostPages = host.liveHostPages; // no more pages from now on
    // The roots and the first fault used cached pages; the cache cannot be refilled, so the fault
    // is refused before anything is touched, even though it would need just one page.
    const before = mmu.shadowPages().length;
    const created = mmu.stats.shadowPagesCreated;
    expect(mmu.pageFault(0x400000, 0)).toEqual({ kind: 'no-memory' });
    expect(mmu.pageFault(0x400000, 0)).toEqual({ kind: 'no-memory' });
    expect(mmu.shadowPages().length).toBe(before);
    expect(mmu.stats.shadowPagesCreated).toBe(created);
    expect(shadowTranslate(host, mmu, 0x400000)).toBeNull();
    expect(mmu.stats.pfNoMemory).toBe(2);
    expectSound(mmu);
    host.maxHostPages = 1 << 20;
    expect(mmu.pageFault(0x400000, 0)).toEqual({ kind: 'fixed' });
    expectSound(mmu);
  });

  it('before each fault enough free shadow pages are made available by zapping the oldest', () => {
    const { host, gt } = rig('paging32', { ramBytes: 64 << 20 });
    for (let i = 0; i < 40; i++) gt.map(i * 0x400000, 0x200000 + i * 4096, G_P | G_W);
    const mmu = start(host, { maxShadowPages: 16 });
    for (let i = 0; i < 40; i++) {
      expect(mmu.pageFault(i * 0x400000, 0)).toEqual({ kind: 'fixed' });
      expect(mmu.stats.shadowPagesLive).toBeLessThanOrEqual(16);
    }
    expect(mmu.stats.zapEvict).toBeGreaterThan(0);
    // The newest mappings survive; evicted ones simply fault again.
    expect(shadowTranslate(host, mmu, 39 * 0x400000)!.hpa).toBe(hpaOf(host, 0x200000 + 39 * 4096));
    expect(shadowTranslate(host, mmu, 0)).toBeNull();
    expect(mmu.pageFault(0, 0)).toEqual({ kind: 'fixed' });
    expectSound(mmu);
  });

  it('a root in use is never freed', () => {
    const { host, gt } = rig('paging32', { ramBytes: 64 << 20 });
    for (let i = 0; i < 40; i++) gt.map(i * 0x400000, 0x200000, G_P | G_W);
    const mmu = start(host, { maxShadowPages: 16 });
    const rootHpa = mmu.rootHpa;
    for (let i = 0; i < 40; i++) mmu.pageFault(i * 0x400000, 0);
    // The roots were the oldest pages: eviction reached them and put them back.
    expect(mmu.stats.zapRootKept).toBeGreaterThan(0);
    mmu.kvmMmuZapAll();
    expect(mmu.rootHpa).toBe(rootHpa);
    const roots = mmu.shadowPages().filter((p) => p.rootCount > 0);
    expect(roots.map((p) => p.level)).toEqual([2, 2, 2, 2]);
    for (let i = 0; i < 4; i++) {
      const e = host.readHost64(rootHpa + i * 8)!;
      expect(e.lo & 1).toBe(1);
      expect(roots.some((p) => p.hpfn * 4096 === (e.lo & 0xfffff000) + (e.hi & 0xfffff) * 2 ** 32)).toBe(
        true,
      );
    }
    expect(mmu.pageFault(0x400000, 0)).toEqual({ kind: 'fixed' });
    expectSound(mmu);
  });

  it('zapping a page removes it from its parents and frees its rmap entries', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W);
    gt.map(0x2000, 0x201000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    mmu.pageFault(0x2000, 0);
    const removes = mmu.stats.rmapRemoves;
    expect(mmu.kvmMmuUnprotectPage(Math.floor(pte / 4096))).toBe(true);
    expect(mmu.stats.rmapRemoves - removes).toBe(2);
    expect(mmu.stats.parentPteRemoves).toBe(1);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    expect(mmu.shadowPages().some((p) => p.level === 1)).toBe(false);
    expectSound(mmu);
  });

  it('removing a page table fixes up the parent chains of its child tables', () => {
    const { host, gt } = rig('paging32E');
    // Two page directories (PDPTE 0 and 1) share one page table.
    const pte = gt.map(0x1000, 0x200000, G_P | G_W);
    const ptGpa = pte & ~0xfff;
    const pdB = gt.entryGpa(0x40000000, 2) & ~0xfff;
    host.write64(pdB, ptGpa | G_P | G_W | G_U, 0);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    mmu.pageFault(0x40001000, 0);
    const pt = [...mmu.s.kvm.pagesById].find((p) => p !== null && p.level === 1)!;
    expect(pt.parentPtes).not.toBeNull(); // multimapped: two parents
    // The guest clears PD B's entry (an emulated write the MMU is told about).
    host.write64(pdB, 0, 0);
    mmu.kvmMmuPteWrite(pdB, 8);
    expect(pt.parentPtes).toBeNull();
    expect(pt.parentPte).toBeGreaterThanOrEqual(0); // back to one inline parent
    expect(shadowTranslate(host, mmu, 0x40001000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x200000));
    expectSound(mmu);
  });

  it('invlpg drops the spte of one address and flushes just that address', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W);
    gt.map(0x2000, 0x201000, G_P | G_W);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    mmu.pageFault(0x2000, 0);
    mmu.invlpg(0x1000);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x2000)).not.toBeNull();
    expect(host.tlbFlushedGvas).toEqual([0x1000]);
    expectSound(mmu);
  });

  it('the MMU is created in two phases: create allocates, setup reads the vCPU state', () => {
    const host = new FakeHost({ maxHostPages: 0 });
    expect(kvmMmuCreate(host)).toBeNull();
    host.maxHostPages = 100;
    const mmu = kvmMmuCreate(host)!;
    expect(mmu.rootHpa).toBe(-1);
    host.paging.cr0 = X86_CR0_PG | X86_CR0_WP | CR0_PE;
    host.paging.cr4 = X86_CR4_PAE;
    const gt = new GuestPageTables(host, 'paging32E', 0x100000);
    gt.map(0x1000, 0x200000, G_P);
    host.paging.cr3 = gt.cr3;
    expect(mmu.kvmMmuSetup()).toBe(true);
    expect(mmu.mode).toBe('paging32E');
    expect(mmu.rootHpa).toBeGreaterThan(0);
    expect(() => kvmMmuCreate(host, { maxShadowPages: 3 })).toThrow(RangeError);
  });

  it('kvmMmuReset switches context on paging-mode changes, keeping the other modes cached', () => {
    const host = new FakeHost();
    host.paging.cr0 = CR0_PE;
    const mmu = start(host);
    mmu.pageFault(0x1000, PF_W);
    const gt = new GuestPageTables(host, 'paging32', 0x100000);
    gt.map(0x1000, 0x300000, G_P | G_W);
    host.paging.cr3 = gt.cr3;
    host.paging.cr0 |= X86_CR0_PG | X86_CR0_WP;
    expect(mmu.kvmMmuReset()).toBe(true);
    expect(mmu.mode).toBe('paging32');
    expect(mmu.pageFault(0x1000, 0)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x300000));
    const glevels = new Set(mmu.shadowPages().map((p) => p.role & 0xf));
    expect(glevels).toEqual(new Set([0, 2])); // real-mode and 32-bit shadows side by side
    host.paging.cr0 &= ~X86_CR0_PG;
    mmu.kvmMmuReset();
    expect(mmu.mode).toBe('nonpaging');
    const created = mmu.stats.shadowPagesCreated;
    expect(mmu.pageFault(0x1000, PF_W)).toEqual({ kind: 'fixed' });
    expect(mmu.stats.shadowPagesCreated).toBe(created); // the real-mode shadows were still cached
    expect(mmu.stats.resets).toBe(2);
    expectSound(mmu);
  });
});
