/**
 * The PCIe MMCONFIG (ECAM) window of bus 0 (PCIe Base 4.0 7.2.2): the same configuration
 * space as mechanism #1, addressed by devfn << 12 | register; the extended space of our
 * conventional functions and absent functions read all ones and ignore writes.
 */
import { describe, expect, it } from 'vitest';
import { i440fxHostBridge, piix3IsaBridge } from '../../../src/devices/pci/host-bridge.js';
import {
  PCI_CONFIG_ADDRESS,
  PCI_CONFIG_DATA,
  PCI_MMIO_WINDOW_END,
  PCIE_MMCONFIG_BASE,
  PCIE_MMCONFIG_SIZE,
  PciBus,
} from '../../../src/devices/pci/pci-bus.js';
import { PCI_INTERRUPT_LINE } from '../../../src/devices/pci/pci-device.js';

function bus() {
  const pci = new PciBus({ setIrq: () => {} });
  pci.plug(0, i440fxHostBridge());
  pci.plug(1 << 3, piix3IsaBridge());
  const read = (devfn: number, reg: number, size: number) => {
    const data = new Uint8Array(size);
    expect(pci.mmioRead(PCIE_MMCONFIG_BASE + (devfn << 12) + reg, data)).toBe(true);
    return data.reduceRight((v, b) => v * 256 + b, 0);
  };
  const write = (devfn: number, reg: number, size: number, value: number) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = Math.floor(value / 256 ** i) & 0xff;
    expect(pci.mmioWrite(PCIE_MMCONFIG_BASE + (devfn << 12) + reg, data)).toBe(true);
  };
  const cf8 = (devfn: number, reg: number) => {
    pci.ioOut(PCI_CONFIG_ADDRESS, 4, (0x80000000 | (devfn << 8) | reg) >>> 0);
    return pci.ioIn(PCI_CONFIG_DATA, 4);
  };
  return { pci, read, write, cf8 };
}

describe('PCIe MMCONFIG window', () => {
  it('lies between the BAR window and the I/O APIC, 1 MiB for bus 0', () => {
    expect(PCIE_MMCONFIG_BASE).toBe(PCI_MMIO_WINDOW_END);
    expect(PCIE_MMCONFIG_BASE + PCIE_MMCONFIG_SIZE).toBeLessThanOrEqual(0xfec00000);
  });

  it('reads the IDs mechanism #1 reads, at any width, and a qword as two dwords', () => {
    const b = bus();
    expect(b.read(0, 0, 4)).toBe(b.cf8(0, 0));
    expect(b.read(1 << 3, 0, 4)).toBe(0x70008086);
    expect(b.read(1 << 3, 2, 2)).toBe(0x7000);
    expect(b.read(1 << 3, 1, 1)).toBe(0x80);
    expect(b.read(0, 0, 8)).toBe(b.cf8(0, 0) + b.cf8(0, 4) * 2 ** 32);
  });

  it('writes what mechanism #1 then reads back', () => {
    const b = bus();
    b.write(1 << 3, PCI_INTERRUPT_LINE, 1, 0x0b);
    expect(b.cf8(1 << 3, PCI_INTERRUPT_LINE & ~3) & 0xff).toBe(0x0b);
  });

  it('reads all ones from the extended space and from absent functions, and drops writes there', () => {
    const b = bus();
    expect(b.read(0, 0x100, 4)).toBe(0xffffffff);
    expect(b.read(0, 0xffc, 4)).toBe(0xffffffff);
    expect(b.read(5 << 3, 0, 4)).toBe(0xffffffff);
    b.write(5 << 3, 0x3c, 1, 9);
    b.write(0, 0x13c, 1, 9);
    expect(b.read(0, 0x13c, 4)).toBe(0xffffffff);
    // A window address outside bus 0's MiB is no longer the bus's.
    expect(b.pci.mmioRead(PCIE_MMCONFIG_BASE + PCIE_MMCONFIG_SIZE, new Uint8Array(4))).toBe(false);
  });
});
