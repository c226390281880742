/**
 * virtio-net (virtio 1.2 §5.1): one receive queue (0) and one transmit queue (1), frames behind
 * a 12-byte `struct virtio_net_hdr_v1` (§5.1.6; num_buffers is always there under VERSION_1).
 * Offered: VIRTIO_NET_F_MAC (the `mac=` property) and VIRTIO_NET_F_STATUS (link up). No
 * checksum offload, GSO or mergeable buffers are offered, so every frame is whole and carries
 * its own checksums both ways (§5.1.6.2: without VIRTIO_NET_F_CSUM the driver sends complete
 * packets; without GUEST_CSUM we deliver them), and the driver's receive buffers must each hold
 * a header and a full frame (§5.1.6.3.1). The frames go to and come from a `NetBackend`.
 */

import { type FrameRing, frameRingRead } from '../net/frame-ring.js';
import type { GuestMemory } from './guest-memory.js';
import type { VirtioDeviceOps } from './virtio-pci.js';
import type { VirtqChain } from './virtqueue.js';

export const VIRTIO_ID_NET = 1;
/** PCI_CLASS_NETWORK_ETHERNET, QEMU's class for virtio-net-pci. */
export const PCI_CLASS_NETWORK_ETHERNET = 0x020000;
export const VIRTIO_NET_F_MAC = 5;
export const VIRTIO_NET_F_STATUS = 16;
export const VIRTIO_NET_S_LINK_UP = 1;
/** struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers. */
export const VIRTIO_NET_HDR_LEN = 12;
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
const QUEUE_SIZE = 256;
/** Frames held for a driver that has no receive buffers posted; beyond that the oldest go, as a NIC's FIFO overflows. */
const RX_BACKLOG = 256;
/** The largest frame accepted from the guest: 1514 + a VLAN tag (no GSO was offered). */
const MAX_TX_FRAME = 1518;

/** How `-netdev socket` reaches its peers (src/netdev/socket-netdev.ts opens it in the main thread). */
export type SocketNetdevSpec =
  | { mode: 'listen'; host: string; port: number }
  | { mode: 'connect'; host: string; port: number }
  | { mode: 'mcast'; host: string; port: number; localaddr?: string };

/**
 * `-netdev user,hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT` (netdev/user-nat.ts):
 * connections to the host's port become connections from 10.0.2.2 to the guest's.
 */
export interface HostFwd {
  protocol: 'tcp';
  /** The host address to listen on; '' is every address (QEMU's default, INADDR_ANY). */
  hostAddr: string;
  hostPort: number;
  /** The guest's address; default 10.0.2.15, the one DHCP gives. */
  guestAddr?: string;
  guestPort: number;
}

/**
 * A NIC as `runGuest` and the machine take it: its backend (`'user'`, `-netdev user`; `'socket'`,
 * `-netdev socket` with `socket` saying how; `'tap'`, `-netdev tap` on the host's `tap.ifname`) and MAC (`'52:54:00:12:34:56'`; default: QEMU's,
 * the n-th NIC's last byte 0x56 + n).
 */
export interface NicConfig {
  netdev: 'user' | 'socket' | 'tap';
  mac?: string;
  socket?: SocketNetdevSpec;
  /** A tap netdev's interface (netdev/tap-netdev.ts). */
  tap?: { ifname: string };
  /** A user netdev's `hostfwd=` rules. */
  hostfwd?: HostFwd[];
  /**
   * Set by runGuest: the shared ring (frame-ring.ts) frames from the main thread arrive in (a
   * socket or tap netdev's, a user netdev's NAT's).
   */
  rxRing?: SharedArrayBuffer;
}

/** Where a NIC's frames go and come from (`-netdev user`, …). */
export interface NetBackend {
  /** A frame the guest sent. The backend may answer at once through `deliver`. */
  send(frame: Uint8Array): void;
  /** Called once with the NIC's receive path. */
  connect(deliver: (frame: Uint8Array) => void): void;
}

/** QEMU's default MAC for the first NIC (52:54:00:12:34:56; the n-th adds n to the last byte). */
export function defaultMac(n: number): Uint8Array {
  return new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, (0x56 + n) & 0xff]);
}

/** Parses `52:54:00:12:34:56`; undefined if it is not six hex bytes or is a multicast address. */
export function parseMac(text: string): Uint8Array | undefined {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(
    text,
  );
  if (!m) return undefined;
  const mac = new Uint8Array(m.slice(1).map((h) => Number.parseInt(h, 16)));
  // Bit 0 of the first byte is the group bit (IEEE 802): QEMU refuses such a NIC address too.
  return mac[0] & 1 ? undefined : mac;
}

export class VirtioNet implements VirtioDeviceOps {
  readonly deviceId = VIRTIO_ID_NET;
  readonly classCode = PCI_CLASS_NETWORK_ETHERNET;
  readonly features: [number, number] = [((1 << VIRTIO_NET_F_MAC) | (1 << VIRTIO_NET_F_STATUS)) >>> 0, 0];
  readonly queueSizes = [QUEUE_SIZE, QUEUE_SIZE];
  /** struct virtio_net_config (§5.1.4): mac[6], status, max_virtqueue_pairs, mtu. */
  readonly config = new Uint8Array(12);
  private readonly rx: Uint8Array[] = [];
  private transport: { notify(queue: number): void } | undefined;
  readonly counters = { txFrames: 0, rxFrames: 0, txDropped: 0, rxDropped: 0 };

  constructor(
    readonly mac: Uint8Array,
    private readonly backend: NetBackend,
  ) {
    this.config.set(mac, 0);
    this.config[6] = VIRTIO_NET_S_LINK_UP;
    this.config[8] = 1; // max_virtqueue_pairs (only read with VIRTIO_NET_F_MQ, which is not offered)
    backend.connect((frame) => this.receive(frame));
  }

  attach(transport: { notify(queue: number): void }): void {
    this.transport = transport;
  }

  hasPending(queue: number): boolean {
    return queue !== RX_QUEUE || this.rx.length > 0;
  }

  reset(): void {
    this.rx.length = 0;
  }

  /** A frame for the guest: queued, and handed over as soon as the driver has a buffer for it. */
  receive(frame: Uint8Array): void {
    if (this.rx.length >= RX_BACKLOG) {
      this.rx.shift();
      this.counters.rxDropped++;
    }
    this.rx.push(frame);
    this.transport?.notify(RX_QUEUE);
  }

  handle(queue: number, chain: VirtqChain, mem: GuestMemory): number {
    if (queue === TX_QUEUE) {
      this.transmit(chain, mem);
      return 0;
    }
    if (queue !== RX_QUEUE) return 0;
    const frame = this.rx.shift();
    if (frame === undefined) return 0;
    let room = 0;
    for (const s of chain.writable) room += s.length;
    if (room < VIRTIO_NET_HDR_LEN + frame.length) {
      // A buffer too small for a whole frame (§5.1.6.3.1 asks the driver for full-sized ones):
      // the frame is lost and the buffer goes back empty, which Linux counts as a length error.
      this.counters.rxDropped++;
      return 0;
    }
    const bytes = new Uint8Array(VIRTIO_NET_HDR_LEN + frame.length);
    bytes[10] = 1; // num_buffers (§5.1.6.4: 1 without VIRTIO_NET_F_MRG_RXBUF)
    bytes.set(frame, VIRTIO_NET_HDR_LEN);
    let done = 0;
    for (const s of chain.writable) {
      if (done === bytes.length) break;
      const n = Math.min(s.length, bytes.length - done);
      mem.slice(s.gpa, n).set(bytes.subarray(done, done + n));
      done += n;
    }
    this.counters.rxFrames++;
    return done;
  }

  private transmit(chain: VirtqChain, mem: GuestMemory): void {
    let total = 0;
    for (const s of chain.readable) total += s.length;
    const len = total - VIRTIO_NET_HDR_LEN;
    if (len < 14 || len > MAX_TX_FRAME) {
      this.counters.txDropped++;
      return;
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const s of chain.readable) {
      bytes.set(mem.slice(s.gpa, s.length), at);
      at += s.length;
    }
    // gso_type must be NONE: no GSO feature was offered, so anything else is a driver bug.
    if (bytes[1] !== VIRTIO_NET_HDR_GSO_NONE) {
      this.counters.txDropped++;
      return;
    }
    this.counters.txFrames++;
    this.backend.send(bytes.subarray(VIRTIO_NET_HDR_LEN));
  }
}

/**
 * `-netdev user`'s gateway (user-net.ts) as a NIC's backend: its answers come back at once; with
 * a `ring`, what the NAT in the main thread sends the guest waits there until `poll()`.
 */
export function userNetBackend(
  net: { input(frame: Uint8Array): Uint8Array[] },
  ring?: FrameRing,
): NetBackend & { poll(): void } {
  let deliver: (frame: Uint8Array) => void = () => {};
  return {
    connect(d) {
      deliver = d;
    },
    send(frame) {
      for (const reply of net.input(frame)) deliver(reply);
    },
    poll() {
      if (!ring) return;
      for (let f = frameRingRead(ring); f !== undefined; f = frameRingRead(ring)) deliver(f);
    },
  };
}

/**
 * A netdev in the main thread (`-netdev socket`, `-netdev tap`) as a NIC's backend in the vCPU thread: frames
 * the guest sends go out through `out` (a message to the main thread); frames for the guest
 * wait in `ring` until `poll()`, which the vCPU loop calls after the main thread kicks it.
 */
export function ringBackend(
  ring: FrameRing,
  out: (frame: Uint8Array) => void,
): NetBackend & { poll(): void } {
  let deliver: (frame: Uint8Array) => void = () => {};
  return {
    connect(d) {
      deliver = d;
    },
    send(frame) {
      out(frame);
    },
    poll() {
      for (let f = frameRingRead(ring); f !== undefined; f = frameRingRead(ring)) deliver(f);
    },
  };
}
