/**
 * Two-dimensional paging (`MmuOptions.tdp`, KVM's `tdp_enabled` for AMD NPT): one direct root in
 * the host's 4-level format mapping guest-physical memory, built by `kvm_tdp_page_fault` on
 * nested page faults; guest tables neither shadowed nor write-protected; MMIO gfns answered as
 * such; the guest's own tables still walked for gvaToGpa; the audit and a fuzz in this mode.
 */
import { describe, expect, it } from 'vitest';
import {
  EFER_LMA,
  EFER_LME,
  EFER_NX,
  PFERR_WRITE_MASK,
  roleLevel,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_PAE,
  X86_CR4_PSE,
} from '../src/index.js';
import { FakeHost } from '../src/testing/index.js';
import { rmapWriteProtect } from '../src/write-protect.js';
import { expectSound, hpaOf, rig, shadowTranslate, start } from './helpers.js';

const G_PW = 3;

describe('TDP (two-dimensional paging)', () => {
  it('maps the faulting guest-physical page in a 4-level direct map, with every right', () => {
    const { host, gt } = rig('paging64');
    const mmu = start(host, { tdp: true });
    expect(mmu.shadowRootLevel).toBe(4);
    const root = mmu.rootHpa;
    expect(mmu.pageFault(0x345678, PFERR_WRITE_MASK)).toEqual({ kind: 'fixed' });
    // The address is guest-physical: the guest's tables play no part (gva 0x345678 is unmapped there).
    const t = shadowTranslate(host, mmu, 0x345678);
    expect(t?.hpa).toBe(hpaOf(host, 0x345678));
    expect([t?.w, t?.u, t?.nx]).toEqual([true, true, false]);
    // Direct pages only, one per level, none write-protecting a guest table.
    const pages = mmu.shadowPages();
    expect(pages.every((p) => p.metaphysical)).toBe(true);
    expect(pages.map((p) => roleLevel(p.role)).sort()).toEqual([1, 2, 3, 4]);
    // The guest's page-table frames stay writable through the map.
    mmu.pageFault(gt.cr3, 0);
    expect(shadowTranslate(host, mmu, gt.cr3)?.w).toBe(true);
    expect(mmu.rootHpa).toBe(root);
    expectSound(mmu);
  });

  it('answers an MMIO gfn with mmio and maps nothing for it', () => {
    const { host } = rig('paging32');
    host.mmioGfns.add(0x200);
    const mmu = start(host, { tdp: true });
    expect(mmu.pageFault(0x200010, 0)).toEqual({ kind: 'mmio', gpa: 0x200010 });
    expect(shadowTranslate(host, mmu, 0x200010)).toBeNull();
    expectSound(mmu);
  });

  it('keeps one root across guest mode changes and CR3 loads; gvaToGpa still walks the guest', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x400000, 0x123000, G_PW);
    const mmu = start(host, { tdp: true });
    const root = mmu.rootHpa;
    mmu.pageFault(0x123000, 0);
    expect(mmu.gvaToGpa(0x400010)).toBe(0x123010);
    Object.assign(host.paging, { cr0: 1, cr4: 0, efer: 0 });
    expect(mmu.kvmMmuReset()).toBe(true);
    expect(mmu.rootHpa).toBe(root);
    expect(mmu.kvmSetCr3(0x5000)).toBe('ok');
    expect(mmu.rootHpa).toBe(root);
    // The mapping made before the switches is still there: no refault.
    expect(shadowTranslate(host, mmu, 0x123000)?.hpa).toBe(hpaOf(host, 0x123000));
    expect(mmu.stats.shadowPagesLive).toBe(4);
    expectSound(mmu);
  });

  it('write protection through the rmap reaches the TDP leaf, and a write fault restores it', () => {
    const { host } = rig('paging64');
    const mmu = start(host, { tdp: true });
    mmu.pageFault(0x7000, PFERR_WRITE_MASK);
    expect(shadowTranslate(host, mmu, 0x7000)?.w).toBe(true);
    const flushes = host.tlbFlushes;
    rmapWriteProtect(mmu.s.kvm, 7);
    mmu.s.flushPending();
    expect(shadowTranslate(host, mmu, 0x7000)?.w).toBe(false);
    expect(host.tlbFlushes).toBeGreaterThan(flushes);
    expect(mmu.pageFault(0x7000, PFERR_WRITE_MASK)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x7000)?.w).toBe(true);
    expectSound(mmu);
  });

  it('INVLPG drops only the silicon translation (no guest table is shadowed)', () => {
    const { host } = rig('paging64');
    const mmu = start(host, { tdp: true });
    mmu.pageFault(0x5000, 0);
    mmu.invlpg(0x5000);
    expect(host.tlbFlushedGvas).toContain(0x5000);
    expect(shadowTranslate(host, mmu, 0x5000)).not.toBeNull();
  });

  it("maps the faulting frame's aligned 2 MiB group of RAM frames at once, never MMIO frames", () => {
    const { host } = rig('paging64');
    for (let gfn = 0x210; gfn < 0x218; gfn++) host.mmioGfns.add(gfn);
    const mmu = start(host, { tdp: true });
    expect(mmu.pageFault(0x234567, 0)).toEqual({ kind: 'fixed' });
    // Every RAM frame of 0x200000-0x3fffff now maps with every right, without a fault of its own.
    for (let gfn = 0x200; gfn < 0x400; gfn++) {
      const t = shadowTranslate(host, mmu, gfn * 4096 + 8);
      if (host.mmioGfns.has(gfn)) expect(t).toBeNull();
      else {
        expect(t?.hpa).toBe(hpaOf(host, gfn * 4096 + 8));
        expect([t?.w, t?.u, t?.nx]).toEqual([true, true, false]);
      }
    }
    expect(mmu.stats.tdpPrefetched).toBe(511 - 8);
    expect(mmu.stats.pfFixed).toBe(1);
    // Outside the group nothing is mapped; an MMIO frame inside it still faults as MMIO.
    expect(shadowTranslate(host, mmu, 0x400000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x1ff000)).toBeNull();
    expect(mmu.pageFault(0x212000, 0)).toEqual({ kind: 'mmio', gpa: 0x212000 });
    expectSound(mmu);
  });

  it('maps only the faulting frame with tdpPrefetch 1, and the aligned 8 with 8', () => {
    const { host } = rig('paging64');
    const one = start(host, { tdp: true, tdpPrefetch: 1 });
    one.pageFault(0x234000, 0);
    expect(shadowTranslate(host, one, 0x235000)).toBeNull();
    expect(one.stats.tdpPrefetched).toBe(0);
    const { host: host8 } = rig('paging64');
    const eight = start(host8, { tdp: true, tdpPrefetch: 8 });
    eight.pageFault(0x234000, 0);
    for (let gfn = 0x230; gfn < 0x238; gfn++)
      expect(shadowTranslate(host8, eight, gfn * 4096)).not.toBeNull();
    expect(shadowTranslate(host8, eight, 0x238000)).toBeNull();
    expect(shadowTranslate(host8, eight, 0x22f000)).toBeNull();
    expect(() => start(rig('paging64').host, { tdp: true, tdpPrefetch: 3 })).toThrow(RangeError);
  });

  it('a zap of every page (a memory slot change) drops the frames mapped ahead, with a TLB flush', () => {
    const { host } = rig('paging64');
    const mmu = start(host, { tdp: true });
    mmu.pageFault(0x234000, 0);
    expect(shadowTranslate(host, mmu, 0x3ff000)).not.toBeNull();
    const flushes = host.tlbFlushes;
    mmu.kvmMmuZapAll();
    mmu.s.flushPending();
    expect(shadowTranslate(host, mmu, 0x3ff000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x234000)).toBeNull();
    expect(host.tlbFlushes).toBeGreaterThan(flushes);
    expectSound(mmu);
  });

  it('a guest doing anything at all never makes the TDP MMU throw or break an invariant', () => {
    let a = 77;
    const rnd = () => {
      a = (Math.imul(a, 1103515245) + 12345) >>> 0;
      return a >>> 8;
    };
    const host = new FakeHost({ ramBytes: 64 << 20, maxHostPages: 120 });
    for (let gfn = 0x300; gfn < 0x310; gfn++) host.mmioGfns.add(gfn);
    for (let gpa = 0; gpa < 0x40000; gpa += 4) host.write32(gpa, (rnd() & 0x7ff000) | (rnd() & 0xe7) | 1);
    Object.assign(host.paging, { cr0: X86_CR0_PG | X86_CR0_WP | 1, cr4: X86_CR4_PSE, efer: 0, cr3: 0x1000 });
    const mmu = start(host, { tdp: true, maxShadowPages: 32, audit: false, unsync: true });
    const modes = [
      { cr0: 1, cr4: 0, efer: 0 },
      { cr0: X86_CR0_PG | 1, cr4: X86_CR4_PSE, efer: 0 },
      { cr0: X86_CR0_PG | X86_CR0_WP | 1, cr4: X86_CR4_PAE, efer: EFER_NX },
      { cr0: X86_CR0_PG | X86_CR0_WP | 1, cr4: X86_CR4_PAE, efer: EFER_LME | EFER_LMA | EFER_NX },
    ];
    const kinds = new Set<string>();
    for (let step = 0; step < 3000; step++) {
      const op = rnd() % 100;
      if (op < 75)
        kinds.add(mmu.pageFault(op < 70 ? (rnd() * 4) & 0x3ffffff : rnd() * 256, rnd() & 0x1f).kind);
      else if (op < 85) mmu.kvmMmuPteWrite((rnd() % 0x800) * 4096 + (rnd() % 512) * 8, 8);
      else if (op < 92) expect(['ok', 'gp']).toContain(mmu.kvmSetCr3((rnd() % 0x40) * 0x1000));
      else if (op < 96) {
        Object.assign(host.paging, modes[rnd() % modes.length]);
        expect(mmu.kvmMmuReset()).toBe(true);
      } else mmu.invlpg(rnd() & 0x7fffff);
      if (step % 500 === 0) expectSound(mmu);
    }
    expectSound(mmu);
    expect(mmu.stats.inconsistencies).toBe(0);
    expect([...kinds].sort()).toEqual(['fixed', 'mmio']);
    // Eviction ran (32 pages map less than 64 MiB) and nothing was ever write-protected.
    expect(mmu.stats.zapEvict).toBeGreaterThan(0);
    expect(mmu.shadowPages().every((p) => p.metaphysical)).toBe(true);
  });
});
