/**
 * The main thread's side of the machine's NICs: it opens each `-netdev socket` and `-netdev tap`
 * before the guest starts (a refused `connect=`, a taken `listen=` port, a tap that cannot be
 * attached are start-up errors), gives the NIC a
 * shared frame ring (devices/net/frame-ring.ts) for what arrives, wakes and kicks the vCPU when
 * a frame is there, and sends what the worker posts (`net-tx`). For `-netdev user` the same
 * ring and messages carry the NAT's traffic (user-nat.ts: TCP and UDP to the host's sockets,
 * `hostfwd=` listeners opened here before the guest starts); ARP, DHCP and ping are answered
 * inside the vCPU thread by the gateway.
 */
import { createFrameRing, frameRingWrite, openFrameRing } from '../devices/net/frame-ring.js';
import { defaultMac, type NicConfig, parseMac } from '../devices/virtio/net.js';
import { SocketNetdev } from './socket-netdev.js';
import { TapNetdev } from './tap-netdev.js';
import { UserNat } from './user-nat.js';

/** What a NIC's frames go to in the main thread. */
type HostNetdev = SocketNetdev | TapNetdev | UserNat;

export class HostNetdevs {
  private wake: () => void = () => {};

  private constructor(
    /** The NICs as the machine gets them (socket ones with their rings). */
    readonly nics: NicConfig[] | undefined,
    private readonly sockets: (HostNetdev | undefined)[],
  ) {}

  static async open(nics: readonly NicConfig[] | undefined): Promise<HostNetdevs> {
    if (!nics) return new HostNetdevs(undefined, []);
    const sockets: (HostNetdev | undefined)[] = [];
    const out: NicConfig[] = [];
    const hub = new HostNetdevs(out, sockets);
    try {
      for (const [n, nic] of nics.entries()) {
        const rxRing = createFrameRing();
        const ring = openFrameRing(rxRing);
        const deliver = (frame: Uint8Array) => {
          frameRingWrite(ring, frame);
          hub.wake();
        };
        if (nic.netdev === 'user') {
          const guestMac = (nic.mac !== undefined ? parseMac(nic.mac) : undefined) ?? defaultMac(n);
          sockets.push(await UserNat.open({ guestMac, hostfwd: nic.hostfwd }, deliver));
          out.push({ ...nic, rxRing });
          continue;
        }
        if (nic.netdev === 'tap' && nic.tap) {
          const tap = TapNetdev.open(nic.tap.ifname);
          tap.setReceiver(deliver);
          sockets.push(tap);
          out.push({ ...nic, rxRing });
          continue;
        }
        if (!nic.socket) {
          sockets.push(undefined);
          out.push({ ...nic });
          continue;
        }
        const socket = await SocketNetdev.open(nic.socket);
        socket.setReceiver(deliver);
        sockets.push(socket);
        out.push({ ...nic, rxRing });
      }
    } catch (error) {
      for (const s of sockets) s?.close();
      throw error;
    }
    return hub;
  }

  /** What to call when a frame is waiting: wake the machine and kick its vCPU out of KVM_RUN. */
  setWake(wake: () => void): void {
    this.wake = wake;
  }

  /** The port `listen=` got, by NIC (tests listen on port 0). */
  listenPort(nic: number): number | undefined {
    const s = this.sockets[nic];
    return s instanceof SocketNetdev ? s.listenPort : undefined;
  }

  /** The host ports a user NIC's `hostfwd=` rules got, in order (tests give port 0). */
  hostfwdPorts(nic: number): number[] {
    const s = this.sockets[nic];
    return s instanceof UserNat ? s.hostfwdPorts : [];
  }

  /** A frame the guest sent on NIC `nic` (a `net-tx` message from the worker). */
  send(nic: number, frame: Uint8Array): void {
    const s = this.sockets[nic];
    if (s instanceof UserNat) s.input(frame);
    else s?.send(frame);
  }

  close(): void {
    for (const s of this.sockets) s?.close();
  }
}
