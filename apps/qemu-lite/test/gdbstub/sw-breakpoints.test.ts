/** INT3 breakpoints in guest RAM: patched, hidden from the debugger's reads, kept across its writes, restored. */
import { describe, expect, it } from 'vitest';
import { SoftwareBreakpoints } from '../../src/gdbstub/sw-breakpoints.js';

describe('INT3 software breakpoints', () => {
  it('patches CC at the breakpoint and puts the original byte back on removal', () => {
    const ram = Uint8Array.of(0x53, 0x48, 0x89, 0xfb);
    const bps = new SoftwareBreakpoints(ram);
    expect(bps.insert(0x102fc1n, 1)).toBe(true);
    expect(Array.from(ram)).toEqual([0x53, 0xcc, 0x89, 0xfb]);
    expect(bps.insert(0x102fc1n, 1)).toBe(true); // again: still one patch, original kept
    expect(bps.size).toBe(1);
    expect(bps.remove(0x102fc1n)).toBe(true);
    expect(Array.from(ram)).toEqual([0x53, 0x48, 0x89, 0xfb]);
    expect(bps.remove(0x102fc1n)).toBe(false);
    expect(bps.insert(0x5000n, 99)).toBe(false); // not RAM
  });

  it("shows the original bytes to reads and keeps the INT3 under the debugger's writes", () => {
    const ram = Uint8Array.of(1, 2, 3, 4);
    const bps = new SoftwareBreakpoints(ram);
    bps.insert(0x1002n, 2);
    const read = ram.slice(0, 4);
    bps.hide(0, read); // by guest-physical address: RAM 0..3
    expect(Array.from(read)).toEqual([1, 2, 3, 4]);
    const tail = ram.slice(2, 4);
    bps.hide(2, tail);
    expect(Array.from(tail)).toEqual([3, 4]);
    ram.set([9, 9], 1); // a write of 9 9 at gpa 1, as writeMemory does, then:
    bps.afterWrite(1, Uint8Array.of(9, 9));
    expect(ram[2]).toBe(0xcc);
    bps.clear();
    expect(Array.from(ram)).toEqual([1, 9, 9, 4]);
  });

  it('forgets its patches when the machine reboots with fresh RAM', () => {
    const bps = new SoftwareBreakpoints(Uint8Array.of(0x90));
    bps.insert(0n, 0);
    const fresh = Uint8Array.of(0x90);
    bps.forget(fresh);
    expect(bps.size).toBe(0);
    bps.clear();
    expect(fresh[0]).toBe(0x90);
  });
});
