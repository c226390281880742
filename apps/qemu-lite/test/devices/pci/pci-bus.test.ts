import { describe, expect, it } from 'vitest';
import { i440fxHostBridge, piix3IsaBridge } from '../../../src/devices/pci/host-bridge.js';
import { PCI_MMIO_WINDOW_START, PciBus } from '../../../src/devices/pci/pci-bus.js';
import { PciDevice } from '../../../src/devices/pci/pci-device.js';
import type { IrqSink } from '../../../src/devices/types.js';

class Lines implements IrqSink {
  readonly level = new Array(16).fill(0);
  setIrq(irq: number, level: number): void {
    this.level[irq] = level;
  }
}

/** A function with an I/O BAR 0 of 32 ports and a 4 KiB memory BAR 1 that echo their offset. */
function testDevice(log: string[] = []): PciDevice {
  const device = new PciDevice('test', {
    vendorId: 0x1234,
    deviceId: 0x5678,
    revision: 3,
    classCode: 0xff0000,
    interruptPin: 1,
  });
  device.registerBar(0, {
    size: 32,
    io: true,
    ops: { read: (o) => 0xa0 + o, write: (o, s, v) => log.push(`io ${o}/${s}=${v.toString(16)}`) },
  });
  device.registerBar(1, {
    size: 4096,
    io: false,
    ops: { read: (o) => 0x1000 + o, write: (o, s, v) => log.push(`mem ${o}/${s}=${v.toString(16)}`) },
  });
  return device;
}

function cfgAddr(devfn: number, reg: number): number {
  return (0x80000000 | (devfn << 8) | reg) >>> 0;
}

function pcBus(lines = new Lines()): PciBus {
  const bus = new PciBus(lines);
  bus.plug(0, i440fxHostBridge());
  bus.plug(1 << 3, piix3IsaBridge());
  return bus;
}

describe('PCI configuration mechanism #1', () => {
  it('reads the i440FX host bridge and PIIX3 IDs as QEMU -M pc has them', () => {
    const bus = pcBus();
    bus.ioOut(0xcf8, 4, cfgAddr(0, 0));
    expect(bus.ioIn(0xcfc, 4)).toBe(0x12378086);
    bus.ioOut(0xcf8, 4, cfgAddr(0, 8));
    expect(bus.ioIn(0xcfc, 4)).toBe(0x06000002); // class 06/00/00, revision 2
    bus.ioOut(0xcf8, 4, cfgAddr(1 << 3, 0));
    expect(bus.ioIn(0xcfc, 4)).toBe(0x70008086);
    bus.ioOut(0xcf8, 4, cfgAddr(1 << 3, 0xc));
    expect(bus.ioIn(0xcfe, 1)).toBe(0x80); // header type: multi-function
  });

  it('serves byte and word accesses at every offset of CONFIG_DATA', () => {
    const bus = pcBus();
    bus.ioOut(0xcf8, 4, cfgAddr(0, 0));
    expect([0, 1, 2, 3].map((i) => bus.ioIn(0xcfc + i, 1))).toEqual([0x86, 0x80, 0x37, 0x12]);
    expect(bus.ioIn(0xcfc, 2)).toBe(0x8086);
    expect(bus.ioIn(0xcfe, 2)).toBe(0x1237);
    expect(bus.ioIn(0xcfd, 2)).toBe(0x3780);
  });

  it('reads all ones for an absent function, another bus or with the enable bit clear', () => {
    const bus = pcBus();
    bus.ioOut(0xcf8, 4, cfgAddr(5 << 3, 0));
    expect(bus.ioIn(0xcfc, 4)).toBe(0xffffffff);
    bus.ioOut(0xcf8, 4, (cfgAddr(0, 0) | (1 << 16)) >>> 0);
    expect(bus.ioIn(0xcfc, 4)).toBe(0xffffffff);
    bus.ioOut(0xcf8, 4, 0);
    expect(bus.ioIn(0xcfc, 2)).toBe(0xffff);
  });

  it('latches CONFIG_ADDRESS only from dword writes, with bits 1:0 reading 0', () => {
    const bus = pcBus();
    bus.ioOut(0xcf8, 4, 0x80000013);
    expect(bus.ioIn(0xcf8, 4)).toBe(0x80000010);
    bus.ioOut(0xcf8, 1, 0);
    expect(bus.ioIn(0xcf8, 4)).toBe(0x80000010);
  });

  it('keeps read-only registers read-only', () => {
    const bus = pcBus();
    bus.ioOut(0xcf8, 4, cfgAddr(0, 0));
    bus.ioOut(0xcfc, 4, 0);
    expect(bus.ioIn(0xcfc, 4)).toBe(0x12378086);
  });
});

describe('BARs', () => {
  it('sizes a BAR: all ones written, the size mask and type bits read back', () => {
    const bus = pcBus();
    bus.plug(3 << 3, testDevice());
    bus.ioOut(0xcf8, 4, cfgAddr(3 << 3, 0x10));
    bus.ioOut(0xcfc, 4, 0xffffffff);
    expect(bus.ioIn(0xcfc, 4)).toBe(0xffffffe1); // 32 ports, I/O space
    bus.ioOut(0xcf8, 4, cfgAddr(3 << 3, 0x14));
    bus.ioOut(0xcfc, 4, 0xffffffff);
    expect(bus.ioIn(0xcfc, 4)).toBe(0xfffff000); // 4 KiB, 32-bit memory
    bus.ioOut(0xcf8, 4, cfgAddr(3 << 3, 0x18));
    bus.ioOut(0xcfc, 4, 0xffffffff);
    expect(bus.ioIn(0xcfc, 4)).toBe(0); // no BAR 2
  });

  it('places BARs in the I/O and MMIO windows, enables decoding and sets the IRQ line', () => {
    const bus = pcBus();
    const device = testDevice();
    bus.plug(3 << 3, device);
    bus.assignResources();
    expect(device.barAddress(0)).toBe(0xc000);
    expect(device.barAddress(1)).toBe(PCI_MMIO_WINDOW_START);
    expect(device.get16(0x04) & 7).toBe(7);
    // Slot 3, INTA#: PIRQ (3 + 0) & 3 = D → IRQ 11 (SeaBIOS's 10, 10, 11, 11).
    expect(device.config[0x3c]).toBe(11);
  });

  it('dispatches port and memory accesses to the BAR that decodes them, and none once disabled', () => {
    const log: string[] = [];
    const bus = pcBus();
    const device = testDevice(log);
    bus.plug(3 << 3, device);
    bus.assignResources();
    expect(bus.barIoIn(0xc004, 1)).toBe(0xa4);
    bus.barIoOut(0xc01f, 1, 0x5a);
    const data = new Uint8Array(4);
    expect(bus.mmioRead(PCI_MMIO_WINDOW_START + 0x10, data)).toBe(true);
    expect(Array.from(data)).toEqual([0x10, 0x10, 0, 0]);
    expect(bus.mmioWrite(PCI_MMIO_WINDOW_START + 8, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(true);
    expect(log).toEqual(['io 31/1=5a', 'mem 8/4=4030201', 'mem 12/4=8070605']);
    // Memory decoding off: the window floats again.
    device.configWrite(0x04, 2, 1);
    expect(bus.mmioRead(PCI_MMIO_WINDOW_START, data)).toBe(false);
    expect(bus.barIoIn(0xc000, 1)).toBe(0xa0);
    expect(bus.barIoIn(0xd000, 1)).toBeUndefined();
  });

  it('refuses a BAR size that is not a power of two', () => {
    const device = testDevice();
    expect(() =>
      device.registerBar(2, { size: 24, io: true, ops: { read: () => 0, write: () => {} } }),
    ).toThrow(/power of two/);
  });
});

describe('INTx', () => {
  it('routes INTA# through the PIIX PIRQs, shares a line and honours INTx disable', () => {
    const lines = new Lines();
    const bus = pcBus(lines);
    const a = testDevice();
    const b = testDevice();
    bus.plug(2 << 3, a); // PIRQC → 11
    bus.plug(3 << 3, b); // PIRQD → 11
    a.setIntx(1);
    expect(lines.level[11]).toBe(1);
    expect(a.get16(0x06) & 0x8).toBe(0x8); // interrupt status
    b.setIntx(1);
    a.setIntx(0);
    expect(lines.level[11]).toBe(1); // b still holds it
    b.setIntx(0);
    expect(lines.level[11]).toBe(0);
    a.setIntx(1);
    a.configWrite(0x04, 2, 0x400); // INTx disable
    expect(lines.level[11]).toBe(0);
    expect(a.get16(0x06) & 0x8).toBe(0x8);
    a.configWrite(0x04, 2, 0);
    expect(lines.level[11]).toBe(1);
  });

  it('lowers the line and clears BARs on a system reset, then places them again', () => {
    const lines = new Lines();
    const bus = pcBus(lines);
    const device = testDevice();
    bus.plug(4 << 3, device); // PIRQA → 10
    bus.assignResources();
    device.setIntx(1);
    expect(lines.level[10]).toBe(1);
    device.configWrite(0x14, 4, 0xfff00000);
    bus.reset();
    expect(lines.level[10]).toBe(0);
    expect(device.barAddress(1)).toBe(PCI_MMIO_WINDOW_START);
  });
});
