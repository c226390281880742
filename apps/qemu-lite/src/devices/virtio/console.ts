/**
 * virtio-console (virtio 1.2 §5.3) with a single port: no VIRTIO_CONSOLE_F_MULTIPORT, so there
 * are exactly the port's two queues, receiveq (0) and transmitq (1), and the driver makes the
 * port a console (Linux's virtio_console: /dev/hvc0). What the guest transmits goes where the
 * serial port's output goes (the terminal, or `runGuest`'s serial capture). What the host
 * writes (`input`, from `runGuest`'s `sendConsoleInput` through a shared ring) fills the receive
 * buffers the driver posts, in order, as many bytes per buffer as fit (§5.3.6.1: the driver
 * reads a buffer's used length); buffers wait while there is no input.
 */
import type { GuestMemory } from './guest-memory.js';
import type { VirtioDeviceOps } from './virtio-pci.js';
import type { VirtqChain } from './virtqueue.js';

export const VIRTIO_ID_CONSOLE = 3;
/** PCI_CLASS_COMMUNICATION_OTHER, QEMU's class for virtio-serial-pci. */
export const PCI_CLASS_COMMUNICATION_OTHER = 0x078000;
const RX_QUEUE = 0;
const QUEUE_SIZE = 128;
/** Host input held for a guest that does not read (beyond it, more is dropped, as a full FIFO). */
const MAX_PENDING = 64 * 1024;

export class VirtioConsole implements VirtioDeviceOps {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly classCode = PCI_CLASS_COMMUNICATION_OTHER;
  readonly features: [number, number] = [0, 0];
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  /** struct virtio_console_config (§5.3.4): cols, rows, max_nr_ports, emerg_wr; none offered. */
  readonly config = new Uint8Array(12);
  /** Bytes the guest wrote, for tests. */
  bytesOut = 0;
  /** Host bytes not yet in a receive buffer, oldest first, and how far into the first one. */
  private readonly pending: Uint8Array[] = [];
  private pendingOffset = 0;
  private pendingBytes = 0;
  private transport: { notify(queue: number): void } | undefined;

  constructor(private readonly out: (byte: number) => void) {}

  attach(transport: { notify(queue: number): void }): void {
    this.transport = transport;
  }

  /** Receive buffers wait until the host has written something. */
  hasPending(queue: number): boolean {
    return queue !== RX_QUEUE || this.pendingBytes > 0;
  }

  /** Bytes for the guest to read (its /dev/hvc0): they wait for the driver's receive buffers. */
  input(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.pendingBytes + bytes.length > MAX_PENDING) return;
    this.pending.push(bytes.slice());
    this.pendingBytes += bytes.length;
    this.transport?.notify(RX_QUEUE);
  }

  reset(): void {
    this.pending.length = 0;
    this.pendingOffset = 0;
    this.pendingBytes = 0;
  }

  handle(queue: number, chain: VirtqChain, mem: GuestMemory): number {
    if (queue === RX_QUEUE) return this.fill(chain, mem);
    for (const s of chain.readable) {
      const bytes = mem.slice(s.gpa, s.length);
      for (let i = 0; i < bytes.length; i++) this.out(bytes[i]);
      this.bytesOut += bytes.length;
    }
    return 0;
  }

  /** Copies pending input into the chain's writable buffers; returns the bytes written. */
  private fill(chain: VirtqChain, mem: GuestMemory): number {
    let written = 0;
    for (const seg of chain.writable) {
      let at = 0;
      while (at < seg.length && this.pending.length > 0) {
        const head = this.pending[0];
        const n = Math.min(seg.length - at, head.length - this.pendingOffset);
        mem.slice(seg.gpa + at, n).set(head.subarray(this.pendingOffset, this.pendingOffset + n));
        at += n;
        this.pendingOffset += n;
        if (this.pendingOffset === head.length) {
          this.pending.shift();
          this.pendingOffset = 0;
        }
      }
      written += at;
      if (this.pending.length === 0) break;
    }
    this.pendingBytes -= written;
    return written;
  }
}
