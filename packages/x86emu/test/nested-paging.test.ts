/**
 * Nested paging (`Cpu.nested`, AMD NPT: APM Vol. 2 15.25): the guest's own tables over
 * guest-physical memory, every guest-physical access translated through nested tables in host
 * memory, the combined translation in the TLB, and nested page faults stopping the run with the
 * gPA, the nested walk's error code and whether the guest's table walk or the final access hit it.
 */
import { describe, expect, it } from 'vitest';
import { InterceptKind, NestedPaging, StopReason } from '../src/index.js';
import type { Machine } from './machine.js';
import { CODE, protectedMode } from './pm.js';

/** Nested tables (host-physical): PML4, PDPT, PD, and one PT for gPA 6–8 MiB. */
const NPML4 = 0xc00000;
const NPDPT = 0xc01000;
const NPD = 0xc02000;
const NPT = 0xc03000;
const RW_USER = 7; // P | W | U: every nested entry is checked as a user access
/** gPA 0x700000 is backed by hPA 0x900000 (a remapped page). */
const REMAP_GPA = 0x700000;
const REMAP_HPA = 0x900000;
/** gPA 0x600000–0x601fff is not mapped at all; 0x680000 read-only. */
const HOLE_GPA = 0x600000;
const RO_GPA = 0x680000;

function setNested(m: Machine, gpa: number, hpa: number, flags: number): void {
  m.mem.write32(NPT + ((gpa >>> 12) & 511) * 8, (hpa | flags) >>> 0);
}

/** A protected-mode machine whose memory is guest-physical behind nested tables: gPA = hPA below 6 MiB. */
function nestedMachine(source: string, intercepts = {}): { m: Machine; n: NestedPaging } {
  const m = protectedMode(source, {}, intercepts);
  const mem = m.mem;
  mem.write32(NPML4, NPDPT | RW_USER);
  mem.write32(NPDPT, NPD | RW_USER);
  for (let i = 0; i < 3; i++) mem.write32(NPD + i * 8, (i * 0x200000) | RW_USER | 0x80); // 2 MiB pages
  mem.write32(NPD + 3 * 8, NPT | RW_USER);
  for (let i = 0; i < 512; i++) setNested(m, 0x600000 + i * 4096, 0x600000 + i * 4096, RW_USER);
  setNested(m, HOLE_GPA, 0, 0);
  setNested(m, HOLE_GPA + 0x1000, 0, 0);
  setNested(m, REMAP_GPA, REMAP_HPA, RW_USER);
  setNested(m, RO_GPA, RO_GPA, 5);
  const n = new NestedPaging(mem);
  n.root = NPML4;
  m.cpu.nested = n;
  m.cpu.stateChanged();
  return { m, n };
}

describe('nested paging (NPT)', () => {
  it('translates guest-physical accesses through the nested tables, paging off', () => {
    const { m } = nestedMachine('mov eax, [0x700010]\nmov [0x700020], eax\nhlt');
    m.mem.write32(REMAP_HPA + 0x10, 0xcafef00d);
    m.mem.write32(REMAP_GPA + 0x10, 0x11111111); // hPA = gPA: must not be read
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(m.cpu.state.gpr[0] >>> 0).toBe(0xcafef00d);
    expect(m.mem.read32(REMAP_HPA + 0x20)).toBe(0xcafef00d);
    expect(m.mem.read32(REMAP_GPA + 0x20)).toBe(0);
    // The final translation set the nested leaf's accessed and dirty bits (host-level walk).
    expect(m.mem.read32(NPT + ((REMAP_GPA >>> 12) & 511) * 8) & 0x60).toBe(0x60);
  });

  it('an unmapped gPA stops the run as a nested page fault at the instruction (final access, U)', () => {
    const { m } = nestedMachine('nop\nmov eax, [0x600008]\nhlt');
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    const x = m.cpu.exit;
    expect(x.kind).toBe(InterceptKind.NestedPageFault);
    expect(x.faultAddress).toBe(0x600008);
    expect(x.errorCode).toBe(4); // not present, read, user
    expect(x.nestedFaultInWalk).toBe(false);
    expect(m.cpu.state.rip[0]).toBe(CODE + 1);
    // Mapped by the "hypervisor" and flushed, the instruction completes.
    setNested(m, HOLE_GPA, 0x900000, RW_USER);
    m.mem.write32(0x900008, 42);
    m.cpu.flushTlb();
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(m.cpu.state.gpr[0]).toBe(42);
  });

  it('a write to a read-only nested page faults with P, W and U; a read of it does not', () => {
    const { m } = nestedMachine('mov eax, [0x680000]\nmov [0x680000], eax\nhlt');
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(m.cpu.exit.kind).toBe(InterceptKind.NestedPageFault);
    expect(m.cpu.exit.errorCode).toBe(7);
    expect(m.cpu.exit.faultAddress).toBe(RO_GPA);
    expect(m.cpu.state.rip[0]).toBe(CODE + 5);
  });

  it("the guest's own tables are walked in guest-physical memory; their accesses are user writes", () => {
    // Guest PD at gPA 0x601000, in the nested hole: the first fetch's PDE read faults.
    const { m } = nestedMachine('mov eax, [0x700010]\nmov [0x700020], eax\nhlt');
    const s = m.cpu.state;
    const pd = HOLE_GPA + 0x1000;
    s.cr[4] |= 0x10; // PSE
    s.cr[3] = pd;
    s.cr[0] |= 0x80010000; // PG, WP
    m.cpu.stateChanged();
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    const x = m.cpu.exit;
    expect(x.kind).toBe(InterceptKind.NestedPageFault);
    expect(x.faultAddress).toBe(pd + (CODE >>> 22) * 4);
    expect(x.errorCode).toBe(6); // not present, write, user: a guest table access
    expect(x.nestedFaultInWalk).toBe(true);
    // The PD mapped (hPA 0xa00000): two 4 MiB identity pages, linear 8 MiB+ not present.
    setNested(m, pd, 0xa00000, RW_USER);
    m.mem.write32(0xa00000, 0x87);
    m.mem.write32(0xa00004, 0x400087);
    m.mem.write32(REMAP_HPA + 0x10, 0x5eed);
    m.cpu.flushTlb();
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(m.mem.read32(REMAP_HPA + 0x20)).toBe(0x5eed);
    // The guest walk set its PDE's accessed and dirty bits through the nested translation.
    expect(m.mem.read32(0xa00004) & 0x60).toBe(0x60);
  });

  it('a guest page table on a read-only nested page faults even for a read (W set, in the walk)', () => {
    const { m } = nestedMachine('hlt');
    const s = m.cpu.state;
    s.cr[4] |= 0x10;
    s.cr[3] = RO_GPA;
    s.cr[0] |= 0x80000000;
    m.mem.write32(RO_GPA, 0x87);
    m.cpu.stateChanged();
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(m.cpu.exit.errorCode).toBe(7);
    expect(m.cpu.exit.nestedFaultInWalk).toBe(true);
  });

  it("the guest's own #PF is delivered in the guest, with no nested fault", () => {
    const exc: number[] = [];
    const { m } = nestedMachine('mov eax, [0x800000]\nhlt', {
      exceptionMask: 1 << 14,
      exception(v: number) {
        exc.push(v);
        return true;
      },
    });
    const s = m.cpu.state;
    m.mem.write32(0xa00000, 0x87);
    setNested(m, HOLE_GPA + 0x1000, 0xa00000, RW_USER);
    s.cr[4] |= 0x10;
    s.cr[3] = HOLE_GPA + 0x1000;
    s.cr[0] |= 0x80000000;
    m.cpu.stateChanged();
    expect(m.cpu.run(100)).toBe(StopReason.Exception);
    expect(exc).toEqual([14]);
    expect(m.cpu.exit.faultAddress).toBe(0x800000);
  });
});

describe('the nested TLB', () => {
  it("keeps gPA → hPA translations across the guest's own flushes until the hypervisor flushes", () => {
    const { m, n } = nestedMachine('mov eax, [0x700010]\nhlt');
    const leaf = NPT + ((REMAP_GPA >>> 12) & 511) * 8;
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    // Clear the nested leaf's accessed bit: a nested walk would set it again.
    m.mem.write32(leaf, m.mem.read32(leaf) & ~0x20);
    const again = () => {
      m.cpu.state.rip[0] = CODE;
      m.cpu.state.halted = false;
      const misses = m.cpu.stats.tlbMisses;
      m.cpu.flushTlb(); // the guest's flush (MOV CR3): the combined TLB only
      expect(m.cpu.run(100)).toBe(StopReason.Hlt);
      expect(m.cpu.stats.tlbMisses).toBeGreaterThan(misses);
      return m.mem.read32(leaf) & 0x20;
    };
    expect(again()).toBe(0);
    n.flush(); // the hypervisor's
    expect(again()).toBe(0x20);
  });

  it('keeps frames 4 MiB apart at once (a guest table and its data do not evict each other)', () => {
    // gfns 0x300 and 0x700 are 1,024 frames apart: one entry of a 1,024-entry nested TLB.
    const { m } = nestedMachine('mov eax, [0x700010]\nmov ebx, [0x300010]\nhlt');
    const leaf700 = NPT + ((REMAP_GPA >>> 12) & 511) * 8;
    const leaf300 = NPD + 1 * 8; // the 2 MiB nested page over gPA 0x200000-0x3fffff
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    m.mem.write32(leaf700, m.mem.read32(leaf700) & ~0x20);
    m.mem.write32(leaf300, m.mem.read32(leaf300) & ~0x20);
    m.cpu.state.rip[0] = CODE;
    m.cpu.state.halted = false;
    m.cpu.flushTlb(); // the guest's flush: the nested translations stay
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    // Neither nested leaf walked again (a walk sets its accessed bit).
    expect(m.mem.read32(leaf700) & 0x20).toBe(0);
    expect(m.mem.read32(leaf300) & 0x20).toBe(0);
  });
});
