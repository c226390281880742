/**
 * `Cpu.hotStateChanged`: what a VM entry that reloaded only the guest's hot state recomputes
 * (the VMX silicon calls it when the processor still holds segments and control registers):
 * DR7's breakpoints, the TLB flush asked for, RFLAGS as written; not the mode, which the caller
 * promises it did not change.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, FlatPhysicalMemory } from '../src/index.js';

function cpu(): Cpu {
  const c = new Cpu({ memory: new FlatPhysicalMemory(1 << 20), jit: false });
  c.reset();
  return c;
}

describe('Cpu.hotStateChanged', () => {
  it('recomputes the breakpoints DR7 enables', () => {
    const c = cpu();
    c.state.dr[7] = 0x401; // L0, R/W0 = 00: an instruction breakpoint
    c.hotStateChanged(false);
    expect(c.dbgExec).toBe(1);
    c.state.dr[7] = 0x400;
    c.hotStateChanged(false);
    expect(c.dbgExec).toBe(0);
  });

  it('flushes the TLB only when asked', () => {
    const c = cpu();
    const n = c.stats.tlbFlushes;
    c.hotStateChanged(false);
    expect(c.stats.tlbFlushes).toBe(n);
    c.hotStateChanged(true);
    expect(c.stats.tlbFlushes).toBe(n + 1);
  });

  it('leaves the mode as derived, where stateChanged derives it again', () => {
    const c = cpu();
    expect(c.prot).toBe(false);
    c.state.cr[0] |= 1; // CR0.PE behind the CPU's back: a cold change the caller must report
    c.hotStateChanged(false);
    expect(c.prot).toBe(false);
    c.stateChanged(false);
    expect(c.prot).toBe(true);
  });
});

describe('Cpu.loadPdptes', () => {
  it("reads the four PDPTEs, both halves, at the root's 32-byte slot", () => {
    const c = cpu();
    const m = c.memory;
    const root = 0xfe020;
    for (let i = 0; i < 4; i++) {
      m.write32(root + i * 8, (0x10000001 + i * 0x1000) >>> 0);
      m.write32(root + i * 8 + 4, i + 1);
    }
    m.write32(root - 8, 0xdeadbeef); // the slot before and after are not read
    m.write32(root + 32, 0xdeadbeef);
    expect(c.loadPdptes(root, false)).toBe(true);
    for (let i = 0; i < 4; i++) expect(c.pdptes[i]).toBe((i + 1) * 2 ** 32 + 0x10000001 + i * 0x1000);
    // A present entry with a reserved bit (bit 1) fails the checked load (MOV to CR3's #GP).
    m.write32(root + 16, 0x10000003);
    expect(c.loadPdptes(root, true)).toBe(false);
  });
});
