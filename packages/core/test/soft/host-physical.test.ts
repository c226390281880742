import { describe, expect, it } from 'vitest';
import { Errno, KvmError } from '../../src/api/errors.js';
import { HostPhysicalMemory } from '../../src/soft/host-physical.js';

describe('the host-physical page allocator', () => {
  it('hands out a contiguous run again after single pages were freed in any order', () => {
    const hpm = new HostPhysicalMemory();
    // What an SVM vCPU takes: a VMCB page, a 3-page IOPM, a 2-page MSRPM.
    const vmcb = hpm.allocPage();
    const iopm = hpm.allocPages(3);
    const msrpm = hpm.allocPages(2);
    const shadow = [hpm.allocPage(), hpm.allocPage()];
    hpm.freePages(msrpm, 2);
    hpm.freePages(iopm, 3);
    hpm.freePage(vmcb);
    for (const p of shadow) hpm.freePage(p);
    for (let round = 0; round < 50; round++) {
      const a = hpm.allocPage();
      const run = hpm.allocPages(3);
      const b = hpm.allocPage();
      for (let i = 0; i < 3; i++) expect(hpm.pageView(run + i), `frame ${run + i}`).not.toBeNull();
      expect([a, b]).not.toContain(run);
      hpm.freePage(b);
      hpm.freePages(run, 3);
      hpm.freePage(a);
    }
    expect(hpm.allocatedPages).toBe(0);
    // Nothing leaked: fifty rounds reused the frames of the first.
    expect(hpm.frameLimit).toBeLessThanOrEqual(1 + 1 + 3 + 2 + 2);
  });

  it('zeroes the pages of a run, and refuses to free a run that is not allocated', () => {
    const hpm = new HostPhysicalMemory();
    const run = hpm.allocPages(2);
    hpm.pageView(run + 1)!.fill(0xff);
    hpm.freePages(run, 2);
    const again = hpm.allocPages(2);
    expect(again).toBe(run);
    expect(hpm.pageView(again + 1)!.every((b) => b === 0)).toBe(true);
    hpm.freePages(again, 2);
    expect(() => hpm.freePages(again, 2)).toThrow(/not allocated/);
    expect(() => hpm.allocPages(0)).toThrow(RangeError);
  });

  it('gives ENOMEM past its page budget and changes nothing', () => {
    const hpm = new HostPhysicalMemory(4);
    hpm.allocPages(3);
    let caught: unknown;
    try {
      hpm.allocPages(2);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KvmError);
    expect((caught as KvmError).errno).toBe(Errno.ENOMEM);
    expect(hpm.allocatedPages).toBe(3);
  });

  it('reuses the frames of released RAM ranges, merging neighbours', () => {
    const hpm = new HostPhysicalMemory();
    const a = hpm.reserveRange(16);
    const b = hpm.reserveRange(16);
    const page = hpm.allocPage();
    hpm.releaseRange(a, 16);
    hpm.releaseRange(b, 16);
    // The two released ranges merged: a 32-frame range fits where they were.
    expect(hpm.reserveRange(32)).toBe(a);
    hpm.releaseRange(a, 32);
    hpm.freePage(page);
    expect(hpm.frameLimit).toBeLessThanOrEqual(a + 33);
  });
});
