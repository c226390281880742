/** The HPET table (IA-PC HPET 1.0a 3.2.4) as QEMU's build_hpet writes it, found through the XSDT. */
import { describe, expect, it } from 'vitest';
import { byteSum } from '../../src/acpi/checksum.js';
import { HPET_TABLE_SIZE } from '../../src/acpi/hpet.js';
import { HPET_BASE, HPET_ID_LOW } from '../../src/devices/hpet.js';
import { pcTables } from './pc-tables.js';

const tables = (hpet: boolean) =>
  pcTables({ hpet: hpet ? { eventTimerBlockId: HPET_ID_LOW, baseGpa: HPET_BASE } : undefined });

/** The signatures of the tables the XSDT points to. */
function xsdtSignatures(ram: Uint8Array, view: DataView, xsdt: number): string[] {
  const n = (view.getUint32(xsdt + 4, true) - 36) / 8;
  return Array.from({ length: n }, (_, i) => {
    const at = view.getUint32(xsdt + 36 + 8 * i, true);
    return String.fromCharCode(...ram.subarray(at, at + 4));
  });
}

describe('ACPI HPET table', () => {
  it('is listed by the RSDT and XSDT, checksums to 0, and describes the device at FED00000H', () => {
    const { ram, view, layout } = tables(true);
    const at = layout.hpet!;
    expect(xsdtSignatures(ram, view, layout.xsdt)).toEqual(['FACP', 'APIC', 'HPET']);
    expect(view.getUint32(layout.rsdt + 4, true)).toBe(36 + 3 * 4);
    expect(view.getUint32(layout.rsdt + 36 + 8, true)).toBe(at);
    expect(String.fromCharCode(...ram.subarray(at, at + 4))).toBe('HPET');
    expect(view.getUint32(at + 4, true)).toBe(56);
    expect(HPET_TABLE_SIZE).toBe(56);
    expect(ram[at + 8]).toBe(1);
    expect(byteSum(ram, at, at + 56)).toBe(0);
    // The device's GCAP_ID low half, QEMU's 0x8086a201; a system-memory GAS at 0xFED00000.
    expect(view.getUint32(at + 36, true)).toBe(0x8086a201);
    expect([ram[at + 40], ram[at + 41], ram[at + 42], ram[at + 43]]).toEqual([0, 0, 0, 0]);
    expect(view.getUint32(at + 44, true)).toBe(0xfed00000);
    expect(view.getUint32(at + 48, true)).toBe(0);
    expect([ram[at + 52], view.getUint16(at + 53, true), ram[at + 55]]).toEqual([0, 0, 0]);
  });

  it('is absent without an HPET (-machine hpet=off)', () => {
    const { ram, view, layout } = tables(false);
    expect(layout.hpet).toBeUndefined();
    expect(xsdtSignatures(ram, view, layout.xsdt)).toEqual(['FACP', 'APIC']);
  });
});
