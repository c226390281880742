import { describe, expect, it } from 'vitest';
import { newShadowPagingOverride, ShadowTlbRegime } from '../../src/soft/silicon.js';

describe('ShadowTlbRegime: when a VM entry may keep the TLB', () => {
  it('keeps it only for the same format, root, NXE and tag with no fill while the guest was out', () => {
    const r = new ShadowTlbRegime();
    const o = newShadowPagingOverride();
    o.root = 0x5000;
    expect(r.keep(o, 1, 10)).toBe(false); // first entry: nothing known
    r.exited(25);
    expect(r.keep(o, 1, 25)).toBe(true);
    r.exited(30);
    expect(r.keep(o, 1, 31)).toBe(false); // something filled the TLB between exit and entry
    r.exited(40);
    o.root = 0x6000;
    expect(r.keep(o, 1, 40)).toBe(false); // another shadow root
    r.exited(41);
    expect(r.keep(o, 2, 41)).toBe(false); // another VMCS / ASID
    r.exited(42);
    o.nxe = !o.nxe;
    expect(r.keep(o, 2, 42)).toBe(false);
    r.exited(43);
    expect(r.keep(o, 2, 43)).toBe(true);
    r.exited(44);
    r.reset();
    expect(r.keep(o, 2, 44)).toBe(false);
  });
});
