/**
 * Nested paging in Intel's EPT format (`NestedPaging.format = NestedFormat.Ept`, SDM Vol. 3C
 * 29.3): R/W/X rights with no U/S, execute-only pages, 2 MiB pages by bit 7, the accessed/dirty
 * flags only when enabled, and the two failures kept apart — an EPT violation (a not-present
 * entry or missing rights, with the rights of the entries used) and an EPT misconfiguration.
 */
import { describe, expect, it } from 'vitest';
import {
  EPT_ACCESSED,
  EPT_DIRTY,
  EptWalkResult,
  EptWalkStatus,
  InterceptKind,
  NestedFormat,
  NestedPaging,
  StopReason,
  walkEpt,
} from '../src/index.js';
import type { Machine } from './machine.js';
import { CODE, protectedMode } from './pm.js';

/** EPT paging structures (host-physical): PML4, PDPT, PD, and one PT for gPA 6–8 MiB. */
const EPML4 = 0xc00000;
const EPDPT = 0xc01000;
const EPD = 0xc02000;
const EPT = 0xc03000;
const RWX = 7;
/** Leaf memory type write-back (bits 5:3 = 6). */
const WB = 6 << 3;
const REMAP_GPA = 0x700000;
const REMAP_HPA = 0x900000;
const HOLE_GPA = 0x600000;
const RO_GPA = 0x680000;
const XO_GPA = 0x690000;

function setEpt(m: Machine, gpa: number, hpa: number, flags: number): void {
  m.mem.write32(EPT + ((gpa >>> 12) & 511) * 8, (hpa | flags) >>> 0);
}
function eptLeaf(m: Machine, gpa: number): number {
  return m.mem.read32(EPT + ((gpa >>> 12) & 511) * 8);
}

/** gPA = hPA below 6 MiB (three 2 MiB pages), a PT for 6–8 MiB with a hole, a remap, R-only and X-only pages. */
function eptMachine(source: string, ad = false): { m: Machine; n: NestedPaging } {
  const m = protectedMode(source);
  const mem = m.mem;
  mem.write32(EPML4, EPDPT | RWX);
  mem.write32(EPDPT, EPD | RWX);
  for (let i = 0; i < 3; i++) mem.write32(EPD + i * 8, (i * 0x200000) | RWX | WB | 0x80);
  mem.write32(EPD + 3 * 8, EPT | RWX);
  for (let i = 0; i < 512; i++) setEpt(m, 0x600000 + i * 4096, 0x600000 + i * 4096, RWX | WB);
  setEpt(m, HOLE_GPA, 0, 0);
  setEpt(m, HOLE_GPA + 0x1000, 0, 0);
  setEpt(m, REMAP_GPA, REMAP_HPA, RWX | WB);
  setEpt(m, RO_GPA, RO_GPA, 1 | WB);
  setEpt(m, XO_GPA, XO_GPA, 4 | WB);
  const n = new NestedPaging(mem);
  n.format = NestedFormat.Ept;
  n.eptAd = ad;
  n.root = EPML4;
  m.cpu.nested = n;
  m.cpu.stateChanged();
  return { m, n };
}

describe('nested paging in the EPT format', () => {
  it('translates through EPT entries (no U/S bit needed); no A/D bits without EPTP bit 6', () => {
    const { m } = eptMachine('mov eax, [0x700010]\nmov [0x700020], eax\nhlt');
    m.mem.write32(REMAP_HPA + 0x10, 0xcafef00d);
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(m.mem.read32(REMAP_HPA + 0x20)).toBe(0xcafef00d);
    expect(m.mem.read32(REMAP_GPA + 0x20)).toBe(0);
    expect(eptLeaf(m, REMAP_GPA) & (EPT_ACCESSED | EPT_DIRTY)).toBe(0);
  });

  it('with the A/D flags enabled, a read sets A and a write sets D on the leaf', () => {
    const { m } = eptMachine('mov eax, [0x700010]\nhlt\nmov [0x700020], eax\nhlt', true);
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(eptLeaf(m, REMAP_GPA) & (EPT_ACCESSED | EPT_DIRTY)).toBe(EPT_ACCESSED);
    expect(m.mem.read32(EPML4) & EPT_ACCESSED).toBe(EPT_ACCESSED);
    m.cpu.state.halted = false;
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(eptLeaf(m, REMAP_GPA) & EPT_DIRTY).toBe(EPT_DIRTY);
  });

  it('a not-present entry is an EPT violation: the access, rights 0, the gPA and linear address', () => {
    const { m } = eptMachine('nop\nmov eax, [0x600008]\nhlt');
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    const x = m.cpu.exit;
    expect(x.kind).toBe(InterceptKind.NestedPageFault);
    expect(x.nestedFaultMisconfig).toBe(false);
    expect(x.faultAddress).toBe(0x600008);
    expect(x.errorCode).toBe(0); // a data read
    expect(x.nestedFaultRights).toBe(0);
    expect(x.nestedFaultInWalk).toBe(false);
    expect(x.nestedFaultLinearValid).toBe(true);
    expect(x.linearAddress).toBe(0x600008);
    expect(m.cpu.state.rip[0]).toBe(CODE + 1);
    setEpt(m, HOLE_GPA, 0x900000, RWX | WB);
    m.mem.write32(0x900008, 42);
    m.cpu.flushTlb();
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(m.cpu.state.gpr[0]).toBe(42);
  });

  it('a write to a read-only page is a violation with the entries’ rights (R); the read is not', () => {
    const { m } = eptMachine('mov eax, [0x680000]\nmov [0x680000], eax\nhlt');
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    const x = m.cpu.exit;
    expect(x.errorCode).toBe(2);
    expect(x.nestedFaultRights).toBe(1);
    expect(x.faultAddress).toBe(RO_GPA);
    expect(m.cpu.state.rip[0]).toBe(CODE + 5);
  });

  it('an execute-only page cannot be read (rights X), with the capability; without it, a misconfiguration', () => {
    const { m, n } = eptMachine('mov eax, [0x690000]\nhlt');
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(m.cpu.exit.nestedFaultMisconfig).toBe(false);
    expect(m.cpu.exit.nestedFaultRights).toBe(4);
    expect(m.cpu.exit.errorCode).toBe(0);
    n.eptExecOnly = false;
    n.flush();
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(m.cpu.exit.nestedFaultMisconfig).toBe(true);
  });

  it('W without R, a reserved bit and a bad leaf memory type are misconfigurations, not violations', () => {
    for (const [where, bad] of [
      [EPT + ((0x6a0000 >>> 12) & 511) * 8, 0x6a0000 | 2 | WB], // W without R
      [EPT + ((0x6a0000 >>> 12) & 511) * 8, 0x6a0000 | RWX | (2 << 3)], // memory type 2
      [EPD + 3 * 8, EPT | RWX | 0x08], // a PDE pointing at a table with bit 3 set (reserved)
    ] as const) {
      const { m } = eptMachine('mov eax, [0x6a0000]\nhlt');
      m.mem.write32(where, bad);
      expect(m.cpu.run(100)).toBe(StopReason.Intercept);
      expect(m.cpu.exit.kind).toBe(InterceptKind.NestedPageFault);
      expect(m.cpu.exit.nestedFaultMisconfig).toBe(true);
      expect(m.cpu.exit.faultAddress).toBe(0x6a0000);
    }
  });

  it("the guest's table accesses are reads (a read-only EPT page can hold a guest PD without A bits to set)", () => {
    const { m } = eptMachine('mov eax, [0x700010]\nhlt');
    const s = m.cpu.state;
    // The guest PD on the read-only page, with A already set: the walk only reads it.
    m.mem.write32(RO_GPA, 0x87 | 0x20);
    m.mem.write32(RO_GPA + 4, 0x400087 | 0x20);
    m.mem.write32(RO_GPA + 8, 0x800087 | 0x20);
    m.mem.write32(REMAP_HPA + 0x10, 0x5eed);
    s.cr[4] |= 0x10;
    s.cr[3] = RO_GPA;
    s.cr[0] |= 0x80000000;
    m.cpu.stateChanged();
    expect(m.cpu.run(100)).toBe(StopReason.Hlt);
    expect(s.gpr[0]).toBe(0x5eed);
  });

  it("the guest walk's accessed-bit write to a read-only EPT page is a write violation in the walk", () => {
    const { m } = eptMachine('hlt');
    const s = m.cpu.state;
    m.mem.write32(RO_GPA, 0x87);
    s.cr[4] |= 0x10;
    s.cr[3] = RO_GPA;
    s.cr[0] |= 0x80000000;
    m.cpu.stateChanged();
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(m.cpu.exit.errorCode).toBe(2);
    expect(m.cpu.exit.nestedFaultInWalk).toBe(true);
    expect(m.cpu.exit.faultAddress).toBe(RO_GPA);
  });

  it('MOV CR3 under PAE paging loads the PDPTEs through EPT: reserved bits are #GP(0), a hole an EPT violation', () => {
    // PAE guest: PDPT at gPA 0x601000 → hPA 0x901000 (remapped), one PD with a 2 MiB identity page.
    const code = ['mov eax, 0x602000', 'mov cr3, eax', 'hlt'].join('\n');
    const exc: number[] = [];
    const { m, n } = eptMachine(code);
    m.cpu.setIntercepts({
      mask: 0,
      exceptionMask: 1 << 13,
      exception(v: number) {
        exc.push(v);
        return true;
      },
    });
    setEpt(m, 0x601000, 0x901000, RWX | WB);
    setEpt(m, 0x602000, 0x902000, RWX | WB);
    m.mem.write32(0x901000, 0x603001); // PDPTE 0 → PD at gPA 0x603000 (= hPA)
    m.mem.write32(0x603000, 0x87); // 2 MiB identity at 0
    m.mem.write32(0x902000, 0x603001 | 0x4); // reserved bit 2 in the new PDPT's entry 0
    const s = m.cpu.state;
    s.cr[4] |= 0x20; // PAE
    s.cr[3] = 0x601000;
    s.cr[0] |= 0x80000000;
    m.cpu.stateChanged();
    // At "VM entry" the silicon loads the PDPTE registers (here: by hand, from the PDPT's host page).
    m.cpu.pdptes[0] = 0x603001;
    expect(m.cpu.run(100)).toBe(StopReason.Exception);
    expect(exc).toEqual([13]);
    expect(s.cr[3]).toBe(0x601000);
    // A PDPT in an EPT hole: an EPT violation with no linear address, RIP at the MOV.
    setEpt(m, 0x602000, 0, 0);
    n.flush();
    m.cpu.state.rip[0] = CODE + 5;
    expect(m.cpu.run(100)).toBe(StopReason.Intercept);
    expect(m.cpu.exit.kind).toBe(InterceptKind.NestedPageFault);
    expect(m.cpu.exit.nestedFaultLinearValid).toBe(false);
    expect(m.cpu.exit.faultAddress).toBe(0x602000);
    expect(m.cpu.state.rip[0]).toBe(CODE + 5);
  });
});

describe('walkEpt', () => {
  it('maps 2 MiB pages by bit 7 of a PDE and reports the page size', () => {
    const { m } = eptMachine('hlt');
    const w = new EptWalkResult();
    expect(walkEpt(m.mem, EPML4, 0x234567, 0, false, true, w)).toBe(EptWalkStatus.Ok);
    expect(w.pageSize).toBe(0x200000);
    expect(w.pa).toBe(0x234567);
    expect(w.rights).toBe(7);
    // Bit 7 in a PML4E is reserved: a misconfiguration.
    m.mem.write32(EPML4, EPDPT | RWX | 0x80);
    expect(walkEpt(m.mem, EPML4, 0x234567, 0, false, true, w)).toBe(EptWalkStatus.Misconfig);
  });
});
