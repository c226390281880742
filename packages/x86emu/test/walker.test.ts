/** The exported page walker over a caller-given root: the permission matrix of SDM Vol. 3 4.6. */
import { describe, expect, it } from 'vitest';
import { FlatPhysicalMemory, PFERR, WalkCtl, WalkResult, walkAddr } from '../src/index.js';

const GVA = 0x00403123; // PDE 1, PTE 3

/** Builds a two-level table with the given PDE/PTE low flags (and XD on the PTE for PAE) and walks GVA. */
function walk(mode: 1 | 2, pdeFlags: number, pteFlags: number, access: number, ctl: number, ptexd = false) {
  const mem = new FlatPhysicalMemory(1 << 20);
  const root = 0x10000;
  const pt = 0x12000;
  if (mode === 1) {
    mem.write32(root + 1 * 4, pt | pdeFlags);
    mem.write32(pt + 3 * 4, 0x55000 | pteFlags);
  } else {
    const pd = 0x11000;
    mem.write32(root, pd | 1);
    mem.write32(pd + 2 * 8, pt | pdeFlags);
    mem.write32(pt + 3 * 8, 0x55000 | pteFlags);
    if (ptexd) mem.write32(pt + 3 * 8 + 4, 0x80000000);
  }
  const out = new WalkResult();
  const gva = mode === 1 ? GVA : 0x00403123 + 0x00000000;
  const ok = walkAddr(mem, mode, root, gva, access, ctl, out);
  const pteAddr = mode === 1 ? pt + 12 : pt + 24;
  return { ok, out, pte: mem.read32(pteAddr) };
}

/** The SDM's rule, restated: which accesses a leaf with these combined rights allows. */
function allowed(user: boolean, writable: boolean, access: number, wp: boolean): boolean {
  if (access & PFERR.USER && !user) return false;
  if (access & PFERR.WRITE && !writable && (access & PFERR.USER || wp)) return false;
  return true;
}

describe('walkAddr permission matrix', () => {
  for (const mode of [1, 2] as const) {
    it(`${mode === 1 ? '32-bit' : 'PAE'}: U/S and R/W at both levels, user/supervisor reads and writes, CR0.WP`, () => {
      for (let pde = 0; pde < 4; pde++) {
        for (let pte = 0; pte < 4; pte++) {
          for (const access of [0, PFERR.WRITE, PFERR.USER, PFERR.USER | PFERR.WRITE]) {
            for (const wp of [false, true]) {
              const pdeFlags = 1 | ((pde & 1) << 1) | ((pde & 2) << 1);
              const pteFlags = 1 | ((pte & 1) << 1) | ((pte & 2) << 1);
              const r = walk(mode, pdeFlags, pteFlags, access, wp ? WalkCtl.WP : 0);
              const want = allowed((pde & pte & 2) !== 0, (pde & pte & 1) !== 0, access, wp);
              expect(r.ok, `pde=${pde} pte=${pte} access=${access} wp=${wp}`).toBe(want);
              if (want) {
                expect(r.out.pa).toBe(0x55123);
                expect(r.pte & 0x60).toBe(access & PFERR.WRITE ? 0x60 : 0x20);
              } else {
                expect(r.out.errorCode).toBe(PFERR.PRESENT | access);
                expect(r.pte & 0x60).toBe(0); // a faulting walk leaves the leaf untouched (as KVM's walker does)
              }
            }
          }
        }
      }
    });
  }

  it('not present at either level: error code without P', () => {
    expect(walk(1, 0, 1, PFERR.WRITE, 0).out.errorCode).toBe(PFERR.WRITE);
    expect(walk(1, 7, 0, PFERR.USER, 0).out.errorCode).toBe(PFERR.USER);
  });

  it('PAE execute-disable: fetches fault with I/D only when EFER.NXE; without NXE bit 63 is reserved', () => {
    const nx = walk(2, 7, 7, PFERR.FETCH, WalkCtl.NXE, true);
    expect([nx.ok, nx.out.errorCode]).toEqual([false, PFERR.PRESENT | PFERR.FETCH]);
    expect(walk(2, 7, 7, 0, WalkCtl.NXE, true).ok).toBe(true);
    const rsvd = walk(2, 7, 7, 0, 0, true);
    expect([rsvd.ok, rsvd.out.errorCode]).toEqual([false, PFERR.PRESENT | PFERR.RSVD]);
  });
});

describe('walkAddr 4-level', () => {
  /** PML4 at 0x10000 → PDPT 0x11000 → PD 0x12000 → PT 0x13000. */
  function tables() {
    const mem = new FlatPhysicalMemory(1 << 20);
    mem.write32(0x10000, 0x11000 | 7);
    mem.write32(0x11000, 0x12000 | 7);
    mem.write32(0x12000 + 2 * 8, 0x13000 | 7); // 4 MiB..6 MiB: a page table
    mem.write32(0x13000 + 3 * 8, 0x55000 | 7);
    mem.write32(0x12000 + 3 * 8, 0x00a00000 | 0x87); // 6 MiB..8 MiB: a 2 MiB page at 10 MiB
    return mem;
  }
  it('translates 4 KiB and 2 MiB pages and sets A/D on the way', () => {
    const mem = tables();
    const out = new WalkResult();
    expect(walkAddr(mem, 3, 0x10000, 0x00403123, PFERR.WRITE, 0, out)).toBe(true);
    expect(out.pa).toBe(0x55123);
    expect(mem.read32(0x13000 + 24) & 0x60).toBe(0x60);
    expect(mem.read32(0x10000) & 0x20).toBe(0x20);
    expect(walkAddr(mem, 3, 0x10000, 0x00612345, 0, 0, out)).toBe(true);
    expect([out.pa, out.pageSize]).toEqual([0x00a12345, 0x200000]);
  });
  it('a PS bit in a PML4E or PDPTE is reserved (no 1 GiB pages): RSVD', () => {
    const mem = tables();
    mem.write32(0x11000, 0x12000 | 0x87);
    const out = new WalkResult();
    expect(walkAddr(mem, 3, 0x10000, 0x00403123, 0, 0, out)).toBe(false);
    expect(out.errorCode).toBe(PFERR.PRESENT | PFERR.RSVD);
  });
});
