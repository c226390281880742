import { PFERR, type PhysicalMemory, WalkCtl, WalkResult, walkAddr } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { type FakeHost, G_A, G_D, G_P, G_U, G_W } from '../src/testing/index.js';
import { expectSound, hpaOf, PF_F, PF_U, PF_W, rig, start } from './helpers.js';

/** The fake host's host-physical space (RAM and the shadow page pool) as x86emu's physical memory. */
class HostPhysical implements PhysicalMemory {
  constructor(private readonly host: FakeHost) {}
  pageView(): Uint8Array | null {
    return null; // every access through read32/write32 below
  }
  read8(pa: number): number {
    return (this.read32(pa - (pa % 4)) >>> ((pa % 4) * 8)) & 0xff;
  }
  read16(pa: number): number {
    return this.read8(pa) | (this.read8(pa + 1) << 8);
  }
  read32(pa: number): number {
    const e = this.host.readHost64(pa - (pa % 8));
    if (e === null) return 0xffffffff;
    return pa % 8 === 0 ? e.lo : e.hi;
  }
  write8(): void {}
  write16(): void {}
  write32(pa: number, value: number): void {
    const view = this.host.pageView(Math.floor(pa / 4096));
    new DataView(view.buffer, view.byteOffset, 4096).setUint32(pa % 4096, value >>> 0, true);
  }
}

/**
 * The silicon's side of the contract: x86emu's own 4-level walker (what the VMX/SVM models run
 * in guest mode), over the shadow PML4 at rootHpa, with EFER.NXE and CR0.WP set as the README
 * asks of the drivers, translates every address as the guest's tables do and refuses what they
 * refuse, XD included. A shadow entry x86emu found malformed (reserved bits) would fail here.
 */
describe("x86emu's hardware walker over the 4-level shadow tables", () => {
  it('translates like the guest tables, with the same rights, XD included', () => {
    const { host, gt } = rig('paging64', { nxe: true, ramBytes: 32 << 20 });
    const mem = new HostPhysical(host);
    const cases: { gva: number; gpa: number; w: boolean; u: boolean; nx: boolean }[] = [];
    const bases = [0x1000, 0x7fffffe00000, 0x888000000000, 0xffff80000000];
    bases.forEach((base, r) => {
      for (let j = 0; j < 8; j++) {
        const w = (j & 1) !== 0;
        const u = (j & 2) !== 0;
        const nx = (j & 4) !== 0;
        const gpa = 0x400000 + (r * 8 + j) * 4096;
        gt.map(base + j * 4096, gpa, G_P | G_A | G_D | (w ? G_W : 0) | (u ? G_U : 0), { nx });
        cases.push({ gva: base + j * 4096, gpa, w, u, nx });
      }
    });
    gt.map(0x40000000, 0x600000, G_P | G_W | G_U | G_A | G_D, { large: true });
    cases.push({ gva: 0x40012000, gpa: 0x612000, w: true, u: true, nx: false });
    gt.map(0x7f0000000000, 0, G_P | G_W | G_A | G_D, { huge: true });
    cases.push({ gva: 0x7f0000345000, gpa: 0x345000, w: true, u: false, nx: false });
    const mmu = start(host);
    const ctl = WalkCtl.NXE | WalkCtl.WP | WalkCtl.PAGE1G;
    const out = new WalkResult();
    for (const c of cases) {
      const access = (c.w ? PF_W : 0) | (c.u ? PF_U : 0) | (c.nx ? 0 : PF_F);
      // Fault until the silicon's walk succeeds, as the exit loop would.
      let faults = 0;
      while (!walkAddr(mem, 3, mmu.rootHpa, c.gva, access, ctl, out)) {
        expect(out.errorCode & PFERR.RSVD, `gva ${c.gva.toString(16)}`).toBe(0);
        expect(mmu.pageFault(c.gva, out.errorCode).kind).toBe('fixed');
        expect(++faults).toBeLessThan(4);
      }
      expect(out.pa).toBe(hpaOf(host, c.gpa));
      // What the guest refuses, the silicon refuses too (and the MMU reflects it).
      const denied = [
        !c.w ? PF_W | (c.u ? PF_U : 0) : -1,
        !c.u ? PF_U : -1,
        c.nx ? PF_F | (c.u ? PF_U : 0) : -1,
      ];
      for (const a of denied) {
        if (a < 0) continue;
        expect(
          walkAddr(mem, 3, mmu.rootHpa, c.gva, a, ctl, out),
          `gva ${c.gva.toString(16)} access ${a}`,
        ).toBe(false);
        expect(out.errorCode & PFERR.RSVD).toBe(0);
        const r = mmu.pageFault(c.gva, out.errorCode);
        expect(r.kind).toBe('inject-pf');
      }
    }
    expectSound(mmu);
  });
});
