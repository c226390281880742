/**
 * virtio-console (virtio 1.2 §5.3) with a single port: no VIRTIO_CONSOLE_F_MULTIPORT, so there
 * are exactly the port's two queues, receiveq (0) and transmitq (1), and the driver makes the
 * port a console (Linux's virtio_console: /dev/hvc0). What the guest transmits goes where the
 * serial port's output goes (the terminal, or `runGuest`'s serial capture). There is no input
 * yet: receive buffers the driver posts are held and never filled.
 */
import type { GuestMemory } from './guest-memory.js';
import type { VirtioDeviceOps } from './virtio-pci.js';
import type { VirtqChain } from './virtqueue.js';

export const VIRTIO_ID_CONSOLE = 3;
/** PCI_CLASS_COMMUNICATION_OTHER, QEMU's class for virtio-serial-pci. */
export const PCI_CLASS_COMMUNICATION_OTHER = 0x078000;
const RX_QUEUE = 0;
const QUEUE_SIZE = 128;

export class VirtioConsole implements VirtioDeviceOps {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly classCode = PCI_CLASS_COMMUNICATION_OTHER;
  readonly features: [number, number] = [0, 0];
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  /** struct virtio_console_config (§5.3.4): cols, rows, max_nr_ports, emerg_wr; none offered. */
  readonly config = new Uint8Array(12);
  /** Bytes the guest wrote, for tests. */
  bytesOut = 0;

  constructor(private readonly out: (byte: number) => void) {}

  /** Receive buffers wait: nothing comes in (no input backend). */
  hasPending(queue: number): boolean {
    return queue !== RX_QUEUE;
  }

  handle(queue: number, chain: VirtqChain, mem: GuestMemory): number {
    if (queue === RX_QUEUE) return 0;
    for (const s of chain.readable) {
      const bytes = mem.slice(s.gpa, s.length);
      for (let i = 0; i < bytes.length; i++) this.out(bytes[i]);
      this.bytesOut += bytes.length;
    }
    return 0;
  }
}
