import { describe, expect, it } from 'vitest';
import { GuestWalker, makePteFormat, type WalkParams, walkAddr } from '../src/index.js';
import { G_A, G_D, G_P, G_U, G_W } from '../src/testing/index.js';
import { PF_F, PF_U, PF_W, rig } from './helpers.js';

function params32(cr3: number, wp = true, pse = true): WalkParams {
  return {
    fmt: makePteFormat('paging32', { nxe: false, pse, maxPhyAddr: 36 }),
    cr3,
    pdptes: new Uint32Array(8),
    wp,
  };
}

function paramsPae(host: { read32(gpa: number): number }, cr3: number, nxe: boolean, wp = true): WalkParams {
  const pdptes = new Uint32Array(8);
  for (let i = 0; i < 8; i++) pdptes[i] = host.read32(cr3 + i * 4);
  return { fmt: makePteFormat('paging32E', { nxe, pse: true, maxPhyAddr: 36 }), cr3, pdptes, wp };
}

describe('guest walker', () => {
  it('descends to the 4 KiB pte and records the table gfns it walked', () => {
    const { host, gt } = rig('paging32');
    const pteGpa = gt.map(0x00403000, 0x00200000, G_P | G_W | G_U);
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x00403123, 0, false)).toBe(true);
    expect(w.level).toBe(1);
    expect(w.gfn).toBe(0x200);
    expect(w.tableGfn[2]).toBe(gt.cr3 / 4096);
    expect(w.tableGfn[1]).toBe(Math.floor(pteGpa / 4096));
    expect(w.ptePa[1]).toBe(pteGpa);
  });

  it('maps a 4 MiB page to the gfn actually mapped, not the directory frame', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x00800000, 0x00c00000, G_P | G_W, { large: true });
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x00a05000, 0, false)).toBe(true);
    expect(w.level).toBe(2);
    expect(w.gfn).toBe(0xc00 + 0x205);
  });

  it('ignores PS in a 32-bit PDE when CR4.PSE is clear', () => {
    const { host, gt } = rig('paging32', { pse: false });
    // A PDE with PS set whose frame holds a page table mapping 0x00800000 → 0x300000.
    const pt = gt.allocTable();
    host.write32(gt.cr3 + 2 * 4, pt | G_P | G_W | G_U | 0x80);
    host.write32(pt, 0x300000 | G_P | G_W);
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3, true, false), 0x00800000, 0, false)).toBe(true);
    expect(w.level).toBe(1);
    expect(w.gfn).toBe(0x300);
  });

  it('sets accessed bits on every level and the dirty bit of the leaf on a write', () => {
    const { host, gt } = rig('paging32');
    const pteGpa = gt.map(0x1000, 0x200000, G_P | G_W);
    const pdeGpa = gt.cr3;
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x1000, 0, true)).toBe(true);
    expect(host.read32(pdeGpa) & G_A).toBe(G_A);
    expect(host.read32(pteGpa) & (G_A | G_D)).toBe(G_A);
    expect(walkAddr(w, host, params32(gt.cr3), 0x1000, PF_W, true)).toBe(true);
    expect(host.read32(pteGpa) & (G_A | G_D)).toBe(G_A | G_D);
    expect(host.read32(pdeGpa) & G_D).toBe(0);
  });

  it('leaves guest memory alone when the walk faults', () => {
    const { host, gt } = rig('paging32');
    const pteGpa = gt.map(0x1000, 0x200000, G_P);
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x1000, PF_W | PF_U, true)).toBe(false);
    expect(host.read32(pteGpa) & (G_A | G_D)).toBe(0);
  });

  it('computes the #PF error code: not present, protection, user, write', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P); // supervisor, read-only
    const w = new GuestWalker();
    const p = params32(gt.cr3);
    expect(walkAddr(w, host, p, 0x5000, PF_W | PF_U, false)).toBe(false);
    expect(w.errorCode).toBe(PF_W | PF_U); // P=0: not present
    expect(walkAddr(w, host, p, 0x1000, PF_U, false)).toBe(false);
    expect(w.errorCode).toBe(1 | PF_U); // protection, user
    expect(walkAddr(w, host, p, 0x1000, PF_W, false)).toBe(false);
    expect(w.errorCode).toBe(1 | PF_W); // supervisor write, CR0.WP=1
    expect(walkAddr(w, host, p, 0x1000, 0, false)).toBe(true);
  });

  it('lets a supervisor write through a read-only page only when CR0.WP is clear', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_U);
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3, false), 0x1000, PF_W, false)).toBe(true);
    expect(walkAddr(w, host, params32(gt.cr3, false), 0x1000, PF_W | PF_U, false)).toBe(false);
    expect(walkAddr(w, host, params32(gt.cr3, true), 0x1000, PF_W, false)).toBe(false);
  });

  it('combines rights across levels: a read-only directory makes its pages read-only', () => {
    const { host, gt } = rig('paging32');
    gt.map(0x1000, 0x200000, G_P | G_W | G_U, { dirFlags: G_P | G_U });
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x1000, PF_W | PF_U, false)).toBe(false);
    expect(w.errorCode).toBe(1 | PF_W | PF_U);
  });

  it('reports reserved bits with RSVD and P (PAE, bits above MAXPHYADDR)', () => {
    const { host, gt } = rig('paging32E');
    const pteGpa = gt.map(0x1000, 0x200000, G_P | G_W);
    host.write32(pteGpa + 4, 0x10); // bit 36: above MAXPHYADDR 36
    const w = new GuestWalker();
    expect(walkAddr(w, host, paramsPae(host, gt.cr3, false), 0x1000, PF_W, false)).toBe(false);
    expect(w.errorCode).toBe(1 | PF_W | 8);
  });

  it('refuses fetches from XD pages with I/D set when EFER.NXE is on, and treats XD as reserved when off', () => {
    const { host, gt } = rig('paging32E', { nxe: true });
    gt.map(0x1000, 0x200000, G_P | G_W, { nx: true });
    const w = new GuestWalker();
    expect(walkAddr(w, host, paramsPae(host, gt.cr3, true), 0x1000, 0, false)).toBe(true);
    expect(walkAddr(w, host, paramsPae(host, gt.cr3, true), 0x1000, PF_F, false)).toBe(false);
    expect(w.errorCode).toBe(1 | PF_F);
    expect(walkAddr(w, host, paramsPae(host, gt.cr3, false), 0x1000, 0, false)).toBe(false);
    expect(w.errorCode).toBe(1 | 8);
  });

  it('does not report I/D on 32-bit paging (no XD there)', () => {
    const { host, gt } = rig('paging32');
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x7000, PF_F | PF_U, false)).toBe(false);
    expect(w.errorCode).toBe(PF_U);
  });

  it('takes the top level of a PAE walk from the loaded PDPTEs, not from memory', () => {
    const { host, gt } = rig('paging32E');
    gt.map(0x40001000, 0x200000, G_P | G_W);
    const p = paramsPae(host, gt.cr3, false);
    host.write32(gt.cr3 + 8, 0); // the guest clears PDPTE 1 in memory, without reloading CR3
    const w = new GuestWalker();
    expect(walkAddr(w, host, p, 0x40001000, 0, false)).toBe(true);
    expect(w.gfn).toBe(0x200);
  });

  it('walks four levels over the same code: 2 MiB pages, high addresses, PS reserved in a PML4E', () => {
    const { host, gt } = rig('paging64', { nxe: true });
    gt.map(0x7fffffe01000, 0x200000, G_P | G_W | G_U);
    gt.map(0x40000000, 0x400000, G_P | G_W, { large: true });
    const p: WalkParams = {
      fmt: makePteFormat('paging64', { nxe: true, pse: true, maxPhyAddr: 36 }),
      cr3: gt.cr3,
      pdptes: new Uint32Array(8),
      wp: true,
    };
    const w = new GuestWalker();
    expect(walkAddr(w, host, p, 0x7fffffe01abc, PF_U, false)).toBe(true);
    expect(w.gfn).toBe(0x200);
    expect(w.level).toBe(1);
    expect(w.tableGfn[4]).toBe(gt.cr3 / 4096);
    expect(walkAddr(w, host, p, 0x40123000, PF_W, false)).toBe(true);
    expect(w.level).toBe(2);
    expect(w.gfn).toBe(0x400 + 0x123);
    // PS in the PML4E that maps 0x7f8000000000 is reserved: RSVD fault.
    const pml4e = gt.cr3 + 0xff * 8;
    host.write32(pml4e, host.read32(pml4e) | 0x80);
    expect(walkAddr(w, host, p, 0x7fffffe01000, 0, false)).toBe(false);
    expect(w.errorCode).toBe(1 | 8);
  });

  it('treats a table outside guest RAM as not present', () => {
    const { host, gt } = rig('paging32');
    host.write32(gt.cr3, 0x7f000000 | G_P | G_W); // PDE 0 → a page table far beyond RAM
    const w = new GuestWalker();
    expect(walkAddr(w, host, params32(gt.cr3), 0x1000, PF_W, true)).toBe(false);
    expect(w.errorCode).toBe(PF_W);
  });
});
