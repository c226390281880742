/**
 * The MCFG table (PCI Firmware 3.0 4.1.2) for bus 0's MMCONFIG window, found through the XSDT
 * and RSDT when the machine has PCI, absent otherwise; and the window reserved in the e820 map.
 */
import { describe, expect, it } from 'vitest';
import { byteSum } from '../../src/acpi/checksum.js';
import { MCFG_TABLE_SIZE } from '../../src/acpi/mcfg.js';
import { PCIE_MMCONFIG_BASE, PCIE_MMCONFIG_SIZE } from '../../src/devices/pci/pci-bus.js';
import { E820_TYPE } from '../../src/loaders/types.js';
import { buildE820 } from '../../src/machine/memory-map.js';
import { pcTables } from './pc-tables.js';

const tables = (mcfg: boolean) =>
  pcTables({ pci: true, mcfg: mcfg ? { baseGpa: PCIE_MMCONFIG_BASE, startBus: 0, endBus: 0 } : undefined });

function signatures(ram: Uint8Array, view: DataView, sdt: number, width: 4 | 8): string[] {
  const n = (view.getUint32(sdt + 4, true) - 36) / width;
  return Array.from({ length: n }, (_, i) => {
    const at = view.getUint32(sdt + 36 + width * i, true);
    return String.fromCharCode(...ram.subarray(at, at + 4));
  });
}

describe('ACPI MCFG table', () => {
  it('names bus 0’s ECAM window in segment 0, checksummed, listed by the RSDT and the XSDT', () => {
    const { ram, view, layout } = tables(true);
    const at = layout.mcfg!;
    expect(String.fromCharCode(...ram.subarray(at, at + 4))).toBe('MCFG');
    expect(view.getUint32(at + 4, true)).toBe(MCFG_TABLE_SIZE);
    expect(MCFG_TABLE_SIZE).toBe(60);
    expect(ram[at + 8]).toBe(1);
    expect(byteSum(ram, at, at + MCFG_TABLE_SIZE)).toBe(0);
    expect(view.getBigUint64(at + 44, true)).toBe(BigInt(PCIE_MMCONFIG_BASE));
    expect(view.getUint16(at + 52, true)).toBe(0);
    expect([ram[at + 54], ram[at + 55]]).toEqual([0, 0]);
    expect(signatures(ram, view, layout.xsdt, 8)).toContain('MCFG');
    expect(signatures(ram, view, layout.rsdt, 4)).toContain('MCFG');
  });

  it('is absent without a window', () => {
    const { ram, view, layout } = tables(false);
    expect(layout.mcfg).toBeUndefined();
    expect(signatures(ram, view, layout.xsdt, 8)).not.toContain('MCFG');
  });

  it('has its window reserved in the e820 map, above RAM and clear of the BAR window', () => {
    const e820 = buildE820(256 * 1024 * 1024, [
      { addr: PCIE_MMCONFIG_BASE, size: PCIE_MMCONFIG_SIZE, type: E820_TYPE.RESERVED },
    ]);
    expect(e820.at(-1)).toEqual({
      addr: PCIE_MMCONFIG_BASE,
      size: PCIE_MMCONFIG_SIZE,
      type: E820_TYPE.RESERVED,
    });
    expect(buildE820(256 * 1024 * 1024)).toHaveLength(3);
  });
});
