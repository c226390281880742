/**
 * A split virtqueue, the device's side (virtio 1.2 §2.7): the descriptor table, the driver area
 * (available ring) and the device area (used ring) in guest RAM, with indirect descriptors
 * (§2.7.5.3) and the event index (§2.7.7, §2.7.10).
 *
 * Everything in these rings is written by the guest, so every rule the spec gives the driver is
 * checked: a head or `next` outside the table, a chain longer than the queue (which is how a
 * loop shows: §2.7.5.3.1 bounds a chain by the queue size), an indirect table inside an indirect
 * one or whose length is not a multiple of 16, a device-readable descriptor after a
 * device-writable one (§2.7.4.2), an available index that moved by more than the queue size,
 * any address outside RAM. Each is a `VirtqueueError`: the transport then sets
 * DEVICE_NEEDS_RESET and stops the queue (§2.1.2), as QEMU's `virtio_error` does.
 */
import { type GuestMemory, GuestMemoryError } from './guest-memory.js';

export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks for no interrupts (ignored under VIRTIO_F_EVENT_IDX). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
const DESC_SIZE = 16;

export class VirtqueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtqueueError';
  }
}

/** One buffer of a chain: guest-physical address and length. */
export interface VirtqSegment {
  gpa: number;
  length: number;
}

/** A descriptor chain taken from the available ring. */
export interface VirtqChain {
  head: number;
  /** Device-readable buffers, in order, then the device-writable ones. */
  readable: VirtqSegment[];
  writable: VirtqSegment[];
}

export class Virtqueue {
  /** Queue size as the driver set it (a power of two, ≤ the device's maximum). */
  size = 0;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  enabled = false;
  /** VIRTIO_F_EVENT_IDX negotiated. */
  eventIdx = false;
  /** Next available-ring entry to take (free-running 16-bit). */
  lastAvailIdx = 0;
  /** Our used.idx (free-running 16-bit). */
  usedIdx = 0;
  /** used.idx when the driver was last notified (for the event index). */
  private signalledUsed = 0;
  private signalledUsedValid = false;

  constructor(
    private readonly mem: GuestMemory,
    readonly maxSize: number,
  ) {
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.descAddr = 0;
    this.driverAddr = 0;
    this.deviceAddr = 0;
    this.enabled = false;
    this.eventIdx = false;
    this.lastAvailIdx = 0;
    this.usedIdx = 0;
    this.signalledUsedValid = false;
  }

  /**
   * The next chain the driver made available, or undefined when there is none. Throws
   * VirtqueueError for anything the spec forbids the driver (see the file's comment).
   */
  pop(): VirtqChain | undefined {
    const availIdx = this.read16(this.driverAddr + 2);
    const pending = (availIdx - this.lastAvailIdx) & 0xffff;
    if (pending === 0) return undefined;
    if (pending > this.size)
      throw new VirtqueueError(
        `avail.idx moved from ${this.lastAvailIdx} to ${availIdx}, more than the queue size ${this.size}`,
      );
    const head = this.read16(this.driverAddr + 4 + 2 * (this.lastAvailIdx % this.size));
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    if (this.eventIdx) {
      // avail_event (§2.7.10): tell the driver which index we want a notification for next.
      this.write16(this.deviceAddr + 4 + 8 * this.size, this.lastAvailIdx);
    }
    return this.walk(head);
  }

  private walk(head: number): VirtqChain {
    if (head >= this.size)
      throw new VirtqueueError(`descriptor head ${head} is outside the queue of ${this.size}`);
    const chain: VirtqChain = { head, readable: [], writable: [] };
    let table = this.descAddr;
    let tableSize = this.size;
    let index = head;
    let seen = 0;
    let indirect = false;
    for (;;) {
      // §2.7.5.3.1: a chain is at most the table's size long; more means a loop.
      if (++seen > tableSize)
        throw new VirtqueueError(
          `descriptor chain from ${head} is longer than its table (${tableSize}): a loop`,
        );
      const at = table + DESC_SIZE * index;
      const gpa = this.read64(at);
      const length = this.read32(at + 8);
      const flags = this.read16(at + 12);
      const next = this.read16(at + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        // §2.7.5.3.1: not inside an indirect table, not with NEXT, a whole number of descriptors.
        if (indirect) throw new VirtqueueError('an indirect descriptor inside an indirect table');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('an indirect descriptor with NEXT set');
        if (length === 0 || length % DESC_SIZE !== 0)
          throw new VirtqueueError(`indirect table length ${length} is not a non-zero multiple of 16`);
        this.check(gpa, length);
        indirect = true;
        table = gpa;
        tableSize = length / DESC_SIZE;
        index = 0;
        seen = 0;
        continue;
      }
      this.check(gpa, length);
      if (flags & VIRTQ_DESC_F_WRITE) chain.writable.push({ gpa, length });
      else if (chain.writable.length > 0)
        throw new VirtqueueError('a device-readable descriptor after a device-writable one');
      else chain.readable.push({ gpa, length });
      if (!(flags & VIRTQ_DESC_F_NEXT)) return chain;
      if (next >= tableSize)
        throw new VirtqueueError(`descriptor next ${next} is outside its table of ${tableSize}`);
      index = next;
    }
  }

  /** Returns chain `head` to the driver with `written` bytes written into its buffers. */
  push(head: number, written: number): void {
    const slot = this.deviceAddr + 4 + 8 * (this.usedIdx % this.size);
    this.write32(slot, head);
    this.write32(slot + 4, written);
    // The element before the index (§2.7.8): JavaScript stores are in program order, and the
    // guest's vCPU is not running while we handle its exit.
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.write16(this.deviceAddr + 2, this.usedIdx);
  }

  /**
   * Whether the driver wants an interrupt for what was pushed since the last one (§2.7.10):
   * with the event index, `vring_need_event(used_event, new, old)`; without, unless
   * avail.flags has VIRTQ_AVAIL_F_NO_INTERRUPT.
   */
  needsInterrupt(): boolean {
    const next = this.usedIdx;
    if (!this.eventIdx) {
      return !(this.read16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    const old = this.signalledUsed;
    const valid = this.signalledUsedValid;
    this.signalledUsed = next;
    this.signalledUsedValid = true;
    if (!valid) return true;
    const usedEvent = this.read16(this.driverAddr + 4 + 2 * this.size);
    return ((next - usedEvent - 1) & 0xffff) < ((next - old) & 0xffff);
  }

  private check(gpa: number, length: number): void {
    try {
      this.mem.check(gpa, length);
    } catch (error) {
      if (error instanceof GuestMemoryError) throw new VirtqueueError(error.message);
      throw error;
    }
  }

  private read16(gpa: number): number {
    this.check(gpa, 2);
    return this.mem.read16(gpa);
  }
  private read32(gpa: number): number {
    this.check(gpa, 4);
    return this.mem.read32(gpa);
  }
  private read64(gpa: number): number {
    this.check(gpa, 8);
    return this.mem.read64(gpa);
  }
  private write16(gpa: number, value: number): void {
    this.check(gpa, 2);
    this.mem.write16(gpa, value);
  }
  private write32(gpa: number, value: number): void {
    this.check(gpa, 4);
    this.mem.write32(gpa, value);
  }
}
