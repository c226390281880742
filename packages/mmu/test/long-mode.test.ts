import { describe, expect, it } from 'vitest';
import { EFER_LMA, EFER_LME, EFER_NX, roleGlevels, X86_CR4_PAE } from '../src/index.js';
import { G_A, G_D, G_P, G_PS, G_U, G_W, GuestPageTables } from '../src/testing/index.js';
import { expectSound, hpaOf, PF_F, PF_U, PF_W, rig, shadowTranslate, start } from './helpers.js';

/** 0xffff8880_00000000 as the 48-bit linear address x86emu reports (bits 63:48 dropped). */
const KERNEL = 0x888000000000;
const USER_STACK = 0x7fffffffe000;
const P = 1;
const RSVD = 8;

describe('long-mode (4-level) guests', () => {
  it('are shadowed by a 4-level hierarchy rooted at a shadow PML4', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(USER_STACK, 0x200000, G_P | G_W | G_U);
    gt.map(KERNEL + 0x1000, 0x201000, G_P | G_W);
    const mmu = start(host);
    expect(mmu.mode).toBe('paging64');
    expect(mmu.shadowRootLevel).toBe(4);
    const root = mmu.shadowPages().find((p) => p.hpfn * 4096 === mmu.rootHpa)!;
    expect(root.level).toBe(4);
    expect(roleGlevels(root.role)).toBe(4);
    expect(root.gfn).toBe(gt.cr3 / 4096);
    expect(mmu.pageFault(USER_STACK + 8, PF_W | PF_U)).toEqual({ kind: 'fixed' });
    expect(mmu.pageFault(KERNEL + 0x1008, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, USER_STACK + 8)!.hpa).toBe(hpaOf(host, 0x200008));
    expect(shadowTranslate(host, mmu, KERNEL + 0x1008)).toMatchObject({
      hpa: hpaOf(host, 0x201008),
      u: false,
    });
    const st = mmu.stats;
    expect([st.shadowPagesL4, st.shadowPagesL3, st.shadowPagesL2, st.shadowPagesL1]).toEqual([1, 2, 2, 2]);
    expectSound(mmu);
  });

  it('take 64-bit linear addresses as two 32-bit halves; bits 63:48 select nothing', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(KERNEL + 0x5000, 0x205000, G_P | G_W);
    const mmu = start(host);
    // The canonical 0xffff888000005010 as halves, and as the 48-bit number: the same page.
    expect(mmu.pageFault64(0x00005010, 0xffff8880, PF_W)).toEqual({ kind: 'fixed' });
    expect(mmu.gvaToGpa64(0x00005010, 0xffff8880)).toBe(0x205010);
    expect(mmu.gvaToGpa(KERNEL + 0x5010)).toBe(0x205010);
    const r = mmu.pageFault64(0x00006000, 0xffff8880, PF_W);
    expect(r).toEqual({ kind: 'inject-pf', errorCode: PF_W, cr2: KERNEL + 0x6000 });
    expectSound(mmu);
  });

  it('a guest that switches between modes keeps its other modes’ pages cached', () => {
    const { host, gt } = rig('paging32E', { nxe: true });
    gt.map(0x1000, 0x300000, G_P | G_W);
    const gt64 = new GuestPageTables(host, 'paging64', 0x180000);
    gt64.map(0x1000, 0x301000, G_P | G_W);
    gt64.map(KERNEL, 0x302000, G_P | G_W);
    const mmu = start(host);
    const pae = { cr3: gt.cr3, efer: EFER_NX };
    const long = { cr3: gt64.cr3, efer: EFER_NX | EFER_LME | EFER_LMA };
    const enter = (m: { cr3: number; efer: number }) => {
      Object.assign(host.paging, m);
      expect(mmu.kvmMmuReset()).toBe(true);
    };
    const touch = () => {
      for (const gva of mmu.mode === 'paging64' ? [0x1000, KERNEL] : [0x1000])
        expect(mmu.pageFault(gva, PF_W).kind).toBe('fixed');
    };
    touch();
    enter(long);
    touch();
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x301000));
    const created = mmu.stats.shadowPagesCreated;
    for (let i = 0; i < 3; i++) {
      enter(pae);
      touch();
      expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x300000));
      enter(long);
      touch();
    }
    expect(mmu.stats.shadowPagesCreated).toBe(created);
    expect(new Set(mmu.shadowPages().map((p) => roleGlevels(p.role)))).toEqual(new Set([3, 4]));
    expect(host.paging.cr4 & X86_CR4_PAE).toBeTruthy();
    expectSound(mmu);
  });

  it('NX: XD at any level is kept in the leaf spte and a fetch is reflected with I/D', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x1000, 0x200000, G_P | G_W, { nx: true });
    gt.map(0x2000, 0x201000, G_P | G_W);
    // XD in a PDE: everything below is non-executable, the directory sptes stay XD-free.
    gt.map(0x40000000, 0x202000, G_P | G_W);
    const pde = gt.entryGpa(0x40000000, 2);
    host.write32(pde + 4, 0x80000000);
    const mmu = start(host);
    expect(mmu.pageFault(0x1000, 0).kind).toBe('fixed');
    expect(mmu.pageFault(0x2000, PF_F).kind).toBe('fixed');
    expect(mmu.pageFault(0x40000000, 0).kind).toBe('fixed');
    expect(shadowTranslate(host, mmu, 0x1000)!.nx).toBe(true);
    expect(shadowTranslate(host, mmu, 0x2000)!.nx).toBe(false);
    expect(shadowTranslate(host, mmu, 0x40000000)!.nx).toBe(true);
    expect(mmu.pageFault(0x1000, PF_F)).toEqual({ kind: 'inject-pf', errorCode: P | PF_F, cr2: 0x1000 });
    expect(mmu.pageFault(0x40000000, PF_F | PF_U)).toEqual({
      kind: 'inject-pf',
      errorCode: P | PF_U | PF_F,
      cr2: 0x40000000,
    });
    expectSound(mmu);
  });

  it('without EFER.NXE the XD bit is reserved: RSVD in the error code, I/D never', () => {
    const { host, gt } = rig('paging64', { nxe: false });
    gt.map(0x1000, 0x200000, G_P | G_W, { nx: true });
    const mmu = start(host);
    expect(mmu.pageFault(0x1000, PF_F)).toEqual({ kind: 'inject-pf', errorCode: P | RSVD, cr2: 0x1000 });
    expect(mmu.stats.pfRsvd).toBe(1);
    expectSound(mmu);
  });

  it('guest 2 MiB pages are shadowed by 4 KiB sptes in metaphysical page tables', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x40000000, 0x400000, G_P | G_W | G_U, { large: true });
    const mmu = start(host);
    expect(mmu.pageFault(0x40123456, PF_W | PF_U).kind).toBe('fixed');
    expect(mmu.pageFault(0x401ff000, PF_U).kind).toBe('fixed');
    expect(shadowTranslate(host, mmu, 0x40123456)!.hpa).toBe(hpaOf(host, 0x523456));
    expect(shadowTranslate(host, mmu, 0x401ff000)!.hpa).toBe(hpaOf(host, 0x5ff000));
    const meta = mmu.shadowPages().filter((p) => p.metaphysical);
    expect(meta.map((p) => [p.level, p.gfn])).toEqual([[1, 0x400]]);
    expect(mmu.stats.pfLarge2M).toBe(2);
    expectSound(mmu);
  });

  it('guest 1 GiB pages are shadowed by a metaphysical directory and metaphysical page tables', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x40000000, 0, G_P | G_W, { huge: true });
    const mmu = start(host);
    expect(mmu.pageFault(0x40345678, PF_W).kind).toBe('fixed');
    expect(mmu.pageFault(0x40a00000, 0).kind).toBe('fixed');
    expect(shadowTranslate(host, mmu, 0x40345678)!.hpa).toBe(hpaOf(host, 0x345678));
    // The first write set D in the guest's PDPTE, so the read fault maps this part writable too.
    expect(shadowTranslate(host, mmu, 0x40a00000)).toMatchObject({ hpa: hpaOf(host, 0xa00000), w: true });
    expect(host.read32(gt.entryGpa(0x40000000, 3)) & G_D).toBe(G_D);
    const meta = mmu.shadowPages().filter((p) => p.metaphysical);
    expect(meta.map((p) => [p.level, p.gfn]).sort((x, y) => x[0] - y[0] || x[1] - y[1])).toEqual([
      [1, 0x200],
      [1, 0xa00],
      [2, 0],
    ]);
    expect(mmu.stats.pfLarge1G).toBe(2);
    // Beyond RAM inside the same 1 GiB page: MMIO, not a crash.
    expect(mmu.pageFault(0x40000000 + (32 << 20), 0)).toEqual({ kind: 'mmio', gpa: 32 << 20 });
    expectSound(mmu);
  });

  it('without Page1GB, PS in a PDPTE is reserved', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x40000000, 0, G_P | G_W, { huge: true });
    host.paging.gbPages = false;
    const mmu = start(host);
    expect(mmu.pageFault(0x40001000, PF_W)).toEqual({
      kind: 'inject-pf',
      errorCode: P | RSVD | PF_W,
      cr2: 0x40001000,
    });
    host.paging.gbPages = true;
    mmu.kvmMmuReset();
    expect(mmu.pageFault(0x40001000, PF_W).kind).toBe('fixed');
    expectSound(mmu);
  });

  it('reserved bits fault with RSVD at every level: address bits above MAXPHYADDR, PS in a PML4E, large-page alignment', () => {
    const gva = 0x40201000;
    const cases: [string, (gt: GuestPageTables, host: ReturnType<typeof rig>['host']) => void][] = [];
    for (const level of [4, 3, 2, 1]) {
      cases.push([
        `bit 36 in the level-${level} entry`,
        (gt, host) => host.write32(gt.entryGpa(gva, level) + 4, 0x10),
      ]);
    }
    cases.push([
      'PS in the PML4E',
      (gt, host) => host.write32(gt.entryGpa(gva, 4), host.read32(gt.entryGpa(gva, 4)) | G_PS),
    ]);
    cases.push(['bit 13 in a 1 GiB PDPTE', (gt) => gt.map(gva, 0x2000, G_P | G_W, { huge: true })]);
    cases.push(['bit 29 in a 1 GiB PDPTE', (gt) => gt.map(gva, 0x20000000, G_P | G_W, { huge: true })]);
    cases.push(['bit 20 in a 2 MiB PDE', (gt) => gt.map(gva, 0x100000, G_P | G_W, { large: true })]);
    for (const [what, spoil] of cases) {
      const { host, gt } = rig('paging64', { nxe: true });
      gt.map(gva, 0x200000, G_P | G_W | G_U);
      spoil(gt, host);
      const mmu = start(host);
      const r = mmu.pageFault(gva, PF_W | PF_U);
      expect(r, what).toEqual({ kind: 'inject-pf', errorCode: P | RSVD | PF_W | PF_U, cr2: gva });
      expect(shadowTranslate(host, mmu, gva), what).toBeNull();
      expectSound(mmu);
    }
  });

  it('bits 62:52 of 4-level entries are ignored, not reserved (unlike PAE)', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    const gva = 0x40201000;
    gt.map(gva, 0x200000, G_P | G_W | G_U);
    for (const level of [4, 3, 2, 1]) host.write32(gt.entryGpa(gva, level) + 4, 0x7ff00000);
    const mmu = start(host);
    expect(mmu.pageFault(gva, PF_W | PF_U).kind).toBe('fixed');
    expect(shadowTranslate(host, mmu, gva)!.hpa).toBe(hpaOf(host, 0x200000));
    expectSound(mmu);
    // MAXPHYADDR 52: bit 51 is an address bit like any other (here: beyond RAM, so MMIO).
    const wide = rig('paging64', { nxe: true });
    wide.gt.map(gva, 0x200000, G_P | G_W);
    wide.host.write32(wide.gt.entryGpa(gva, 1) + 4, 0x80000);
    const mmu52 = start(wide.host, { maxPhyAddr: 52 });
    expect(mmu52.pageFault(gva, 0)).toEqual({ kind: 'mmio', gpa: 2 ** 51 + 0x200000 });
  });

  it('guest tables at every level are write-protected, and a write to any of them is emulated', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    const gva = KERNEL + 0x3000;
    gt.map(gva, 0x200000, G_P | G_W);
    const tables = [4, 3, 2, 1].map((l) => gt.entryGpa(gva, l) & ~0xfff);
    tables.forEach((t, i) => {
      gt.map(0x10000 + i * 0x1000, t, G_P | G_W | G_A | G_D);
    });
    const mmu = start(host);
    expect(mmu.pageFault(gva, PF_W).kind).toBe('fixed');
    tables.forEach((t, i) => {
      expect(mmu.pageFault(0x10000 + i * 0x1000 + 8, PF_W)).toEqual({ kind: 'emulate', gpa: t + 8 });
      expect(shadowTranslate(host, mmu, 0x10000 + i * 0x1000)).toMatchObject({
        hpa: hpaOf(host, t),
        w: false,
      });
    });
    expectSound(mmu);
  });

  it('emulated 8-byte pte writes at every level update or drop the sptes', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    const gva = KERNEL + 0x3000;
    const pte = gt.map(gva, 0x200000, G_P | G_W | G_A | G_D);
    const mmu = start(host);
    mmu.pageFault(gva, PF_W);
    // Level 1: the spte is rebuilt from the new pte.
    host.write64(pte, 0x210000 | G_P | G_W | G_A | G_D, 0);
    mmu.kvmMmuPteWrite(pte, 8);
    expect(mmu.stats.pteUpdated).toBe(1);
    expect(shadowTranslate(host, mmu, gva)!.hpa).toBe(hpaOf(host, 0x210000));
    // A 4-byte write of the high half only (XD on): the whole pte is re-read.
    host.write32(pte + 4, 0x80000000);
    mmu.kvmMmuPteWrite(pte + 4, 4);
    expect(shadowTranslate(host, mmu, gva)!.nx).toBe(true);
    // Levels 2, 3, 4: a new table under the entry; the link is dropped and refaulted.
    for (const level of [2, 3, 4]) {
      const entry = gt.entryGpa(gva, level);
      const other = new GuestPageTables(host, 'paging64', 0x400000 + level * 0x10000);
      const target = 0x220000 + level * 0x1000;
      other.map(gva, target, G_P | G_W | G_A | G_D);
      // `other` built a whole path; take its level-(level-1) table for our entry.
      const sub = other.entryGpa(gva, level) & ~0xfff;
      const subEntry = other.readEntry(sub + (Math.floor(gva / 2 ** (3 + 9 * level)) % 512) * 8);
      host.write64(entry, subEntry.lo, subEntry.hi);
      mmu.kvmMmuPteWrite(entry, 8);
      expect(shadowTranslate(host, mmu, gva), `level ${level}`).toBeNull();
      expect(mmu.pageFault(gva, PF_W).kind).toBe('fixed');
      expect(shadowTranslate(host, mmu, gva)!.hpa, `level ${level}`).toBe(hpaOf(host, target));
      expectSound(mmu);
    }
  });

  it('a guest whose PML4 maps itself recursively works', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    const R = 0x1ed; // the slot Windows uses
    host.write64(gt.cr3 + R * 8, gt.cr3 | G_P | G_W, 0);
    const gva = 0x12345000;
    const pte = gt.map(gva, 0x200000, G_P | G_W | G_A | G_D);
    // The self-map: the pte of `gva` is at R:pml4i:pdpti:pdi (the pte's own table), pti * 8.
    const selfPte = R * 2 ** 39 + (Math.floor(gva / 512) - (Math.floor(gva / 512) % 8));
    const selfPml4 = R * (2 ** 39 + 2 ** 30 + 2 ** 21 + 2 ** 12);
    const mmu = start(host);
    expect(mmu.gvaToGpa(selfPte)).toBe(pte);
    expect(mmu.gvaToGpa(selfPml4 + R * 8)).toBe(gt.cr3 + R * 8);
    expect(mmu.pageFault(gva, PF_W).kind).toBe('fixed');
    expect(mmu.pageFault(selfPte, 0).kind).toBe('fixed');
    expect(mmu.pageFault(selfPml4, 0).kind).toBe('fixed');
    expect(shadowTranslate(host, mmu, selfPte)).toMatchObject({ hpa: hpaOf(host, pte), w: false });
    expect(shadowTranslate(host, mmu, selfPml4)).toMatchObject({ hpa: hpaOf(host, gt.cr3), w: false });
    // The guest rewrites its pte through the self-map: emulated, then the MMU follows.
    expect(mmu.pageFault(selfPte, PF_W)).toEqual({ kind: 'emulate', gpa: pte });
    host.write64(pte, 0x230000 | G_P | G_W | G_A | G_D, 0);
    mmu.kvmMmuPteWrite(pte, 8);
    expect(shadowTranslate(host, mmu, gva)!.hpa).toBe(hpaOf(host, 0x230000));
    // …and its PML4 through the self-map of the self-map: the root is shadowed at several levels.
    expect(mmu.pageFault(selfPml4 + 8, PF_W)).toEqual({ kind: 'emulate', gpa: gt.cr3 + 8 });
    const levels = mmu
      .shadowPages()
      .filter((p) => p.gfn === gt.cr3 / 4096 && !p.metaphysical)
      .map((p) => p.level)
      .sort();
    expect(levels).toEqual([1, 2, 3, 4]);
    expectSound(mmu);
  });

  it('a CR3 load beyond MAXPHYADDR is #GP; the 64-bit CR3 is otherwise a plain number', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host);
    expect(mmu.kvmSetCr3(2 ** 36)).toBe('gp');
    expect(mmu.kvmSetCr3(2 ** 52 + gt.cr3)).toBe('gp');
    expect(host.paging.cr3).toBe(gt.cr3);
    // PWT/PCD in bits 11:0 are not address bits.
    expect(mmu.kvmSetCr3(gt.cr3 | 0x18)).toBe('ok');
    expect(mmu.pageFault(0x1000, PF_W).kind).toBe('fixed');
    // A CR3 inside MAXPHYADDR but beyond RAM: the guest gets its #PF, the host nothing worse.
    expect(mmu.kvmSetCr3(2 ** 35)).toBe('ok');
    expect(mmu.pageFault(0x1000, 0)).toEqual({ kind: 'inject-pf', errorCode: 0, cr2: 0x1000 });
    expectSound(mmu);
  });

  it('CR3 switches between cached 4-level address spaces create no shadow pages', () => {
    const { host } = rig('paging64', { nxe: true });
    const spaces = [0, 1, 2, 3].map((i) => {
      const gt = new GuestPageTables(host, 'paging64', 0x200000 + i * 0x10000);
      gt.map(0x400000, 0x600000 + i * 0x1000, G_P | G_W | G_U | G_A | G_D);
      gt.map(KERNEL, 0x700000, G_P | G_W | G_A | G_D);
      return gt;
    });
    const mmu = start(host);
    const round = () => {
      for (const gt of spaces) {
        expect(mmu.kvmSetCr3(gt.cr3)).toBe('ok');
        for (const gva of [0x400000, KERNEL]) {
          while (shadowTranslate(host, mmu, gva)?.w !== true)
            expect(mmu.pageFault(gva, PF_W).kind).toBe('fixed');
        }
      }
    };
    round();
    const before = { ...mmu.stats };
    round();
    round();
    expect(mmu.stats.shadowPagesCreated).toBe(before.shadowPagesCreated);
    expect(mmu.stats.pageFaults).toBe(before.pageFaults);
    expect(mmu.stats.cr3RootHits - before.cr3RootHits).toBe(8);
    expectSound(mmu);
  });

  it('a kernel PDPT shared by several PML4s is one shadow page with a parent in each shadow root', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(KERNEL, 0x300000, G_P | G_W | G_A | G_D);
    const slot = (Math.floor(KERNEL / 2 ** 39) % 512) * 8;
    const others = [1, 2].map((i) => {
      const o = new GuestPageTables(host, 'paging64', 0x200000 + i * 0x10000);
      const e = gt.readEntry(gt.cr3 + slot);
      host.write64(o.cr3 + slot, e.lo, e.hi);
      return o;
    });
    const mmu = start(host);
    for (const t of [gt, ...others]) {
      expect(mmu.kvmSetCr3(t.cr3)).toBe('ok');
      while (shadowTranslate(host, mmu, KERNEL)?.w !== true)
        expect(mmu.pageFault(KERNEL, PF_W).kind).toBe('fixed');
    }
    const pdpts = mmu.shadowPages().filter((p) => p.level === 3);
    expect(pdpts).toHaveLength(1);
    const page = mmu.s.kvm.pagesById.find((p) => p !== null && p.level === 3)!;
    expect(page.parentPtes?.n).toBe(3); // multimapped: one parent spte in each of the three roots
    // The guest changes the shared kernel mapping once: every address space sees it.
    const pte = gt.entryGpa(KERNEL, 1);
    host.write64(pte, 0x310000 | G_P | G_W | G_A | G_D, 0);
    mmu.kvmMmuPteWrite(pte, 8);
    for (const t of [gt, ...others]) {
      mmu.kvmSetCr3(t.cr3);
      expect(shadowTranslate(host, mmu, KERNEL)!.hpa).toBe(hpaOf(host, 0x310000));
    }
    expectSound(mmu);
  });

  it('pageFault answers are the MMU’s own objects, reused: the fault path allocates nothing', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x1000, 0x200000, G_P | G_W);
    const mmu = start(host, { audit: false });
    const a = mmu.pageFault(0x5000, 0);
    const b = mmu.pageFault(0x6000, PF_W);
    expect(a).toBe(b);
    expect(b).toEqual({ kind: 'inject-pf', errorCode: PF_W, cr2: 0x6000 });
    expect(mmu.pageFault(0x1000, 0)).toBe(mmu.pageFault(0x1000, PF_W));
    const params = mmu.s.walkParams;
    mmu.kvmSetCr3(gt.cr3);
    expect(mmu.s.walkParams).toBe(params);
  });
});
