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
