/**
 * virtio-net and virtio-rng on the modern PCI transport, driven the way a driver drives them
 * (virtio 1.2 §3.1.1, §5.1, §5.4): IDs and configuration, a frame sent on the transmit queue
 * reaching the backend, the gateway's answer waiting for a receive buffer and arriving with
 * its header, a too-small buffer, random bytes in every writable buffer, and a console's
 * output.
 */
import { describe, expect, it } from 'vitest';
import { createFrameRing, frameRingWrite, openFrameRing } from '../../../src/devices/net/frame-ring.js';
import { UserNet } from '../../../src/devices/net/user-net.js';
import { i440fxHostBridge } from '../../../src/devices/pci/host-bridge.js';
import { PciBus } from '../../../src/devices/pci/pci-bus.js';
import { VirtioConsole } from '../../../src/devices/virtio/console.js';
import { GuestMemory } from '../../../src/devices/virtio/guest-memory.js';
import {
  defaultMac,
  type NetBackend,
  parseMac,
  userNetBackend,
  VIRTIO_NET_HDR_LEN,
  VirtioNet,
} from '../../../src/devices/virtio/net.js';
import { VirtioRng } from '../../../src/devices/virtio/rng.js';
import { COMMON, type VirtioDeviceOps, VirtioPciDevice } from '../../../src/devices/virtio/virtio-pci.js';

const QSIZE = 8;
/** Per queue q: descriptors at 0x1000 + q·0x1000, avail +0x400, used +0x800. */
const ring = (q: number) => ({
  desc: 0x1000 + q * 0x1000,
  avail: 0x1400 + q * 0x1000,
  used: 0x1800 + q * 0x1000,
});

function driver(device: VirtioDeviceOps, queues: number) {
  const ram = new Uint8Array(0x40000);
  const view = new DataView(ram.buffer);
  const irq = { level: 0 };
  const bus = new PciBus({ setIrq: (_n, level) => (irq.level = level) });
  bus.plug(0, i440fxHostBridge());
  const dev = new VirtioPciDevice('dev', device, new GuestMemory(ram));
  bus.plug(2 << 3, dev);
  bus.assignResources();
  const bar = dev.barGpa;
  const rd = (off: number, size: number) => {
    const data = new Uint8Array(size);
    bus.mmioRead(bar + off, data);
    return data.reduceRight((v, b) => v * 256 + b, 0);
  };
  const wr = (off: number, size: number, value: number) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (value >>> (8 * i)) & 0xff;
    bus.mmioWrite(bar + off, data);
  };
  // §3.1.1 with VERSION_1 only (no indirect, no event index), then every queue, then DRIVER_OK.
  wr(COMMON.deviceStatus, 1, 0);
  wr(COMMON.deviceStatus, 1, 3);
  wr(COMMON.driverFeatureSelect, 4, 1);
  wr(COMMON.driverFeature, 4, 1);
  wr(COMMON.deviceStatus, 1, 11);
  for (let q = 0; q < queues; q++) {
    wr(COMMON.queueSelect, 2, q);
    wr(COMMON.queueSize, 2, QSIZE);
    wr(COMMON.queueDesc, 4, ring(q).desc);
    wr(COMMON.queueDriver, 4, ring(q).avail);
    wr(COMMON.queueDevice, 4, ring(q).used);
    wr(COMMON.queueEnable, 2, 1);
  }
  wr(COMMON.deviceStatus, 1, 15);
  const avail = new Array(queues).fill(0);
  /** Makes one single-descriptor buffer available on queue q and notifies. */
  const post = (q: number, gpa: number, length: number, writable: boolean) => {
    const r = ring(q);
    const i = avail[q] % QSIZE;
    view.setUint32(r.desc + 16 * i, gpa, true);
    view.setUint32(r.desc + 16 * i + 8, length, true);
    view.setUint16(r.desc + 16 * i + 12, writable ? 2 : 0, true);
    view.setUint16(r.avail + 4 + 2 * i, i, true);
    avail[q]++;
    view.setUint16(r.avail + 2, avail[q], true);
    wr(0x3000 + 4 * q, 2, q);
  };
  const used = (q: number) => {
    const r = ring(q);
    const idx = view.getUint16(r.used + 2, true);
    const last = (idx - 1) % QSIZE;
    return {
      idx,
      id: view.getUint32(r.used + 4 + 8 * last, true),
      len: view.getUint32(r.used + 8 + 8 * last, true),
    };
  };
  return { ram, dev, rd, wr, post, used, irq };
}

const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

function arpRequestFor(target: number[]): Uint8Array {
  return new Uint8Array([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...GUEST_MAC,
    8,
    6,
    ...[0, 1, 8, 0, 6, 4, 0, 1],
    ...GUEST_MAC,
    ...[10, 0, 2, 15],
    ...[0, 0, 0, 0, 0, 0],
    ...target,
  ]);
}

describe('virtio-net (virtio 1.2 §5.1)', () => {
  it('is 1af4:1041, class 020000, offers MAC and STATUS, and shows the MAC and link up', () => {
    const net = new VirtioNet(parseMac('52:54:00:ab:cd:ef')!, userNetBackend(new UserNet()));
    const d = driver(net, 2);
    expect(d.dev.get32(0)).toBe(0x10411af4);
    expect(d.dev.get32(8) >>> 8).toBe(0x020000);
    d.wr(COMMON.deviceFeatureSelect, 4, 0);
    expect(d.rd(COMMON.deviceFeature, 4) & ((1 << 5) | (1 << 16))).toBe((1 << 5) | (1 << 16));
    expect(d.rd(COMMON.numQueues, 2)).toBe(2);
    expect([0, 1, 2, 3, 4, 5].map((i) => d.rd(0x2000 + i, 1))).toEqual([0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    expect(d.rd(0x2006, 2)).toBe(1); // VIRTIO_NET_S_LINK_UP
  });

  it('sends a transmitted frame to the backend without its header; the answer waits for a receive buffer', () => {
    const sent: Uint8Array[] = [];
    let deliver: (f: Uint8Array) => void = () => {};
    const backend: NetBackend = {
      connect: (d) => (deliver = d),
      send: (f) => sent.push(f.slice()),
    };
    const d = driver(new VirtioNet(defaultMac(0), backend), 2);
    const frame = arpRequestFor([10, 0, 2, 2]);
    d.ram.set(frame, 0x10000 + VIRTIO_NET_HDR_LEN);
    d.post(1, 0x10000, VIRTIO_NET_HDR_LEN + frame.length, false);
    expect(sent).toEqual([frame]);
    expect(d.used(1)).toMatchObject({ idx: 1, len: 0 });
    // A frame for the guest before it posted a buffer: held, not lost.
    deliver(new Uint8Array(60).fill(7));
    expect(d.used(0).idx).toBe(0);
    d.ram[0x20000 + 10] = 0xee;
    d.post(0, 0x20000, 1526, true);
    expect(d.used(0)).toMatchObject({ idx: 1, len: VIRTIO_NET_HDR_LEN + 60 });
    expect(d.ram[0x20000 + 10]).toBe(1); // num_buffers
    expect([...d.ram.subarray(0x20000, 0x20000 + 10)]).toEqual(new Array(10).fill(0));
    expect(d.ram.subarray(0x20000 + 12, 0x20000 + 72).every((b) => b === 7)).toBe(true);
    expect(d.irq.level).toBe(1);
    // With nothing to deliver, posted buffers stay with the device.
    d.post(0, 0x21000, 1526, true);
    expect(d.used(0).idx).toBe(1);
  });

  it("on -netdev user: an ARP request for the gateway comes back as the gateway's reply", () => {
    const d = driver(new VirtioNet(defaultMac(0), userNetBackend(new UserNet())), 2);
    d.post(0, 0x20000, 1526, true);
    const frame = arpRequestFor([10, 0, 2, 2]);
    d.ram.set(frame, 0x10000 + VIRTIO_NET_HDR_LEN);
    d.post(1, 0x10000, VIRTIO_NET_HDR_LEN + frame.length, false);
    expect(d.used(0)).toMatchObject({ idx: 1, len: VIRTIO_NET_HDR_LEN + 42 });
    const reply = d.ram.subarray(0x20000 + VIRTIO_NET_HDR_LEN, 0x20000 + VIRTIO_NET_HDR_LEN + 42);
    expect([...reply.subarray(0, 12)]).toEqual([...GUEST_MAC, 0x52, 0x55, 10, 0, 2, 2]);
    expect([reply[20], reply[21]]).toEqual([0, 2]); // ARP reply
  });

  it("on -netdev user with the NAT's ring: TCP goes to the main thread, and the ring's frames reach the guest at poll()", () => {
    const ring = openFrameRing(createFrameRing());
    const toMain: Uint8Array[] = [];
    const backend = userNetBackend(new UserNet((f) => toMain.push(f)), ring);
    const d = driver(new VirtioNet(defaultMac(0), backend), 2);
    d.post(0, 0x20000, 1526, true);
    // An IPv4 TCP frame (header fields the gateway reads; the NAT checks the rest).
    const tcp = new Uint8Array(54);
    tcp.set([0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6], 12);
    tcp.set([10, 0, 2, 15, 10, 0, 2, 2], 26);
    let sum = 0;
    for (let i = 14; i < 34; i += 2) sum += (tcp[i] << 8) | tcp[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    tcp[24] = (~sum >> 8) & 0xff;
    tcp[25] = ~sum & 0xff;
    d.ram.set(tcp, 0x10000 + VIRTIO_NET_HDR_LEN);
    d.post(1, 0x10000, VIRTIO_NET_HDR_LEN + tcp.length, false);
    expect(toMain).toEqual([tcp]);
    expect(d.used(0).idx).toBe(0);
    const fromMain = new Uint8Array(60).fill(0xab);
    frameRingWrite(ring, fromMain);
    backend.poll();
    expect(d.used(0)).toMatchObject({ idx: 1, len: VIRTIO_NET_HDR_LEN + 60 });
    expect([...d.ram.subarray(0x20000 + VIRTIO_NET_HDR_LEN, 0x20000 + VIRTIO_NET_HDR_LEN + 60)]).toEqual([
      ...fromMain,
    ]);
  });

  it('drops a frame whose receive buffer is too small, and a runt or oversized transmit', () => {
    const sent: Uint8Array[] = [];
    let deliver: (f: Uint8Array) => void = () => {};
    const net = new VirtioNet(defaultMac(0), { connect: (x) => (deliver = x), send: (f) => sent.push(f) });
    const d = driver(net, 2);
    deliver(new Uint8Array(1000));
    d.post(0, 0x20000, 100, true);
    expect(d.used(0)).toMatchObject({ idx: 1, len: 0 });
    d.post(1, 0x10000, VIRTIO_NET_HDR_LEN + 10, false);
    d.post(1, 0x10000, VIRTIO_NET_HDR_LEN + 1600, false);
    expect(sent).toEqual([]);
    expect(net.counters).toMatchObject({ rxDropped: 1, txDropped: 2, txFrames: 0 });
  });

  it('parses MACs as QEMU does: six hex bytes, no multicast; the default is 52:54:00:12:34:56 + n', () => {
    expect(parseMac('52:54:00:12:34:56')).toEqual(new Uint8Array(GUEST_MAC));
    expect(parseMac('01:00:5e:00:00:01')).toBeUndefined();
    expect(parseMac('52:54:00:12:34')).toBeUndefined();
    expect(parseMac('zz:54:00:12:34:56')).toBeUndefined();
    expect([...defaultMac(1)]).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x57]);
  });
});

describe('virtio-rng (virtio 1.2 §5.4)', () => {
  it('is 1af4:1044, class ff0000, and fills each writable buffer from the host', () => {
    let calls = 0;
    const rng = new VirtioRng((into) => {
      calls++;
      into.fill(0xa5);
    });
    const d = driver(rng, 1);
    expect(d.dev.get32(0)).toBe(0x10441af4);
    expect(d.dev.get32(8) >>> 8).toBe(0xff0000);
    d.post(0, 0x20000, 100_000, true);
    expect(d.used(0)).toMatchObject({ idx: 1, len: 100_000 });
    expect(d.ram.subarray(0x20000, 0x20000 + 100_000).every((b) => b === 0xa5)).toBe(true);
    expect(calls).toBe(2); // 65536 + 34464: getRandomValues' limit per call
  });

  it("gives the host's random bytes by default: two requests differ", () => {
    const d = driver(new VirtioRng(), 1);
    d.post(0, 0x20000, 32, true);
    d.post(0, 0x21000, 32, true);
    expect(d.used(0).idx).toBe(2);
    expect(Buffer.from(d.ram.subarray(0x20000, 0x20020))).not.toEqual(
      Buffer.from(d.ram.subarray(0x21000, 0x21020)),
    );
  });
});

describe('virtio-console (virtio 1.2 §5.3), one port', () => {
  it('is 1af4:1043, class 078000, no features; what the guest transmits goes out byte by byte', () => {
    const out: number[] = [];
    const con = new VirtioConsole((b) => out.push(b));
    const d = driver(con, 2);
    expect(d.dev.get32(0)).toBe(0x10431af4);
    expect(d.dev.get32(8) >>> 8).toBe(0x078000);
    d.wr(COMMON.deviceFeatureSelect, 4, 0);
    expect(d.rd(COMMON.deviceFeature, 4) & ~((1 << 28) | (1 << 29))).toBe(0);
    d.ram.set(Buffer.from('hello hvc0\n'), 0x10000);
    d.post(1, 0x10000, 11, false);
    expect(Buffer.from(out).toString()).toBe('hello hvc0\n');
    expect(d.used(1)).toMatchObject({ idx: 1, len: 0 });
    // No input: a posted receive buffer stays with the device.
    d.post(0, 0x20000, 64, true);
    expect(d.used(0).idx).toBe(0);
  });

  it("fills the guest's receive buffers with what the host writes, in order, split across buffers", () => {
    const con = new VirtioConsole(() => {});
    const d = driver(con, 2);
    // Input before any buffer waits for one.
    con.input(Buffer.from('typed '));
    con.input(Buffer.from('by the host\n'));
    expect(d.used(0).idx).toBe(0);
    d.post(0, 0x20000, 8, true);
    expect(d.used(0)).toMatchObject({ idx: 1, len: 8 });
    expect(Buffer.from(d.ram.subarray(0x20000, 0x20008)).toString()).toBe('typed by');
    d.post(0, 0x21000, 64, true);
    expect(d.used(0)).toMatchObject({ idx: 2, len: 10 });
    expect(Buffer.from(d.ram.subarray(0x21000, 0x2100a)).toString()).toBe(' the host\n');
    // Nothing left: the next buffer waits; new input goes straight into it.
    d.post(0, 0x22000, 64, true);
    expect(d.used(0).idx).toBe(2);
    con.input(Buffer.from('x'));
    expect(d.used(0)).toMatchObject({ idx: 3, len: 1 });
    expect(d.ram[0x22000]).toBe(0x78);
  });
});
