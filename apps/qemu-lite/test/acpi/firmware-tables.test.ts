/**
 * The tables qemu-lite writes for a -kernel boot, read back from guest RAM the way an OS does:
 * the RSDP found by Linux's scan, every checksum, every field at its ACPI 6.4 offset.
 */
import { describe, expect, it } from 'vitest';
import { byteSum } from '../../src/acpi/checksum.js';
import { amlPkgLength } from '../../src/acpi/dsdt.js';
import { FADT, FADT_F_RESET_REG_SUP, FADT_F_TMR_VAL_EXT } from '../../src/acpi/fadt.js';
import { pcTables } from './pc-tables.js';

function tables(cpus = 1, pmTimerBits: 24 | 32 = 32, apic = true) {
  const { ram, view, layout } = pcTables({ cpus, apic, cpuFeatures: 0x1234, pm: { pmTimerBits } });
  const { madt = -1, mpFloating = -1, mpConfig = -1 } = layout;
  return { ram, view, layout: { ...layout, madt, mpFloating, mpConfig } };
}

const ascii = (ram: Uint8Array, at: number, n: number): string =>
  String.fromCharCode(...ram.subarray(at, at + n));

/**
 * Linux's `acpi_find_root_pointer` (drivers/acpi/acpica/tbxfroot.c): the EBDA's first KiB
 * (segment at 0x40e), then 0xE0000–0xFFFFF, on 16-byte boundaries, "RSD PTR " with a valid
 * 20-byte checksum (and, for revision ≥ 2, the 36-byte extended one).
 */
function findRsdp(ram: Uint8Array): number | undefined {
  const view = new DataView(ram.buffer);
  const ebda = view.getUint16(0x40e, true) << 4;
  const ranges: [number, number][] = [[0xe0000, 0x100000]];
  if (ebda > 0x400) ranges.unshift([ebda, ebda + 1024]);
  for (const [start, end] of ranges) {
    for (let at = start; at < end; at += 16) {
      if (ascii(ram, at, 8) !== 'RSD PTR ') continue;
      if (byteSum(ram, at, at + 20) !== 0) continue;
      if (ram[at + 15] >= 2 && byteSum(ram, at, at + view.getUint32(at + 20, true)) !== 0) continue;
      return at;
    }
  }
  return undefined;
}

function sdtAt(ram: Uint8Array, gpa: number) {
  const view = new DataView(ram.buffer);
  const length = view.getUint32(gpa + 4, true);
  return {
    signature: ascii(ram, gpa, 4),
    length,
    revision: ram[gpa + 8],
    sum: byteSum(ram, gpa, gpa + length),
  };
}

describe('the RSDP', () => {
  it('is found by the scan Linux does, in the BIOS area, and points at the RSDT and XSDT', () => {
    const { ram, view, layout } = tables();
    const rsdp = findRsdp(ram);
    expect(rsdp).toBe(layout.rsdp);
    // At or above 0xF0000: older kvm-unit-tests scan only 0xF0000–0xFFFFF (lib/x86/acpi.c).
    expect(rsdp).toBeGreaterThanOrEqual(0xf0000);
    expect((rsdp as number) % 16).toBe(0);
    const at = rsdp as number;
    expect(ram[at + 15]).toBe(2);
    expect(view.getUint32(at + 16, true)).toBe(layout.rsdt);
    expect(view.getUint32(at + 20, true)).toBe(36);
    expect(view.getUint32(at + 24, true)).toBe(layout.xsdt);
    expect(view.getUint32(at + 28, true)).toBe(0);
  });

  it('is not found when a byte of it is corrupted (the checksums are real)', () => {
    const { ram, layout } = tables();
    ram[layout.rsdp + 17] ^= 1;
    expect(findRsdp(ram)).toBeUndefined();
    const again = tables();
    again.ram[again.layout.rsdp + 30] ^= 1; // in the extended part only
    expect(findRsdp(again.ram)).toBeUndefined();
  });
});

describe('the tables', () => {
  it('every table has its signature, length and a zero byte sum', () => {
    const { ram, layout } = tables(4);
    const expected: [number, string][] = [
      [layout.rsdt, 'RSDT'],
      [layout.xsdt, 'XSDT'],
      [layout.fadt, 'FACP'],
      [layout.madt, 'APIC'],
      [layout.dsdt, 'DSDT'],
    ];
    for (const [gpa, signature] of expected) {
      const t = sdtAt(ram, gpa);
      expect(t.signature).toBe(signature);
      expect(t.sum).toBe(0);
      expect(ascii(ram, gpa + 10, 6)).toBe('BOCHS ');
    }
    expect(ascii(ram, layout.facs, 4)).toBe('FACS');
    expect(layout.facs % 64).toBe(0);
    expect(new DataView(ram.buffer).getUint32(layout.facs + 4, true)).toBe(64);
  });

  it('the RSDT and XSDT list the FADT and the MADT', () => {
    const { view, layout } = tables();
    expect(view.getUint32(layout.rsdt + 4, true)).toBe(36 + 8);
    expect([view.getUint32(layout.rsdt + 36, true), view.getUint32(layout.rsdt + 40, true)]).toEqual([
      layout.fadt,
      layout.madt,
    ]);
    expect(view.getUint32(layout.xsdt + 4, true)).toBe(36 + 16);
    expect(view.getBigUint64(layout.xsdt + 36, true)).toBe(BigInt(layout.fadt));
    expect(view.getBigUint64(layout.xsdt + 44, true)).toBe(BigInt(layout.madt));
  });

  it('the FADT has every field at its ACPI 6.4 offset', () => {
    const { ram, view, layout } = tables();
    const f = layout.fadt;
    expect(view.getUint32(f + 4, true)).toBe(276);
    expect(ram[f + 8]).toBe(6);
    expect(view.getUint32(f + 36, true)).toBe(layout.facs);
    expect(view.getUint32(f + 40, true)).toBe(layout.dsdt);
    expect(view.getUint16(f + 46, true)).toBe(9); // SCI_INT
    expect(view.getUint32(f + 48, true)).toBe(0); // SMI_CMD: always in ACPI mode
    expect(view.getUint32(f + 56, true)).toBe(0x600); // PM1a_EVT_BLK
    expect(view.getUint32(f + 64, true)).toBe(0x604); // PM1a_CNT_BLK
    expect(view.getUint32(f + 76, true)).toBe(0x608); // PM_TMR_BLK
    expect([ram[f + 88], ram[f + 89], ram[f + 91]]).toEqual([4, 2, 4]); // PM1_EVT/CNT, PM_TMR lengths
    expect(ram[f + 108]).toBe(0x32); // CENTURY
    expect(view.getUint16(f + 109, true)).toBe(3); // IAPC_BOOT_ARCH: legacy devices, 8042
    const flags = view.getUint32(f + 112, true);
    expect(flags & FADT_F_RESET_REG_SUP).not.toBe(0);
    expect(flags & FADT_F_TMR_VAL_EXT).not.toBe(0);
    // RESET_REG: System I/O, 8 bits at bit 0, byte access, port 0xcf9; RESET_VALUE 6.
    expect([...ram.subarray(f + 116, f + 120)]).toEqual([1, 8, 0, 1]);
    expect(view.getBigUint64(f + 120, true)).toBe(0xcf9n);
    expect(ram[f + 128]).toBe(6);
    expect(ram[f + 131]).toBe(4); // FADT minor version
    expect(view.getBigUint64(f + 132, true)).toBe(0n); // X_FIRMWARE_CTRL: FIRMWARE_CTRL is set
    expect(view.getBigUint64(f + 140, true)).toBe(BigInt(layout.dsdt));
    // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK as System I/O GAS.
    expect([ram[f + 148], ram[f + 149], view.getUint32(f + 152, true)]).toEqual([1, 32, 0x600]);
    expect([ram[f + 172], ram[f + 173], view.getUint32(f + 176, true)]).toEqual([1, 16, 0x604]);
    expect([ram[f + 208], ram[f + 209], view.getUint32(f + 212, true)]).toEqual([1, 32, 0x608]);
    expect(FADT.X_PM_TMR_BLK).toBe(208);
  });

  it('a machine without APICs gets no MADT and no MP table (a PIC-only PC)', () => {
    const { ram, view, layout } = tables(1, 32, false);
    expect(layout.madt).toBe(-1);
    expect(view.getUint32(layout.rsdt + 4, true)).toBe(36 + 4);
    expect(view.getUint32(layout.rsdt + 36, true)).toBe(layout.fadt);
    expect(view.getUint32(layout.xsdt + 4, true)).toBe(36 + 8);
    expect(sdtAt(ram, layout.rsdt).sum).toBe(0);
    for (let at = 0xe0000; at < 0x100000; at += 16) {
      expect(ascii(ram, at, 4)).not.toBe('APIC');
      expect(ascii(ram, at, 4)).not.toBe('_MP_');
    }
  });

  it('a 24-bit PM timer clears TMR_VAL_EXT', () => {
    const { view, layout } = tables(1, 24);
    expect(view.getUint32(layout.fadt + 112, true) & FADT_F_TMR_VAL_EXT).toBe(0);
  });

  it('the MADT lists a local APIC per vCPU, the IOAPIC after them, the overrides and LINT1 NMI', () => {
    const { ram, view, layout } = tables(3);
    const m = layout.madt;
    expect(view.getUint32(m + 36, true)).toBe(0xfee00000);
    expect(view.getUint32(m + 40, true)).toBe(1); // PCAT_COMPAT
    const end = m + view.getUint32(m + 4, true);
    const entries: number[][] = [];
    for (let at = m + 44; at < end; at += ram[at + 1]) entries.push([...ram.subarray(at, at + ram[at + 1])]);
    expect(entries).toEqual([
      [0, 8, 0, 0, 1, 0, 0, 0],
      [0, 8, 1, 1, 1, 0, 0, 0],
      [0, 8, 2, 2, 1, 0, 0, 0],
      [1, 12, 3, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0],
      [2, 10, 0, 0, 2, 0, 0, 0, 0, 0],
      [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0],
      [4, 6, 0xff, 0, 0, 1],
    ]);
  });

  it('the DSDT is the AML of Name (_S5, Package (4) { 0, 0, 0, 0 })', () => {
    const { ram, view, layout } = tables();
    const d = layout.dsdt;
    expect(ram[d + 8]).toBe(2);
    const aml = [...ram.subarray(d + 36, d + view.getUint32(d + 4, true))];
    expect(aml).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0, 0, 0, 0]);
  });

  it('AML PkgLength uses one byte up to 63 and a two-byte form above', () => {
    expect(amlPkgLength(5)).toEqual([6]);
    expect(amlPkgLength(62)).toEqual([63]);
    // 100 bytes of content + 2 length bytes = 102 = 0x66: lead 0x40 | 6, then 0x6.
    expect(amlPkgLength(100)).toEqual([0x46, 0x06]);
  });
});

describe('the MP table', () => {
  it('has a floating pointer in 0xF0000–0xFFFFF and a configuration table, both checksummed', () => {
    const { ram, view, layout } = tables(2);
    const fp = layout.mpFloating;
    expect(fp % 16).toBe(0);
    expect(fp).toBeGreaterThanOrEqual(0xf0000);
    expect(ascii(ram, fp, 4)).toBe('_MP_');
    expect(byteSum(ram, fp, fp + 16)).toBe(0);
    expect(ram[fp + 8]).toBe(1);
    expect(ram[fp + 9]).toBe(4);
    expect(ram[fp + 11]).toBe(0); // feature byte 1: a configuration table follows
    const ct = view.getUint32(fp + 4, true);
    expect(ct).toBe(layout.mpConfig);
    expect(ascii(ram, ct, 4)).toBe('PCMP');
    const length = view.getUint16(ct + 4, true);
    expect(byteSum(ram, ct, ct + length)).toBe(0);
    expect(view.getUint32(ct + 36, true)).toBe(0xfee00000);
    const count = view.getUint16(ct + 34, true);
    const seen: number[][] = [];
    let at = ct + 44;
    for (let i = 0; i < count; i++) {
      const size = ram[at] === 0 ? 20 : 8;
      seen.push([...ram.subarray(at, at + size)]);
      at += size;
    }
    expect(at).toBe(ct + length);
    // Two processors (the first the BP), then the bus and the IOAPIC (ID 2 after the vCPUs).
    expect(seen[0].slice(0, 4)).toEqual([0, 0, 0x14, 3]);
    expect(view.getUint32(ct + 44 + 4, true)).toBe(0x663);
    expect(seen[1].slice(0, 4)).toEqual([0, 1, 0x14, 1]);
    expect(ascii(ram, ct + 44 + 40 + 2, 6)).toBe('ISA   ');
    expect(seen[3]).toEqual([2, 2, 0x11, 1, 0, 0, 0xc0, 0xfe]);
    const intsrc = seen.filter((e) => e[0] === 3);
    expect(intsrc).toHaveLength(15);
    expect(intsrc[0]).toEqual([3, 0, 0, 0, 0, 0, 2, 2]); // IRQ 0 → pin 2
    expect(intsrc.find((e) => e[5] === 2)).toBeUndefined(); // no cascade entry
    expect(intsrc.find((e) => e[5] === 9)).toEqual([3, 0, 0x0d, 0, 0, 9, 2, 9]);
    expect(seen.filter((e) => e[0] === 4)).toEqual([
      [4, 3, 0, 0, 0, 0, 0xff, 0],
      [4, 1, 0, 0, 0, 0, 0xff, 1],
    ]);
  });
});
