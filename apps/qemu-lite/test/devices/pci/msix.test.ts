/**
 * MSI-X on a virtio-pci function (PCI 3.0 6.8.2, virtio 1.2 §4.1.4.3 and §4.1.5.1.2), driven the
 * way Linux's virtio_pci and its MSI-X code drive it: the capability and its BAR, vectors
 * assigned through msix_config / queue_msix_vector (a vector the table lacks reads back as
 * VIRTIO_MSI_NO_VECTOR), messages instead of INTx#, and a masked vector's pending bit firing when
 * it is unmasked, per vector and through the function mask.
 */
import { describe, expect, it } from 'vitest';
import { i440fxHostBridge } from '../../../src/devices/pci/host-bridge.js';
import {
  MSIX_PBA_OFFSET,
  PCI_CAP_ID_MSIX,
  PCI_MSIX_FLAGS_ENABLE,
  PCI_MSIX_FLAGS_MASKALL,
} from '../../../src/devices/pci/msix.js';
import { PciBus } from '../../../src/devices/pci/pci-bus.js';
import { PCI_CAPABILITY_LIST } from '../../../src/devices/pci/pci-device.js';
import { GuestMemory } from '../../../src/devices/virtio/guest-memory.js';
import { VirtioRng } from '../../../src/devices/virtio/rng.js';
import {
  COMMON,
  VIRTIO_MSI_NO_VECTOR,
  VIRTIO_MSIX_BAR,
  VirtioPciDevice,
} from '../../../src/devices/virtio/virtio-pci.js';

const QSIZE = 8;
const DESC = 0x1000;
const AVAIL = 0x1400;
const USED = 0x1800;
const BUF = 0x4000;

function findCap(dev: VirtioPciDevice, id: number): number {
  for (let at = dev.config[PCI_CAPABILITY_LIST]; at !== 0; at = dev.config[at + 1])
    if (dev.config[at] === id) return at;
  return -1;
}

/** A virtio-rng function on bus 0, set up to DRIVER_OK with one queue, and a log of MSIs. */
function rig(withMsi = true) {
  const ram = new Uint8Array(0x10000);
  const view = new DataView(ram.buffer);
  const irq = { level: 0 };
  const sent: [number, number, number][] = [];
  const bus = new PciBus({ setIrq: (_n, level) => (irq.level = level) });
  bus.plug(0, i440fxHostBridge());
  const msi = withMsi ? (lo: number, hi: number, data: number) => sent.push([lo, hi, data]) : undefined;
  const dev = new VirtioPciDevice('rng', new VirtioRng(), new GuestMemory(ram), msi);
  bus.plug(2 << 3, dev);
  bus.assignResources();
  const access = (base: number) => ({
    rd: (off: number, size: number) => {
      const data = new Uint8Array(size);
      bus.mmioRead(base + off, data);
      return data.reduceRight((v, b) => v * 256 + b, 0);
    },
    wr: (off: number, size: number, value: number) => {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = (value >>> (8 * i)) & 0xff;
      bus.mmioWrite(base + off, data);
    },
  });
  const bar = access(dev.barGpa);
  const table = access(dev.barAddress(VIRTIO_MSIX_BAR));
  bar.wr(COMMON.deviceStatus, 1, 0);
  bar.wr(COMMON.deviceStatus, 1, 3);
  bar.wr(COMMON.driverFeatureSelect, 4, 1);
  bar.wr(COMMON.driverFeature, 4, 1);
  bar.wr(COMMON.deviceStatus, 1, 11);
  bar.wr(COMMON.queueSelect, 2, 0);
  bar.wr(COMMON.queueSize, 2, QSIZE);
  bar.wr(COMMON.queueDesc, 4, DESC);
  bar.wr(COMMON.queueDriver, 4, AVAIL);
  bar.wr(COMMON.queueDevice, 4, USED);
  bar.wr(COMMON.queueEnable, 2, 1);
  bar.wr(COMMON.deviceStatus, 1, 15);
  let posted = 0;
  /** One 16-byte writable buffer on queue 0, then the notification. */
  const post = () => {
    const i = posted % QSIZE;
    view.setUint32(DESC + 16 * i, BUF, true);
    view.setUint32(DESC + 16 * i + 8, 16, true);
    view.setUint16(DESC + 16 * i + 12, 2, true);
    view.setUint16(AVAIL + 4 + 2 * i, i, true);
    posted++;
    view.setUint16(AVAIL + 2, posted, true);
    bar.wr(0x3000, 2, 0);
  };
  const cap = findCap(dev, PCI_CAP_ID_MSIX);
  const control = (value: number) => dev.configWrite(cap + 2, 2, value);
  /** Table entry `v`: address 0xfee00000 (APIC ID 0), data `vector`, unmasked. */
  const program = (v: number, vector: number) => {
    table.wr(16 * v, 4, 0xfee00000);
    table.wr(16 * v + 4, 4, 0);
    table.wr(16 * v + 8, 4, vector);
    table.wr(16 * v + 12, 4, 0);
  };
  return { dev, bar, table, irq, sent, post, cap, control, program };
}

describe('MSI-X capability on virtio-pci', () => {
  it('lists the capability: queues + 1 vectors, table at 0 and PBA at 0x800 of BAR 1, all masked', () => {
    const r = rig();
    expect(r.cap).toBeGreaterThanOrEqual(0x40);
    // Message Control: table size N-1 = 1 (one queue + config), disabled, not masked.
    expect(r.dev.get16(r.cap + 2)).toBe(1);
    expect(r.dev.get32(r.cap + 4)).toBe(VIRTIO_MSIX_BAR);
    expect(r.dev.get32(r.cap + 8)).toBe(MSIX_PBA_OFFSET | VIRTIO_MSIX_BAR);
    expect(r.dev.barAddress(VIRTIO_MSIX_BAR)).toBeGreaterThan(0);
    // Vector control reads with the mask bit set after reset (6.8.2.9); the table size bits are read-only.
    expect(r.table.rd(12, 4)).toBe(1);
    expect(r.table.rd(16 + 12, 4)).toBe(1);
    r.control(0x07ff);
    expect(r.dev.get16(r.cap + 2)).toBe(1);
  });

  it('takes a vector the table has, answers VIRTIO_MSI_NO_VECTOR for one it lacks, and resets them', () => {
    const r = rig();
    expect(r.bar.rd(COMMON.msixConfig, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    r.bar.wr(COMMON.msixConfig, 2, 0);
    r.bar.wr(COMMON.queueMsixVector, 2, 1);
    expect(r.bar.rd(COMMON.msixConfig, 2)).toBe(0);
    expect(r.bar.rd(COMMON.queueMsixVector, 2)).toBe(1);
    r.bar.wr(COMMON.queueMsixVector, 2, 2);
    expect(r.bar.rd(COMMON.queueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    r.bar.wr(COMMON.queueMsixVector, 2, 1);
    r.bar.wr(COMMON.deviceStatus, 1, 0);
    expect(r.bar.rd(COMMON.msixConfig, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    expect(r.bar.rd(COMMON.queueMsixVector, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
  });

  it('uses INTx# until MSI-X is enabled, then sends the queue’s vector as an MSI and leaves INTx# down', () => {
    const r = rig();
    r.post();
    expect(r.irq.level).toBe(1);
    expect(r.sent).toEqual([]);
    r.bar.rd(0x1000, 1); // the ISR read lowers the line
    expect(r.irq.level).toBe(0);
    r.bar.wr(COMMON.queueMsixVector, 2, 1);
    r.program(1, 0x41);
    r.control(PCI_MSIX_FLAGS_ENABLE);
    r.post();
    expect(r.sent).toEqual([[0xfee00000, 0, 0x41]]);
    expect(r.irq.level).toBe(0);
    // A queue with no vector interrupts no one (§4.1.5.1.2).
    r.bar.wr(COMMON.queueMsixVector, 2, 0xffff);
    r.post();
    expect(r.sent).toHaveLength(1);
    expect(r.irq.level).toBe(0);
  });

  it('sets the pending bit for a masked vector and sends it once when the vector is unmasked', () => {
    const r = rig();
    r.bar.wr(COMMON.queueMsixVector, 2, 1);
    r.program(1, 0x42);
    r.table.wr(16 + 12, 4, 1);
    r.control(PCI_MSIX_FLAGS_ENABLE);
    r.post();
    expect(r.sent).toEqual([]);
    expect(r.table.rd(MSIX_PBA_OFFSET, 4)).toBe(0b10);
    r.table.wr(MSIX_PBA_OFFSET, 4, 0); // the PBA is read-only
    expect(r.table.rd(MSIX_PBA_OFFSET, 4)).toBe(0b10);
    r.table.wr(16 + 12, 4, 0);
    expect(r.sent).toEqual([[0xfee00000, 0, 0x42]]);
    expect(r.table.rd(MSIX_PBA_OFFSET, 4)).toBe(0);
    r.table.wr(16 + 12, 4, 0);
    expect(r.sent).toHaveLength(1);
  });

  it('holds every vector pending under the function mask and sends them when it is cleared', () => {
    const r = rig();
    r.bar.wr(COMMON.queueMsixVector, 2, 1);
    r.program(1, 0x43);
    r.control(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    r.post();
    expect(r.sent).toEqual([]);
    expect(r.table.rd(MSIX_PBA_OFFSET, 4)).toBe(0b10);
    r.control(PCI_MSIX_FLAGS_ENABLE);
    expect(r.sent).toEqual([[0xfee00000, 0, 0x43]]);
    expect(r.table.rd(MSIX_PBA_OFFSET, 4)).toBe(0);
  });

  it('clears the table, the PBA and MSI-X Enable on a system reset', () => {
    const r = rig();
    r.program(1, 0x44);
    r.control(PCI_MSIX_FLAGS_ENABLE);
    r.dev.reset();
    expect(r.dev.get16(r.cap + 2)).toBe(1);
    expect(r.dev.msix?.enabled).toBe(false);
    expect(r.dev.msix?.table[4 + 2]).toBe(0);
    expect(r.dev.msix?.table[4 + 3]).toBe(1);
  });

  it('has no MSI-X capability without an MSI sink (no local APIC): INTx only, vectors refused', () => {
    const r = rig(false);
    expect(r.cap).toBe(-1);
    expect(r.dev.bars[VIRTIO_MSIX_BAR]).toBeUndefined();
    r.bar.wr(COMMON.msixConfig, 2, 0);
    expect(r.bar.rd(COMMON.msixConfig, 2)).toBe(VIRTIO_MSI_NO_VECTOR);
    r.post();
    expect(r.irq.level).toBe(1);
  });
});
