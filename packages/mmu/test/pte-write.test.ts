import { describe, expect, it } from 'vitest';
import { G_A, G_D, G_P, G_U, G_W } from '../src/testing/index.js';
import { expectSound, hpaOf, PF_U, PF_W, rig, shadowTranslate, start } from './helpers.js';

const ACCESSED = G_P | G_A;

describe('emulated pte writes', () => {
  it('cmpxchg8b-size pte writes update the spte', () => {
    const { host, gt } = rig('paging32E');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x200000));
    // A 32-bit PAE guest sets a pte atomically with cmpxchg8b: 8 bytes at once.
    host.write64(pte, 0x345000 | ACCESSED | G_W | G_U | G_D, 0);
    mmu.kvmMmuPteWrite(pte, 8);
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({
      hpa: hpaOf(host, 0x345000),
      w: true,
      u: true,
    });
    expect(mmu.stats.pteUpdated).toBe(1);
    expect(mmu.stats.pteWrites).toBe(1);
    expectSound(mmu);
  });

  it('a 4-byte write to one half of a PAE pte re-reads the whole pte', () => {
    const { host, gt } = rig('paging32E', { nxe: true });
    const pte = gt.map(0x1000, 0x200000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    // The guest sets XD with a 4-byte write to the high half.
    host.write32(pte + 4, 0x80000000);
    mmu.kvmMmuPteWrite(pte + 4, 4);
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({ hpa: hpaOf(host, 0x200000), nx: true });
    expectSound(mmu);
  });

  it('a pte write updates every shadow page of that guest page table', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_U | G_A);
    // The same page table reached through a user and a supervisor-only PDE: two shadow pages.
    host.write32(gt.cr3 + 0x100 * 4, host.read32(gt.cr3) & ~G_U);
    const mmu = start(host);
    mmu.pageFault(0x1000, PF_U);
    mmu.pageFault(0x40001000, 0);
    expect(mmu.shadowPages().filter((p) => p.level === 1)).toHaveLength(2);
    host.write32(pte, 0x355000 | ACCESSED | G_U);
    mmu.kvmMmuPteWrite(pte, 4);
    expect(mmu.stats.pteUpdated).toBe(2);
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({ hpa: hpaOf(host, 0x355000), u: true });
    expect(shadowTranslate(host, mmu, 0x40001000)).toMatchObject({ hpa: hpaOf(host, 0x355000), u: false });
    expectSound(mmu);
  });

  it('a 32-bit pte write updates the spte in the shadow page of its quadrant', () => {
    const { host, gt } = rig('paging32');
    const pteLow = gt.map(0x00001000, 0x200000, G_P | G_A);
    const pteHigh = gt.map(0x00201000, 0x201000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x00001000, 0);
    mmu.pageFault(0x00201000, 0);
    host.write32(pteHigh, 0x377000 | ACCESSED);
    mmu.kvmMmuPteWrite(pteHigh, 4);
    expect(shadowTranslate(host, mmu, 0x00201000)!.hpa).toBe(hpaOf(host, 0x377000));
    expect(shadowTranslate(host, mmu, 0x00001000)!.hpa).toBe(hpaOf(host, 0x200000));
    expect(pteHigh - pteLow).toBe(0x201 * 4 - 4);
    expectSound(mmu);
  });

  it('a pte write that clears the present bit drops the spte', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W | G_A | G_D);
    const mmu = start(host);
    mmu.pageFault(0x1000, PF_W);
    host.write32(pte, 0);
    mmu.kvmMmuPteWrite(pte, 4);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    expect(mmu.stats.pteZapped).toBe(1);
    expect(mmu.pageFault(0x1000, 0).kind).toBe('inject-pf');
    expectSound(mmu);
  });

  it('a pte write that reduces permissions flushes the TLB', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W | G_U | G_A | G_D);
    const mmu = start(host);
    mmu.pageFault(0x1000, PF_W | PF_U);
    const flushes = host.tlbFlushes;
    host.write32(pte, 0x200000 | G_P | G_U | G_A | G_D); // read-only now
    mmu.kvmMmuPteWrite(pte, 4);
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({ w: false, u: true });
    expect(host.tlbFlushes).toBe(flushes + 1);
    expectSound(mmu);
  });

  it('a pte write that only adds permissions does not flush the TLB', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    const flushes = host.tlbFlushes;
    host.write32(pte, 0x200000 | G_P | G_W | G_U | G_A | G_D);
    mmu.kvmMmuPteWrite(pte, 4);
    expect(shadowTranslate(host, mmu, 0x1000)).toMatchObject({ w: true, u: true });
    expect(host.tlbFlushes).toBe(flushes);
    expectSound(mmu);
  });

  it('a pte write never installs a pte the guest has not accessed (its A bit must still get set)', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    host.write32(pte, 0x300000 | G_P); // A clear
    mmu.kvmMmuPteWrite(pte, 4);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    mmu.pageFault(0x1000, 0);
    expect(host.read32(pte) & G_A).toBe(G_A);
    expect(shadowTranslate(host, mmu, 0x1000)!.hpa).toBe(hpaOf(host, 0x300000));
    expectSound(mmu);
  });

  it('misaligned pte write zaps the page', () => {
    const { host, gt } = rig('paging32E');
    const pte = gt.map(0x1000, 0x200000, G_P | G_A);
    gt.map(0x2000, 0x201000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    mmu.pageFault(0x2000, 0);
    // 4 bytes straddling the two ptes.
    mmu.kvmMmuPteWrite(pte + 6, 4);
    expect(mmu.stats.zapMisaligned).toBe(1);
    expect(mmu.shadowPages().some((p) => p.level === 1)).toBe(false);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x2000)).toBeNull();
    expect(mmu.pageFault(0x2000, 0)).toEqual({ kind: 'fixed' });
    expectSound(mmu);
  });

  it('a pte write smaller than 4 bytes zaps the page', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    mmu.kvmMmuPteWrite(pte + 1, 1);
    expect(mmu.stats.zapMisaligned).toBe(1);
    expect(shadowTranslate(host, mmu, 0x1000)).toBeNull();
    expectSound(mmu);
  });

  it('a flood of pte writes to one page zaps it so further writes run natively', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_W | G_A);
    const ptGpa = pte & ~0xfff;
    gt.map(0x00800000, ptGpa, G_P | G_W | G_A | G_D); // where the guest writes its page table
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    // fork(): the guest write-protects pte after pte; every write is emulated and reported.
    for (let i = 0; i < 3; i++) {
      expect(mmu.pageFault(0x00800000 + i * 4, PF_W).kind).toBe('emulate');
      host.write32(ptGpa + i * 4, host.read32(ptGpa + i * 4) & ~G_W);
      mmu.kvmMmuPteWrite(ptGpa + i * 4, 4);
    }
    expect(mmu.stats.floods).toBe(1);
    expect(mmu.stats.zapFlood).toBe(1);
    // The page is no longer shadowed: the next write faults once and then runs natively.
    expect(mmu.pageFault(0x00800010, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x00800010)!.w).toBe(true);
    expectSound(mmu);
  });

  it('writes to different pages in turn are not a flood', () => {
    const { host, gt } = rig('paging32');
    const pteA = gt.map(0x00001000, 0x200000, G_P | G_A);
    const pteB = gt.map(0x00401000, 0x201000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x00001000, 0);
    mmu.pageFault(0x00401000, 0);
    for (let i = 0; i < 6; i++) mmu.kvmMmuPteWrite(i % 2 ? pteA : pteB, 4);
    expect(mmu.stats.floods).toBe(0);
    expect(mmu.shadowPages().filter((p) => p.level === 1)).toHaveLength(2);
    expectSound(mmu);
  });

  it('a 32-bit PDE write drops both shadow PDEs it covers', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x00001000, 0x200000, G_P | G_A);
    gt.map(0x00201000, 0x201000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x00001000, 0);
    mmu.pageFault(0x00201000, 0);
    host.write32(gt.cr3, 0);
    mmu.kvmMmuPteWrite(gt.cr3, 4);
    expect(shadowTranslate(host, mmu, 0x00001000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x00201000)).toBeNull();
    expect(mmu.stats.pteZapped).toBe(2);
    expectSound(mmu);
  });

  it('a 32-bit PDE write in the top gigabyte reaches the root of quadrant 3 only', () => {
    const { host, gt } = rig('paging32');
    gt.map(0xc0401000, 0x200000, G_P | G_A);
    gt.map(0x00401000, 0x201000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0xc0401000, 0);
    mmu.pageFault(0x00401000, 0);
    const pde = gt.cr3 + (0xc0401000 >>> 22) * 4;
    host.write32(pde, 0);
    mmu.kvmMmuPteWrite(pde, 4);
    expect(shadowTranslate(host, mmu, 0xc0401000)).toBeNull();
    expect(shadowTranslate(host, mmu, 0x00401000)!.hpa).toBe(hpaOf(host, 0x201000));
    expect(mmu.stats.pteZapped).toBe(1); // the other shadow PDE of that guest PDE was empty
    expectSound(mmu);
  });

  it('a page that is no longer a page table is unprotected and the instruction retried', () => {
    const { host, gt } = rig('paging32');
    const pte = gt.map(0x1000, 0x200000, G_P | G_A);
    const ptGpa = pte & ~0xfff;
    gt.map(0x00800000, ptGpa, G_P | G_W | G_A | G_D);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    expect(mmu.pageFault(0x00800000, PF_W).kind).toBe('emulate');
    // The emulator cannot do this instruction (say, an SSE store): unprotect and retry.
    expect(mmu.kvmMmuUnprotectPageVirt(0x00800000)).toBe(true);
    expect(mmu.stats.zapUnprotect).toBe(1);
    expect(mmu.pageFault(0x00800000, PF_W)).toEqual({ kind: 'fixed' });
    expect(shadowTranslate(host, mmu, 0x00800000)!.w).toBe(true);
    // Nothing left to unprotect now.
    expect(mmu.kvmMmuUnprotectPage(ptGpa / 4096)).toBe(false);
    expectSound(mmu);
  });

  it('the page directory a root shadows cannot be unprotected while in use', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_A);
    const mmu = start(host);
    mmu.pageFault(0x1000, 0);
    expect(mmu.kvmMmuUnprotectPage(gt.cr3 / 4096)).toBe(false);
    expect(mmu.stats.zapRootKept).toBe(4);
    expect(mmu.pageFault(0x1000, 0)).toEqual({ kind: 'fixed' });
    expectSound(mmu);
  });
});
