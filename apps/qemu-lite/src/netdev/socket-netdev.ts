/**
 * `-netdev socket`, QEMU's `net/socket.c`, in the main thread (the sockets need its event loop):
 * - `listen=[HOST]:PORT`: a TCP server; one peer at a time (a later one replaces it, as QEMU's
 *   `net_socket_accept` takes the newest); frames the guest sends while no peer is connected
 *   are dropped;
 * - `connect=HOST:PORT`: a TCP client, connected before the guest starts (a refused connection
 *   is a start-up error, as in QEMU);
 * - `mcast=ADDR:PORT[,localaddr=ADDR]`: UDP multicast with loopback on, so every qemu-lite (or
 *   QEMU) on the group and host sees every frame (its own too, which QEMU drops by source MAC
 *   nowhere: a NIC ignores frames for other MACs).
 * On a stream each frame is a 4-byte big-endian length and the frame (`net_socket_send`); on
 * multicast each datagram is one frame. So a qemu-lite and a QEMU can share a network.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { SocketNetdevSpec } from '../devices/virtio/net.js';

/** Frames larger than this on a stream are a broken peer: QEMU's NET_BUFSIZE is 68 KiB. */
const MAX_STREAM_FRAME = 69632;

export class SocketNetdev {
  private peer: Socket | undefined;
  private onFrame: (frame: Uint8Array) => void = () => {};
  /** Frames the guest sent while nobody listened, and peers cut off for sending nonsense. */
  readonly counters = { txDropped: 0, badPeers: 0 };

  private constructor(
    private readonly server?: Server,
    private readonly udp?: { socket: UdpSocket; host: string; port: number },
  ) {}

  /** Opens the netdev; rejects with a message naming the address when it cannot. */
  static open(spec: SocketNetdevSpec): Promise<SocketNetdev> {
    const where = `${spec.host}:${spec.port}`;
    return new Promise((resolve, reject) => {
      if (spec.mode === 'connect') {
        const s = connect({ host: spec.host, port: spec.port });
        s.once('error', (e) => reject(new Error(`-netdev socket,connect=${where}: ${e.message}`)));
        s.once('connect', () => {
          const nd = new SocketNetdev();
          nd.attachPeer(s);
          resolve(nd);
        });
      } else if (spec.mode === 'listen') {
        const server = createServer();
        const nd = new SocketNetdev(server);
        server.on('connection', (s) => nd.attachPeer(s));
        server.once('error', (e) => reject(new Error(`-netdev socket,listen=${where}: ${e.message}`)));
        server.listen(spec.port, spec.host || undefined, () => resolve(nd));
      } else {
        const socket = createSocket({ type: 'udp4', reuseAddr: true });
        const nd = new SocketNetdev(undefined, { socket, host: spec.host, port: spec.port });
        socket.once('error', (e) => reject(new Error(`-netdev socket,mcast=${where}: ${e.message}`)));
        socket.on('message', (msg) => nd.onFrame(new Uint8Array(msg)));
        socket.bind(spec.port, () => {
          try {
            socket.addMembership(spec.host, spec.localaddr);
            socket.setMulticastLoopback(true);
            if (spec.localaddr) socket.setMulticastInterface(spec.localaddr);
          } catch (e) {
            reject(new Error(`-netdev socket,mcast=${where}: ${(e as Error).message}`));
            return;
          }
          resolve(nd);
        });
      }
    });
  }

  /** Where received frames go (to the NIC's ring). */
  setReceiver(deliver: (frame: Uint8Array) => void): void {
    this.onFrame = deliver;
  }

  /** The port a `listen=` netdev got (for `listen=:0` in tests). */
  get listenPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** A frame from the guest. */
  send(frame: Uint8Array): void {
    if (this.udp) {
      this.udp.socket.send(frame, this.udp.port, this.udp.host);
      return;
    }
    if (!this.peer || this.peer.destroyed) {
      this.counters.txDropped++;
      return;
    }
    const header = Buffer.alloc(4);
    header.writeUInt32BE(frame.length, 0);
    this.peer.write(Buffer.concat([header, frame]));
  }

  close(): void {
    this.peer?.destroy();
    this.server?.close();
    this.udp?.socket.close();
  }

  private attachPeer(s: Socket): void {
    this.peer?.destroy();
    this.peer = s;
    s.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUInt32BE(0);
        if (length > MAX_STREAM_FRAME) {
          // Not QEMU's framing: drop the peer rather than read garbage as frames.
          this.counters.badPeers++;
          s.destroy();
          return;
        }
        if (pending.length < 4 + length) break;
        this.onFrame(new Uint8Array(pending.subarray(4, 4 + length)));
        pending = pending.subarray(4 + length);
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => {
      if (this.peer === s) this.peer = undefined;
    });
  }
}
