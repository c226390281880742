/**
 * virtio-blk (virtio 1.2 §5.2): one request queue over a `Drive`. Requests are a 16-byte
 * header (type, reserved, sector), data buffers and a one-byte status the device writes last
 * (§5.2.6). Reads, writes, flushes (fdatasync: the data is durable when the status says OK),
 * GET_ID (the serial) and DISCARD/WRITE_ZEROES (zeros written, so a discarded range reads as
 * zeros). A read-only drive offers VIRTIO_BLK_F_RO and fails writes with VIRTIO_BLK_S_IOERR.
 * The I/O is synchronous in the vCPU thread, in ring order, so writes reach the file in order.
 */
import { fdatasyncSync, readSync, writeSync } from '#platform/fs';
import { type Drive, SECTOR_SIZE } from './drive.js';
import type { GuestMemory } from './guest-memory.js';
import type { VirtioDeviceOps } from './virtio-pci.js';
import { type VirtqChain, type VirtqSegment, VirtqueueError } from './virtqueue.js';

export const VIRTIO_ID_BLOCK = 2;
/** PCI_CLASS_STORAGE_SCSI, QEMU's class for virtio-blk-pci. */
export const PCI_CLASS_STORAGE_SCSI = 0x010000;

/** Feature bits (§5.2.3). */
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

/** Request types and statuses (§5.2.6). */
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;
export const VIRTIO_BLK_ID_BYTES = 20;

const QUEUE_SIZE = 256;
/** seg_max: data segments per request (the queue size less header and status, as QEMU). */
const SEG_MAX = QUEUE_SIZE - 2;
/** Discard/write-zeroes bounds we advertise (sectors per segment, segments per request). */
const MAX_DISCARD_SECTORS = 0x3fffff;
const MAX_DISCARD_SEG = 1;

export class VirtioBlk implements VirtioDeviceOps {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly classCode = PCI_CLASS_STORAGE_SCSI;
  readonly features: [number, number];
  readonly queueSizes = [QUEUE_SIZE];
  readonly config = new Uint8Array(60);
  /** The logical block size (512 or 4096): requests are whole, aligned blocks (§5.2.5). */
  private readonly blockSize: number;
  /** Requests handled by type, for tests and statistics. */
  readonly counts = new Map<number, number>();

  constructor(private readonly drive: Drive) {
    let features = (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) | (1 << VIRTIO_BLK_F_FLUSH);
    if (drive.readonly) features |= 1 << VIRTIO_BLK_F_RO;
    else features |= (1 << VIRTIO_BLK_F_DISCARD) | (1 << VIRTIO_BLK_F_WRITE_ZEROES);
    this.features = [features >>> 0, 0];
    // struct virtio_blk_config (§5.2.4).
    const view = new DataView(this.config.buffer);
    view.setUint32(0, drive.sectors % 0x100000000, true); // capacity, in 512-byte sectors
    view.setUint32(4, Math.floor(drive.sectors / 0x100000000), true);
    view.setUint32(12, SEG_MAX, true); // seg_max
    // blk_size (§5.2.4): the logical block (VIRTIO_BLK_F_BLK_SIZE; no topology is offered).
    this.blockSize = drive.config.logicalBlockSize ?? SECTOR_SIZE;
    view.setUint32(20, this.blockSize, true);
    view.setUint32(36, MAX_DISCARD_SECTORS, true); // max_discard_sectors
    view.setUint32(40, MAX_DISCARD_SEG, true); // max_discard_seg
    view.setUint32(44, 1, true); // discard_sector_alignment
    view.setUint32(48, MAX_DISCARD_SECTORS, true); // max_write_zeroes_sectors
    view.setUint32(52, MAX_DISCARD_SEG, true); // max_write_zeroes_seg
  }

  handle(_queue: number, chain: VirtqChain, mem: GuestMemory): number {
    // §5.2.6: at least the header (readable) and the status byte (the last writable byte).
    const header = gather(chain.readable, 16, mem);
    const last = chain.writable[chain.writable.length - 1];
    if (!header || !last || last.length === 0)
      throw new VirtqueueError('virtio-blk: a request without its 16-byte header or status byte');
    const hv = new DataView(header.buffer, header.byteOffset, 16);
    const type = hv.getUint32(0, true);
    const sector = hv.getUint32(12, true) * 0x100000000 + hv.getUint32(8, true);
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    const statusGpa = last.gpa + last.length - 1;
    // The data buffers: readable ones after the header, writable ones before the status byte.
    const dataIn = chain.writable.slice(0, -1);
    if (last.length > 1) dataIn.push({ gpa: last.gpa, length: last.length - 1 });
    const dataOut = skip(chain.readable, 16);
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    // A host I/O error (EIO, ENOSPC, a file gone bad) is the guest's VIRTIO_BLK_S_IOERR, never
    // an exception out of the vCPU loop: QEMU's default `werror=enospc,rerror=report` reports
    // errors to the guest (it stops the VM only on ENOSPC; we have no stopped-VM state).
    try {
      ({ status, written } = this.execute(type, sector, dataIn, dataOut, mem));
    } catch (error) {
      if (!(error as NodeJS.ErrnoException).code) throw error;
      status = VIRTIO_BLK_S_IOERR;
      written = 0;
    }
    mem.check(statusGpa, 1);
    mem.ram[statusGpa] = status;
    return written + 1;
  }

  private execute(
    type: number,
    sector: number,
    dataIn: VirtqSegment[],
    dataOut: VirtqSegment[],
    mem: GuestMemory,
  ): { status: number; written: number } {
    let status = VIRTIO_BLK_S_OK;
    let written = 0;
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const total = sum(dataIn);
        if (!this.inRange(sector, total)) status = VIRTIO_BLK_S_IOERR;
        else {
          let pos = sector * SECTOR_SIZE;
          for (const seg of dataIn) {
            readFully(this.drive.fd, mem.slice(seg.gpa, seg.length), pos);
            pos += seg.length;
          }
          written = total;
        }
        break;
      }
      case VIRTIO_BLK_T_OUT: {
        const total = sum(dataOut);
        if (this.drive.readonly || !this.inRange(sector, total)) status = VIRTIO_BLK_S_IOERR;
        else {
          let pos = sector * SECTOR_SIZE;
          for (const seg of dataOut) {
            writeFully(this.drive.fd, mem.slice(seg.gpa, seg.length), pos);
            pos += seg.length;
          }
        }
        break;
      }
      case VIRTIO_BLK_T_FLUSH:
        if (!this.drive.readonly) fdatasyncSync(this.drive.fd);
        break;
      case VIRTIO_BLK_T_GET_ID: {
        // Up to 20 bytes, zero padded, no terminator when all 20 are used (§5.2.6).
        const id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
        const serial = this.drive.config.serial ?? '';
        // latin1, as QEMU copies the serial's bytes (no Buffer: this module runs in a browser too).
        for (let i = 0; i < Math.min(serial.length, VIRTIO_BLK_ID_BYTES); i++)
          id[i] = serial.charCodeAt(i) & 0xff;
        written = scatter(dataIn, id, mem);
        break;
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        status = this.zeroRanges(dataOut, mem);
        break;
      default:
        status = VIRTIO_BLK_S_UNSUPP;
    }
    return { status, written };
  }

  /** DISCARD / WRITE_ZEROES: segments of {sector le64, num_sectors le32, flags le32} (§5.2.6). */
  private zeroRanges(dataOut: VirtqSegment[], mem: GuestMemory): number {
    if (this.drive.readonly) return VIRTIO_BLK_S_IOERR;
    const bytes = gatherAll(dataOut, mem);
    if (bytes.length === 0 || bytes.length % 16 !== 0 || bytes.length / 16 > MAX_DISCARD_SEG)
      return VIRTIO_BLK_S_UNSUPP;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let at = 0; at < bytes.length; at += 16) {
      const sector = view.getUint32(at + 4, true) * 0x100000000 + view.getUint32(at, true);
      const count = view.getUint32(at + 8, true);
      const flags = view.getUint32(at + 12, true);
      // Only the unmap flag (bit 0) is defined; anything else is unsupported.
      if (flags & ~1 || count > MAX_DISCARD_SECTORS) return VIRTIO_BLK_S_UNSUPP;
      if (!this.inRange(sector, count * SECTOR_SIZE)) return VIRTIO_BLK_S_IOERR;
      const zeros = new Uint8Array(Math.min(count * SECTOR_SIZE, 1 << 20));
      for (let done = 0; done < count * SECTOR_SIZE; done += zeros.length) {
        const n = Math.min(zeros.length, count * SECTOR_SIZE - done);
        writeFully(this.drive.fd, zeros.subarray(0, n), sector * SECTOR_SIZE + done);
      }
    }
    return VIRTIO_BLK_S_OK;
  }

  /**
   * Whole, aligned logical blocks inside the disk. Sectors are 512 bytes whatever the block
   * size (§5.2.6); with 4 KiB blocks a request must start on a multiple of 8 sectors.
   */
  private inRange(sector: number, bytes: number): boolean {
    const perBlock = this.blockSize / SECTOR_SIZE;
    return (
      bytes % this.blockSize === 0 &&
      sector % perBlock === 0 &&
      sector + bytes / SECTOR_SIZE <= this.drive.sectors
    );
  }
}

function sum(segments: VirtqSegment[]): number {
  let total = 0;
  for (const s of segments) total += s.length;
  return total;
}

/** The first `length` bytes of the segments, copied; undefined if they hold fewer. */
function gather(segments: VirtqSegment[], length: number, mem: GuestMemory): Uint8Array | undefined {
  if (sum(segments) < length) return undefined;
  const out = new Uint8Array(length);
  let done = 0;
  for (const s of segments) {
    if (done === length) break;
    const n = Math.min(s.length, length - done);
    out.set(mem.slice(s.gpa, n), done);
    done += n;
  }
  return out;
}

function gatherAll(segments: VirtqSegment[], mem: GuestMemory): Uint8Array {
  return gather(segments, sum(segments), mem) ?? new Uint8Array(0);
}

/** The segments after the first `bytes` bytes. */
function skip(segments: VirtqSegment[], bytes: number): VirtqSegment[] {
  const out: VirtqSegment[] = [];
  let left = bytes;
  for (const s of segments) {
    if (left >= s.length) {
      left -= s.length;
      continue;
    }
    out.push({ gpa: s.gpa + left, length: s.length - left });
    left = 0;
  }
  return out;
}

/** Copies `bytes` into the segments; returns how many fit. */
function scatter(segments: VirtqSegment[], bytes: Uint8Array, mem: GuestMemory): number {
  let done = 0;
  for (const s of segments) {
    if (done === bytes.length) break;
    const n = Math.min(s.length, bytes.length - done);
    mem.slice(s.gpa, n).set(bytes.subarray(done, done + n));
    done += n;
  }
  return done;
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) {
      into.fill(0, done);
      return;
    }
    done += n;
  }
}

function writeFully(fd: number, from: Uint8Array, position: number): void {
  let done = 0;
  while (done < from.length) done += writeSync(fd, from, done, from.length - done, position + done);
}
