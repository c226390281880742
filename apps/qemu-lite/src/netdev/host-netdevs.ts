/**
 * The main thread's side of the machine's NICs: it opens each `-netdev socket` before the guest
 * starts (a refused `connect=` or a taken `listen=` port is a start-up error), gives the NIC a
 * shared frame ring (devices/net/frame-ring.ts) for what arrives, wakes and kicks the vCPU when
 * a frame is there, and sends what the worker posts (`net-tx`). `-netdev user` needs none of
 * this: its gateway answers inside the vCPU thread.
 */
import { createFrameRing, frameRingWrite, openFrameRing } from '../devices/net/frame-ring.js';
import type { NicConfig } from '../devices/virtio/net.js';
import { SocketNetdev } from './socket-netdev.js';

export class HostNetdevs {
  private wake: () => void = () => {};

  private constructor(
    /** The NICs as the machine gets them (socket ones with their rings). */
    readonly nics: NicConfig[] | undefined,
    private readonly sockets: (SocketNetdev | undefined)[],
  ) {}

  static async open(nics: readonly NicConfig[] | undefined): Promise<HostNetdevs> {
    if (!nics) return new HostNetdevs(undefined, []);
    const sockets: (SocketNetdev | undefined)[] = [];
    const out: NicConfig[] = [];
    try {
      for (const nic of nics) {
        if (nic.netdev !== 'socket' || !nic.socket) {
          sockets.push(undefined);
          out.push({ ...nic });
          continue;
        }
        const socket = await SocketNetdev.open(nic.socket);
        sockets.push(socket);
        const rxRing = createFrameRing();
        out.push({ ...nic, rxRing });
      }
    } catch (error) {
      for (const s of sockets) s?.close();
      throw error;
    }
    const hub = new HostNetdevs(out, sockets);
    sockets.forEach((socket, n) => {
      if (!socket) return;
      const ring = openFrameRing(out[n].rxRing!);
      socket.setReceiver((frame) => {
        frameRingWrite(ring, frame);
        hub.wake();
      });
    });
    return hub;
  }

  /** What to call when a frame is waiting: wake the machine and kick its vCPU out of KVM_RUN. */
  setWake(wake: () => void): void {
    this.wake = wake;
  }

  /** The port `listen=` got, by NIC (tests listen on port 0). */
  listenPort(nic: number): number | undefined {
    return this.sockets[nic]?.listenPort;
  }

  /** A frame the guest sent on NIC `nic` (a `net-tx` message from the worker). */
  send(nic: number, frame: Uint8Array): void {
    this.sockets[nic]?.send(frame);
  }

  close(): void {
    for (const s of this.sockets) s?.close();
  }
}
