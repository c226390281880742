/**
 * `-netdev socket` (src/netdev/socket-netdev.ts) on real loopback sockets, and the shared frame
 * ring that carries what it receives to the vCPU thread (src/devices/net/frame-ring.ts).
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createFrameRing,
  FRAME_RING_BYTES,
  frameRingDropped,
  frameRingRead,
  frameRingWrite,
  openFrameRing,
} from '../../../src/devices/net/frame-ring.js';
import { HostNetdevs } from '../../../src/netdev/host-netdevs.js';
import { SocketNetdev } from '../../../src/netdev/socket-netdev.js';

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

function frame(n: number, length = 60): Uint8Array {
  return new Uint8Array(length).map((_, i) => (n + i) & 0xff);
}

/** Resolves with the next `count` frames `nd` receives. */
function frames(nd: SocketNetdev, count: number): Promise<Uint8Array[]> {
  return new Promise((resolve) => {
    const got: Uint8Array[] = [];
    nd.setReceiver((f) => {
      got.push(f);
      if (got.length === count) resolve(got);
    });
  });
}

async function open(spec: Parameters<typeof SocketNetdev.open>[0]): Promise<SocketNetdev> {
  const nd = await SocketNetdev.open(spec);
  opened.push(nd);
  return nd;
}

describe('the frame ring (main thread → vCPU thread)', () => {
  it('carries frames in order, across the end of the buffer, and drops what does not fit', () => {
    const r = openFrameRing(createFrameRing());
    expect(frameRingRead(r)).toBeUndefined();
    // Fill and drain repeatedly so that records wrap around the end.
    let n = 0;
    for (let round = 0; round < 5; round++) {
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 150; i++) {
        const f = frame(n++, 1514);
        expect(frameRingWrite(r, f)).toBe(true);
        sent.push(f);
      }
      // Buffer.equals: vitest's deep equality over 200 KiB of typed arrays takes seconds.
      for (const f of sent) expect(Buffer.from(frameRingRead(r)!).equals(f)).toBe(true);
      expect(frameRingRead(r)).toBeUndefined();
    }
    // Full: ~173 frames of 1516 bytes fit in 256 KiB; the rest are dropped and counted.
    let taken = 0;
    while (frameRingWrite(r, frame(0, 1514))) taken++;
    expect(taken).toBe(Math.floor(FRAME_RING_BYTES / 1516));
    expect(frameRingDropped(r)).toBe(1);
    expect(frameRingWrite(r, new Uint8Array(0x10000))).toBe(false);
  });
});

describe('-netdev socket', () => {
  it('listen= and connect= exchange frames with QEMU framing (4-byte big-endian length), both ways', async () => {
    const server = await open({ mode: 'listen', host: '127.0.0.1', port: 0 });
    const port = server.listenPort!;
    const fromClient = frames(server, 3);
    const client = await open({ mode: 'connect', host: '127.0.0.1', port });
    const fromServer = frames(client, 2);
    // The server learns of its peer asynchronously: send from the client first.
    for (let i = 0; i < 3; i++) client.send(frame(i, 60 + i * 700));
    expect(await fromClient).toEqual([frame(0, 60), frame(1, 760), frame(2, 1460)]);
    server.send(frame(9));
    server.send(frame(10, 1514));
    expect(await fromServer).toEqual([frame(9), frame(10, 1514)]);
  });

  it('reads a raw peer that speaks QEMU framing in pieces, and drops one that does not', async () => {
    const server = await open({ mode: 'listen', host: '127.0.0.1', port: 0 });
    const got = frames(server, 2);
    const peer: Socket = await new Promise((resolve) => {
      const s = connect(server.listenPort!, '127.0.0.1', () => resolve(s));
    });
    opened.push({ close: () => peer.destroy() });
    const bytes = Buffer.from([0, 0, 0, 3, 0xaa, 0xbb, 0xcc, 0, 0, 0, 2, 1, 2]);
    // One byte at a time: lengths and frames split across reads.
    for (const b of bytes) {
      peer.write(Buffer.from([b]));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await got).toEqual([new Uint8Array([0xaa, 0xbb, 0xcc]), new Uint8Array([1, 2])]);
    const closed = new Promise((r) => peer.once('close', r));
    peer.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    await closed;
    expect(server.counters.badPeers).toBe(1);
    // With no peer, the guest's frames are dropped (QEMU's listen= before a connection).
    server.send(frame(1));
    expect(server.counters.txDropped).toBe(1);
  });

  it('refuses connect= to a port nobody listens on, naming the address', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    await expect(SocketNetdev.open({ mode: 'connect', host: '127.0.0.1', port })).rejects.toThrow(
      `-netdev socket,connect=127.0.0.1:${port}: connect ECONNREFUSED`,
    );
  });

  it('mcast= puts each frame in one datagram that every member, the sender too, receives', async () => {
    const port = 20000 + (process.pid % 20000);
    const a = await open({ mode: 'mcast', host: '230.0.0.1', port, localaddr: '127.0.0.1' });
    const b = await open({ mode: 'mcast', host: '230.0.0.1', port, localaddr: '127.0.0.1' });
    const atA = frames(a, 1);
    const atB = frames(b, 1);
    a.send(frame(5, 100));
    expect(await atB).toEqual([frame(5, 100)]);
    expect(await atA).toEqual([frame(5, 100)]);
  });

  it('HostNetdevs gives each NIC a ring (socket, user NAT), fills it from the socket and wakes the machine', async () => {
    const server = await open({ mode: 'listen', host: '127.0.0.1', port: 0 });
    const hub = await HostNetdevs.open([
      { netdev: 'user' },
      { netdev: 'socket', socket: { mode: 'connect', host: '127.0.0.1', port: server.listenPort! } },
    ]);
    opened.push(hub);
    // The user NIC's ring carries its NAT's frames (netdev/user-nat.ts).
    expect(hub.nics![0]!.rxRing).toBeInstanceOf(SharedArrayBuffer);
    const ring = openFrameRing(hub.nics![1]!.rxRing!);
    const woken = new Promise<void>((r) => hub.setWake(r));
    const atServer = frames(server, 1);
    hub.send(1, frame(3));
    expect(await atServer).toEqual([frame(3)]);
    server.send(frame(4));
    await woken;
    expect(frameRingRead(ring)).toEqual(frame(4));
  });
});
