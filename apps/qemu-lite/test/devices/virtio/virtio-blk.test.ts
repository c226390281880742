import { closeSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { i440fxHostBridge } from '../../../src/devices/pci/host-bridge.js';
import { PciBus } from '../../../src/devices/pci/pci-bus.js';
import type { IrqSink } from '../../../src/devices/types.js';
import {
  VIRTIO_BLK_S_IOERR,
  VIRTIO_BLK_S_OK,
  VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_T_DISCARD,
  VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_IN,
  VIRTIO_BLK_T_OUT,
  VirtioBlk,
} from '../../../src/devices/virtio/blk.js';
import { Drive, DriveError, releaseDriveLocks } from '../../../src/devices/virtio/drive.js';
import { GuestMemory } from '../../../src/devices/virtio/guest-memory.js';
import {
  COMMON,
  VIRTIO_CONFIG_S_NEEDS_RESET,
  VirtioPciDevice,
} from '../../../src/devices/virtio/virtio-pci.js';

const DESC = 0x1000;
const AVAIL = 0x2000;
const USED = 0x3000;
const HDR = 0x4000;
const DATA = 0x5000;
const STATUS = 0x7000;
const QSIZE = 16;

const dir = mkdtempSync(join(tmpdir(), 'virtio-blk-'));
const opened: Drive[] = [];
afterEach(() => {
  for (const d of opened.splice(0)) d.close();
});

function image(name: string, bytes: Uint8Array | number): string {
  const path = join(dir, name);
  writeFileSync(path, typeof bytes === 'number' ? new Uint8Array(bytes) : bytes);
  return path;
}

function openDrive(file: string, readonly = false, serial?: string): Drive {
  const drive = Drive.open({ file, readonly, serial });
  opened.push(drive);
  return drive;
}

/** The guest's side, in TypeScript: what tools/guests/src/virtio-blk does in C. */
function machine(drive: Drive) {
  const ram = new Uint8Array(0x10000);
  const view = new DataView(ram.buffer);
  const irq = { level: 0 };
  const sink: IrqSink = { setIrq: (_n, level) => (irq.level = level) };
  const bus = new PciBus(sink);
  bus.plug(0, i440fxHostBridge());
  const dev = new VirtioPciDevice('virtio-blk', new VirtioBlk(drive), new GuestMemory(ram));
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
  const status = () => rd(COMMON.deviceStatus, 1);
  /** §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK. */
  const init = (features: [number, number] = [(1 << 28) | (1 << 29) | (1 << 9), 1]) => {
    wr(COMMON.deviceStatus, 1, 0);
    wr(COMMON.deviceStatus, 1, 1);
    wr(COMMON.deviceStatus, 1, 3);
    wr(COMMON.driverFeatureSelect, 4, 0);
    wr(COMMON.driverFeature, 4, features[0]);
    wr(COMMON.driverFeatureSelect, 4, 1);
    wr(COMMON.driverFeature, 4, features[1]);
    wr(COMMON.deviceStatus, 1, 11);
    if (!(status() & 8)) return false;
    wr(COMMON.queueSelect, 2, 0);
    wr(COMMON.queueSize, 2, QSIZE);
    wr(COMMON.queueDesc, 4, DESC);
    wr(COMMON.queueDesc + 4, 4, 0);
    wr(COMMON.queueDriver, 4, AVAIL);
    wr(COMMON.queueDevice, 4, USED);
    wr(COMMON.queueEnable, 2, 1);
    wr(COMMON.deviceStatus, 1, 15);
    return true;
  };
  let avail = 0;
  const desc = (i: number, addr: number, len: number, flags: number, next = 0) => {
    view.setUint32(DESC + 16 * i, addr, true);
    view.setUint32(DESC + 16 * i + 4, 0, true);
    view.setUint32(DESC + 16 * i + 8, len, true);
    view.setUint16(DESC + 16 * i + 12, flags, true);
    view.setUint16(DESC + 16 * i + 14, next, true);
  };
  /** One request: header, optional data (in or out), status; returns status and used len. */
  const request = (type: number, sector: number, data?: { length: number; write: boolean }) => {
    view.setUint32(HDR, type, true);
    view.setUint32(HDR + 8, sector, true);
    ram[STATUS] = 0xee;
    desc(0, HDR, 16, 1, 1);
    if (data) {
      desc(1, DATA, data.length, 1 | (data.write ? 2 : 0), 2);
      desc(2, STATUS, 1, 2);
    } else {
      desc(1, STATUS, 1, 2);
    }
    view.setUint16(AVAIL + 4 + 2 * (avail % QSIZE), 0, true);
    avail++;
    view.setUint16(AVAIL + 2, avail, true);
    wr(0x3000, 2, 0); // notify queue 0
    const usedIdx = view.getUint16(USED + 2, true);
    return {
      status: ram[STATUS],
      used: usedIdx,
      len: view.getUint32(USED + 4 + 8 * ((usedIdx - 1) % QSIZE) + 4, true),
    };
  };
  return { ram, view, dev, bus, rd, wr, status, init, request, irq, desc };
}

describe('virtio-pci modern transport (virtio 1.2 §4.1)', () => {
  it('is 1af4:1042 revision 1 with the common, notify, ISR, device and PCI-config capabilities', () => {
    const m = machine(openDrive(image('caps.img', 4096)));
    const cfg = m.dev.config;
    expect(m.dev.get32(0)).toBe(0x10421af4);
    expect(cfg[8]).toBe(1);
    const types: number[] = [];
    for (let at = cfg[0x34]; at !== 0; at = cfg[at + 1]) {
      expect(cfg[at]).toBe(0x09);
      types.push(cfg[at + 3]);
      if (cfg[at + 3] !== 5) expect(cfg[at + 4]).toBe(4); // BAR 4 (the PCI_CFG window's is the driver's)
    }
    expect(types).toEqual([1, 2, 3, 4, 5]);
  });

  it('serves BAR accesses through the VIRTIO_PCI_CAP_PCI_CFG window (§4.1.4.9)', () => {
    const m = machine(openDrive(image('pcicfg.img', 4096)));
    const cfg = m.dev.config;
    let cap = cfg[0x34];
    while (cfg[cap + 3] !== 5) cap = cfg[cap + 1];
    m.dev.configWrite(cap + 4, 1, 4); // BAR 4
    m.dev.configWrite(cap + 8, 4, COMMON.numQueues);
    m.dev.configWrite(cap + 12, 4, 2);
    expect(m.dev.configRead(cap + 16, 4) & 0xffff).toBe(1);
    m.dev.configWrite(cap + 8, 4, COMMON.deviceStatus);
    m.dev.configWrite(cap + 12, 4, 1);
    m.dev.configWrite(cap + 16, 1, 1); // ACKNOWLEDGE through the window
    expect(m.status()).toBe(1);
    // A misaligned window does nothing and reads zero.
    m.dev.configWrite(cap + 8, 4, COMMON.numQueues + 1);
    m.dev.configWrite(cap + 12, 4, 2);
    expect(m.dev.configRead(cap + 16, 4)).toBe(0);
  });

  it('offers VERSION_1 and refuses FEATURES_OK without it or with features it did not offer', () => {
    const m = machine(openDrive(image('feat.img', 4096)));
    m.wr(COMMON.deviceFeatureSelect, 4, 1);
    expect(m.rd(COMMON.deviceFeature, 4) & 1).toBe(1);
    expect(m.init([0, 0])).toBe(false);
    expect(m.init([1 << 31, 1])).toBe(false);
    expect(m.init()).toBe(true);
  });

  it('reads a sector, raises INTx and clears it when the ISR is read', () => {
    const bytes = new Uint8Array(2048);
    bytes.set([0xde, 0xad, 0xbe, 0xef], 512);
    const m = machine(openDrive(image('read.img', bytes)));
    m.init();
    const r = m.request(VIRTIO_BLK_T_IN, 1, { length: 512, write: true });
    expect(r).toEqual({ status: VIRTIO_BLK_S_OK, used: 1, len: 513 });
    expect(Array.from(m.ram.subarray(DATA, DATA + 4))).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect(m.irq.level).toBe(1);
    expect(m.rd(0x1000, 1)).toBe(1);
    expect(m.irq.level).toBe(0);
    expect(m.rd(0x1000, 1)).toBe(0);
  });

  it('writes, flushes and reads back; the file holds the data', () => {
    const path = image('rw.img', 4096);
    const m = machine(openDrive(path));
    m.init();
    m.ram.fill(0x5a, DATA, DATA + 1024);
    expect(m.request(VIRTIO_BLK_T_OUT, 2, { length: 1024, write: false }).status).toBe(VIRTIO_BLK_S_OK);
    expect(m.request(VIRTIO_BLK_T_FLUSH, 0).status).toBe(VIRTIO_BLK_S_OK);
    const file = readFileSync(path);
    expect(file[1023]).toBe(0);
    expect(file[1024]).toBe(0x5a);
    expect(file[2047]).toBe(0x5a);
    expect(file[2048]).toBe(0);
  });

  it('answers GET_ID with the serial, zero padded to 20 bytes', () => {
    const m = machine(openDrive(image('id.img', 512), false, 'QM00042'));
    m.init();
    m.ram.fill(0xff, DATA, DATA + 20);
    expect(m.request(VIRTIO_BLK_T_GET_ID, 0, { length: 20, write: true }).status).toBe(VIRTIO_BLK_S_OK);
    expect(Buffer.from(m.ram.subarray(DATA, DATA + 20)).toString('latin1')).toBe('QM00042'.padEnd(20, '\0'));
  });

  it('fails reads and writes past the end with IOERR, unknown types with UNSUPP', () => {
    const m = machine(openDrive(image('end.img', 1024)));
    m.init();
    expect(m.request(VIRTIO_BLK_T_IN, 2, { length: 512, write: true }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(m.request(VIRTIO_BLK_T_OUT, 1, { length: 1024, write: false }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(m.request(99, 0).status).toBe(VIRTIO_BLK_S_UNSUPP);
  });

  it('answers a host I/O error with IOERR instead of throwing', () => {
    const drive = Drive.open({ file: image('eio.img', 1024), readonly: false });
    const m = machine(drive);
    m.init();
    // The descriptor goes bad under the device (as a failing disk makes read/write/fsync fail).
    closeSync(drive.fd);
    let r: ReturnType<typeof m.request> | undefined;
    expect(() => {
      r = m.request(VIRTIO_BLK_T_IN, 0, { length: 512, write: true });
    }).not.toThrow();
    expect(r?.status).toBe(VIRTIO_BLK_S_IOERR);
    expect(m.request(VIRTIO_BLK_T_OUT, 0, { length: 512, write: false }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(m.request(VIRTIO_BLK_T_FLUSH, 0).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(m.status() & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(0);
  });

  it('with 4 KiB logical blocks: blk_size 4096, and only whole aligned blocks are served', () => {
    const bytes = new Uint8Array(16384);
    bytes.fill(9, 4096, 8192);
    const drive = Drive.open({ file: image('4k.img', bytes), readonly: false, logicalBlockSize: 4096 });
    opened.push(drive);
    const m = machine(drive);
    m.init();
    expect(m.rd(0x2000 + 20, 4)).toBe(4096); // blk_size
    expect(m.rd(0x2000, 4)).toBe(32); // capacity stays in 512-byte sectors
    expect(m.request(VIRTIO_BLK_T_IN, 8, { length: 4096, write: true }).status).toBe(VIRTIO_BLK_S_OK);
    expect(m.ram[DATA]).toBe(9);
    expect(m.request(VIRTIO_BLK_T_IN, 1, { length: 4096, write: true }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(m.request(VIRTIO_BLK_T_IN, 8, { length: 512, write: true }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(() =>
      Drive.open({ file: image('4k-odd.img', 4608), readonly: false, logicalBlockSize: 4096 }),
    ).toThrow(/4608 bytes, not a multiple of 4096/);
  });

  it('discards to zeros', () => {
    const path = image('discard.img', new Uint8Array(2048).fill(7));
    const m = machine(openDrive(path));
    m.init();
    m.view.setUint32(DATA, 1, true); // sector 1
    m.view.setUint32(DATA + 4, 0, true);
    m.view.setUint32(DATA + 8, 2, true); // 2 sectors
    m.view.setUint32(DATA + 12, 0, true);
    expect(m.request(VIRTIO_BLK_T_DISCARD, 0, { length: 16, write: false }).status).toBe(VIRTIO_BLK_S_OK);
    const file = readFileSync(path);
    expect([file[511], file[512], file[1535], file[1536]]).toEqual([7, 0, 0, 7]);
  });

  it('refuses writes on a read-only drive with IOERR and offers VIRTIO_BLK_F_RO', () => {
    const path = image('ro.img', 1024);
    const m = machine(openDrive(path, true));
    m.wr(COMMON.deviceFeatureSelect, 4, 0);
    expect(m.rd(COMMON.deviceFeature, 4) & (1 << 5)).toBe(1 << 5);
    m.init([1 << 5, 1]);
    m.ram.fill(1, DATA, DATA + 512);
    expect(m.request(VIRTIO_BLK_T_OUT, 0, { length: 512, write: false }).status).toBe(VIRTIO_BLK_S_IOERR);
    expect(readFileSync(path).every((b) => b === 0)).toBe(true);
  });

  it('sets NEEDS_RESET and stops the queue on a descriptor loop, without throwing, until a reset', () => {
    const m = machine(openDrive(image('loop.img', 1024)));
    m.init();
    m.desc(0, HDR, 16, 1, 0); // 0 → 0
    m.view.setUint16(AVAIL + 4, 0, true);
    m.view.setUint16(AVAIL + 2, 1, true);
    expect(() => m.wr(0x3000, 2, 0)).not.toThrow();
    expect(m.status() & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(VIRTIO_CONFIG_S_NEEDS_RESET);
    expect(m.dev.lastError).toMatch(/loop/);
    expect(m.rd(0x1000, 1)).toBe(2); // a configuration-change interrupt
    // The queue stays stopped: a good request now is not processed.
    m.view.setUint16(AVAIL + 2, 0, true);
    expect(m.view.getUint16(USED + 2, true)).toBe(0);
    // A reset (status 0) brings it back.
    expect(m.init()).toBe(true);
    expect(m.status() & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(0);
    expect(m.request(VIRTIO_BLK_T_IN, 0, { length: 512, write: true }).status).toBe(VIRTIO_BLK_S_OK);
  });

  it('sets NEEDS_RESET for a data buffer outside RAM', () => {
    const m = machine(openDrive(image('oob.img', 1024)));
    m.init();
    m.desc(0, HDR, 16, 1, 1);
    m.desc(1, 0xfff0, 512, 3, 2);
    m.desc(2, STATUS, 1, 2);
    m.view.setUint16(AVAIL + 4, 0, true);
    m.view.setUint16(AVAIL + 2, 1, true);
    expect(() => m.wr(0x3000, 2, 0)).not.toThrow();
    expect(m.status() & VIRTIO_CONFIG_S_NEEDS_RESET).toBe(VIRTIO_CONFIG_S_NEEDS_RESET);
    expect(m.dev.lastError).toMatch(/outside RAM/);
  });

  it('ignores notifications before DRIVER_OK', () => {
    const m = machine(openDrive(image('early.img', 1024)));
    m.view.setUint16(AVAIL + 2, 1, true);
    expect(() => m.wr(0x3000, 2, 0)).not.toThrow();
    expect(m.view.getUint16(USED + 2, true)).toBe(0);
  });
});

describe('drives', () => {
  it('refuses a missing image', () => {
    expect(() => openDrive(join(dir, 'nope.img'))).toThrow(/Could not open .*No such file or directory/);
  });

  it('refuses an image that is not a multiple of 512 bytes, and leaves no lock behind', () => {
    const path = image('odd.img', 1000);
    expect(() => openDrive(path)).toThrow(/1000 bytes, not a multiple of 512/);
    expect(existsSync(join(dir, '.odd.img.qemu-lite-lock'))).toBe(false);
  });

  it('refuses a second writer and a reader while a writer holds the lock, and frees it on close', () => {
    const path = image('locked.img', 512);
    const first = Drive.open({ file: path, readonly: false });
    expect(() => Drive.open({ file: path, readonly: false })).toThrow(DriveError);
    expect(() => Drive.open({ file: path, readonly: true })).toThrow(/Failed to get "write" lock/);
    first.close();
    openDrive(path);
  });

  it('takes over a stale lock whose owner is gone', () => {
    const path = image('stale.img', 512);
    // A pid above Linux's pid_max (4194304) never runs.
    writeFileSync(join(dir, '.stale.img.qemu-lite-lock'), '99999999\n');
    expect(() => openDrive(path)).not.toThrow();
  });

  it('releaseDriveLocks removes the locks of this process only', () => {
    const mine = image('mine.img', 512);
    openDrive(mine); // left open, as by a thread that was terminated
    const theirs = image('theirs.img', 512);
    const theirLock = join(dir, '.theirs.img.qemu-lite-lock');
    writeFileSync(theirLock, `${process.ppid}\n`);
    releaseDriveLocks([
      { file: mine, readonly: false },
      { file: theirs, readonly: false },
      { file: join(dir, 'absent.img'), readonly: false },
    ]);
    expect(existsSync(join(dir, '.mine.img.qemu-lite-lock'))).toBe(false);
    expect(existsSync(theirLock)).toBe(true);
  });
});
