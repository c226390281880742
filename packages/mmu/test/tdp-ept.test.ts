/**
 * The TDP map in Intel's EPT entry format (`MmuOptions.ept`, KVM's `kvm_mmu_set_ept_masks`):
 * directory entries R/W/X, leaves R/W/X with memory type WB and ignore-PAT and none of the x86
 * A, D, U/S or NX bits; x86emu's EPT walker reads the map back to the same translation.
 */
import type { PhysicalMemory } from '@kvm/x86emu';
import { EptWalkResult, EptWalkStatus, walkEpt } from '@kvm/x86emu';
import { describe, expect, it } from 'vitest';
import { kvmMmuCreateVm, PFERR_WRITE_MASK } from '../src/index.js';
import type { FakeHost } from '../src/testing/index.js';
import { rmapWriteProtect } from '../src/write-protect.js';
import { expectSound, hpaOf, rig, shadowTranslate, start } from './helpers.js';

/** The FakeHost's host memory as x86emu reads it (the EPT walk reads 32-bit halves). */
function hostMemory(host: FakeHost): PhysicalMemory {
  const half = (a: number): number => {
    const e = host.readHost64(a - (a % 8));
    return e === null ? 0 : a % 8 ? e.hi : e.lo;
  };
  return {
    read8: (a) => (half(a - (a % 4)) >>> (8 * (a % 4))) & 0xff,
    read16: (a) => (half(a - (a % 4)) >>> (8 * (a % 4))) & 0xffff,
    read32: half,
    write8() {},
    write16() {},
    write32() {},
    pageView: () => null,
  } as PhysicalMemory;
}

describe('TDP in the EPT format', () => {
  it('writes EPT entries: R/W/X directories, R/W/X + WB + IPAT leaves, no x86 A/D/U/NX bits', () => {
    const { host } = rig('paging64');
    const mmu = start(host, { tdp: true, ept: true });
    expect(mmu.pageFault(0x345678, PFERR_WRITE_MASK)).toEqual({ kind: 'fixed' });
    const t = shadowTranslate(host, mmu, 0x345678);
    expect(t?.hpa).toBe(hpaOf(host, 0x345678));
    expect(t!.leafLo & 0xfff).toBe(0x7 | (6 << 3) | (1 << 6));
    const root = host.readHost64(mmu.rootHpa)!;
    expect(root.lo & 0xfff).toBe(0x7);
    expect(root.hi & 0x80000000).toBe(0);
    const w = new EptWalkResult();
    expect(walkEpt(hostMemory(host), mmu.rootHpa, 0x345678, PFERR_WRITE_MASK, false, true, w)).toBe(
      EptWalkStatus.Ok,
    );
    expect(w.pa).toBe(hpaOf(host, 0x345678));
    expect(w.rights).toBe(7);
    expectSound(mmu);
  });

  it('write-protects by clearing W only: the page stays readable and executable', () => {
    const { host } = rig('paging64');
    const mmu = start(host, { tdp: true, ept: true });
    mmu.pageFault(0x345000, PFERR_WRITE_MASK);
    rmapWriteProtect(mmu.s.kvm, 0x345);
    const w = new EptWalkResult();
    expect(walkEpt(hostMemory(host), mmu.rootHpa, 0x345000, 0, false, true, w)).toBe(EptWalkStatus.Ok);
    expect(w.rights).toBe(5);
    expect(walkEpt(hostMemory(host), mmu.rootHpa, 0x345000, PFERR_WRITE_MASK, false, true, w)).toBe(
      EptWalkStatus.Violation,
    );
  });

  it('refuses the EPT format without tdp', () => {
    const { host } = rig('paging64');
    expect(() => kvmMmuCreateVm(host, { ept: true })).toThrow(RangeError);
  });
});
