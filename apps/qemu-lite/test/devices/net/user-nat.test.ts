/**
 * `-netdev user`'s NAT (src/netdev/user-nat.ts) against the host's real sockets: a guest's TCP
 * segments and UDP datagrams (built here, checksums by this file's own RFC 1071 sum) reach TCP
 * and UDP servers on 127.0.0.1 through 10.0.2.2, DNS to 10.0.2.3 goes to the configured resolver,
 * `hostfwd=` opens connections into the guest, and every frame back is checked the same way.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RTO_MS } from '../../../src/netdev/nat-tcp.js';
import { UserNat } from '../../../src/netdev/user-nat.js';

const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
const GW_MAC = [0x52, 0x55, 10, 0, 2, 2];
const GUEST = [10, 0, 2, 15];
const GATEWAY = [10, 0, 2, 2];
const DNS = [10, 0, 2, 3];
const SYN = 2;
const RST = 4;
const PSH = 8;
const ACK = 0x10;
const FIN = 1;

function inetSum(bytes: Uint8Array, seed = 0): number {
  let sum = seed;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}
const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const be32 = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const pseudo = (src: number[], dst: number[], proto: number, len: number) =>
  ((src[0] << 8) | src[1]) +
  ((src[2] << 8) | src[3]) +
  ((dst[0] << 8) | dst[1]) +
  ((dst[2] << 8) | dst[3]) +
  proto +
  len;

function frame(src: number[], dst: number[], proto: number, l4: number[]): Uint8Array {
  const h = [0x45, 0, ...be16(20 + l4.length), 0, 1, 0, 0, 64, proto, 0, 0, ...src, ...dst];
  const s = inetSum(new Uint8Array(h));
  h[10] = s >> 8;
  h[11] = s & 0xff;
  return new Uint8Array([...GW_MAC, ...GUEST_MAC, 8, 0, ...h, ...l4]);
}

function tcp(
  dst: number[],
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  data: number[] = [],
  opts: { window?: number; mss?: number; badSum?: boolean; src?: number[] } = {},
): Uint8Array {
  const src = opts.src ?? GUEST;
  const options = opts.mss !== undefined ? [2, 4, ...be16(opts.mss)] : [];
  const hlen = 20 + options.length;
  const t = [...be16(sport), ...be16(dport), ...be32(seq), ...be32(ack), (hlen / 4) << 4, flags];
  t.push(...be16(opts.window ?? 65535), 0, 0, 0, 0, ...options, ...data);
  const s = inetSum(new Uint8Array(t), pseudo(src, dst, 6, t.length));
  t[16] = s >> 8;
  t[17] = (s & 0xff) ^ (opts.badSum ? 1 : 0);
  return frame(src, dst, 6, t);
}

function udp(dst: number[], sport: number, dport: number, data: number[]): Uint8Array {
  const u = [...be16(sport), ...be16(dport), ...be16(8 + data.length), 0, 0, ...data];
  const s = inetSum(new Uint8Array(u), pseudo(GUEST, dst, 17, u.length));
  u[6] = s >> 8;
  u[7] = s & 0xff;
  return frame(GUEST, dst, 17, u);
}

interface Seg {
  src: number[];
  dst: number[];
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  data: Uint8Array;
  mss?: number;
  proto: number;
}

/** Parses a frame for the guest, checking its MACs and both checksums independently. */
function parse(f: Uint8Array): Seg {
  expect([...f.subarray(0, 6)]).toEqual([...GUEST_MAC]);
  expect([...f.subarray(6, 12)]).toEqual(GW_MAC);
  const ip = f.subarray(14);
  expect(inetSum(ip.subarray(0, 20))).toBe(0);
  const total = (ip[2] << 8) | ip[3];
  const src = [...ip.subarray(12, 16)];
  const dst = [...ip.subarray(16, 20)];
  const l4 = ip.subarray(20, total);
  expect(inetSum(l4, pseudo(src, dst, ip[9], l4.length))).toBe(0);
  const g16 = (o: number) => (l4[o] << 8) | l4[o + 1];
  const g32 = (o: number) => ((g16(o) << 16) | g16(o + 2)) >>> 0;
  if (ip[9] === 17)
    return {
      src,
      dst,
      sport: g16(0),
      dport: g16(2),
      seq: 0,
      ack: 0,
      flags: 0,
      window: 0,
      data: l4.slice(8),
      proto: 17,
    };
  const off = (l4[12] >> 4) * 4;
  return {
    src,
    dst,
    sport: g16(0),
    dport: g16(2),
    seq: g32(4),
    ack: g32(8),
    flags: l4[13],
    window: g16(14),
    data: l4.slice(off),
    mss: off >= 24 && l4[20] === 2 ? g16(22) : undefined,
    proto: 6,
  };
}

/** The NAT with its frames for the guest collected, parsed, and waited for. */
async function harness(options: Partial<Parameters<typeof UserNat.open>[0]> = {}) {
  const out: Seg[] = [];
  let waiter: (() => void) | undefined;
  const nat = await UserNat.open({ guestMac: GUEST_MAC, ...options }, (f) => {
    out.push(parse(f));
    waiter?.();
  });
  opened.push(nat);
  async function next(match: (s: Seg) => boolean = () => true, ms = 3000): Promise<Seg> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = out.findIndex(match);
      if (i >= 0) return out.splice(i, 1)[0];
      if (Date.now() > deadline)
        throw new Error(`no frame matched; have ${JSON.stringify(out.map((s) => s.flags))}`);
      await new Promise<void>((r) => {
        waiter = r;
        setTimeout(r, 20);
      });
    }
  }
  return { nat, out, next };
}

const opened: { close(): void }[] = [];
afterEach(() => {
  for (const o of opened.splice(0)) o.close();
});

function tcpServer(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  opened.push(server);
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as { port: number }).port })),
  );
}

function udpServer(reply: (msg: Buffer) => Buffer): Promise<{ socket: UdpSocket; port: number }> {
  const socket = createSocket('udp4');
  opened.push(socket);
  socket.on('message', (msg, rinfo) => socket.send(reply(msg), rinfo.port, rinfo.address));
  return new Promise((r) => socket.bind(0, '127.0.0.1', () => r({ socket, port: socket.address().port })));
}

const text = (s: string) => [...Buffer.from(s)];

describe('-netdev user NAT: TCP from the guest', () => {
  it('connects 10.0.2.2:PORT to the host loopback, carries data both ways and closes with FINs', async () => {
    let got = '';
    const { port } = await tcpServer((s) => {
      s.on('data', (d) => {
        const first = !got.includes('\n');
        got += d.toString();
        if (first && got.includes('\n')) s.end('hello from the host\n');
      });
    });
    const { nat, next } = await harness();
    nat.input(tcp(GATEWAY, 40000, port, 1000, 0, SYN, [], { mss: 1460 }));
    const synAck = await next();
    expect(synAck.flags).toBe(SYN | ACK);
    expect(synAck.ack).toBe(1001);
    expect(synAck.src).toEqual(GATEWAY);
    expect(synAck.sport).toBe(port);
    expect(synAck.dport).toBe(40000);
    expect(synAck.mss).toBe(1460);
    const iss = synAck.seq;
    nat.input(tcp(GATEWAY, 40000, port, 1001, iss + 1, ACK));
    nat.input(tcp(GATEWAY, 40000, port, 1001, iss + 1, ACK | PSH, text('GET /\n')));
    const ackOfData = await next((s) => s.data.length === 0 && s.ack === 1007);
    expect(ackOfData.flags & ACK).toBe(ACK);
    const data = await next((s) => s.data.length > 0);
    expect(Buffer.from(data.data).toString()).toBe('hello from the host\n');
    expect(data.seq).toBe(iss + 1);
    const fin = await next((s) => (s.flags & FIN) !== 0);
    expect(fin.seq).toBe(iss + 1 + data.data.length);
    expect(got).toBe('GET /\n');
    // The host closed its side only: what the guest sends now still reaches it.
    nat.input(tcp(GATEWAY, 40000, port, 1007, fin.seq + 1, ACK | PSH, text('bye')));
    await next((s) => s.ack === 1010);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toBe('GET /\nbye');
    nat.input(tcp(GATEWAY, 40000, port, 1010, fin.seq + 1, ACK | FIN));
    const lastAck = await next((s) => s.ack === 1011);
    expect(lastAck.flags).toBe(ACK);
    expect(nat.counters.tcpConnections).toBe(1);
  });

  it('answers a SYN to a closed host port with RST-ACK, as the host refused it', async () => {
    const { port, server } = await tcpServer(() => {});
    await new Promise((r) => server.close(r));
    const { nat, next } = await harness();
    nat.input(tcp(GATEWAY, 40001, port, 5000, 0, SYN, [], { mss: 1460 }));
    const rst = await next();
    expect(rst.flags).toBe(RST | ACK);
    expect(rst.ack).toBe(5001);
  });

  it('refuses a SYN to an address that is nobody in 10.0.2.0/24, and drops a bad checksum', async () => {
    const { nat, next, out } = await harness();
    nat.input(tcp([10, 0, 2, 9], 40002, 80, 7, 0, SYN));
    expect((await next()).flags).toBe(RST | ACK);
    nat.input(tcp(GATEWAY, 40003, 80, 7, 0, SYN, [], { badSum: true }));
    nat.input(new Uint8Array(30));
    nat.input(new Uint8Array(0));
    await new Promise((r) => setTimeout(r, 50));
    expect(out).toEqual([]);
    expect(nat.counters.dropped).toBe(3);
  });

  it('sends the host data again from the first unacknowledged byte when the guest does not ACK it', async () => {
    const { port } = await tcpServer((s) => s.write('once'));
    const { nat, next } = await harness();
    nat.input(tcp(GATEWAY, 40004, port, 0, 0, SYN, [], { mss: 1460 }));
    const synAck = await next();
    nat.input(tcp(GATEWAY, 40004, port, 1, synAck.seq + 1, ACK));
    const first = await next((s) => s.data.length > 0);
    const t0 = Date.now();
    const again = await next((s) => s.data.length > 0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(RTO_MS - 20);
    expect(again.seq).toBe(first.seq);
    expect(Buffer.from(again.data).toString()).toBe('once');
    nat.input(tcp(GATEWAY, 40004, port, 1, again.seq + 4, ACK));
    await new Promise((r) => setTimeout(r, RTO_MS * 2));
    await expect(next((s) => s.data.length > 0, 100)).rejects.toThrow(/no frame/);
  });

  it('moves 300 KiB from the host within the guest window, in order, in MSS-sized segments', async () => {
    const payload = Buffer.alloc(300 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 9)) & 0xff;
    const { port } = await tcpServer((s) => s.end(payload));
    const { nat, next } = await harness();
    nat.input(tcp(GATEWAY, 40005, port, 0, 0, SYN, [], { mss: 1000, window: 8000 }));
    const synAck = await next();
    let expected = (synAck.seq + 1) >>> 0;
    nat.input(tcp(GATEWAY, 40005, port, 1, expected, ACK, [], { window: 8000 }));
    const received: Buffer[] = [];
    for (;;) {
      const s = await next();
      expect(s.data.length).toBeLessThanOrEqual(1000);
      if (s.seq !== expected) continue; // a retransmission of what we already have
      received.push(Buffer.from(s.data));
      expected = (expected + s.data.length + (s.flags & FIN ? 1 : 0)) >>> 0;
      nat.input(tcp(GATEWAY, 40005, port, 1, expected, ACK, [], { window: 8000 }));
      if (s.flags & FIN) break;
    }
    expect(Buffer.concat(received).equals(payload)).toBe(true);
  });
});

describe('-netdev user NAT: UDP and DNS', () => {
  it('relays a datagram to 10.0.2.2:PORT and frames the reply from that address and port', async () => {
    const { port } = await udpServer((m) => Buffer.from(`echo:${m}`));
    const { nat, next } = await harness();
    nat.input(udp(GATEWAY, 5555, port, text('ping')));
    const r = await next();
    expect(r.proto).toBe(17);
    expect(r.src).toEqual(GATEWAY);
    expect(r.dst).toEqual(GUEST);
    expect(r.sport).toBe(port);
    expect(r.dport).toBe(5555);
    expect(Buffer.from(r.data).toString()).toBe('echo:ping');
  });

  it('forwards DNS queries to 10.0.2.3:53 to the resolver and answers from 10.0.2.3:53', async () => {
    const { port } = await udpServer((m) => Buffer.concat([m.subarray(0, 2), Buffer.from('answer')]));
    const { nat, next } = await harness({ dnsServer: { host: '127.0.0.1', port } });
    nat.input(udp(DNS, 33333, 53, [0xab, 0xcd, 1, 0]));
    const r = await next();
    expect(r.src).toEqual(DNS);
    expect(r.sport).toBe(53);
    expect([...r.data.subarray(0, 2)]).toEqual([0xab, 0xcd]);
    expect(nat.counters.dns).toBe(1);
    // 10.0.2.3 is only a DNS server: other ports are nobody's.
    nat.input(udp(DNS, 33333, 54, [1]));
    expect(nat.counters.dropped).toBe(1);
    // Port 0 is nobody's either (Node's dgram would throw on it).
    nat.input(udp([10, 0, 2, 2], 33333, 0, [1]));
    nat.input(udp([192, 0, 2, 1], 33333, 0, [1]));
    expect(nat.counters.dropped).toBe(3);
  });
});

describe('-netdev user NAT: hostfwd=tcp', () => {
  it('turns a host connection into a SYN from 10.0.2.2 to the guest port and carries data both ways', async () => {
    const { nat, next } = await harness({
      hostfwd: [{ protocol: 'tcp', hostAddr: '127.0.0.1', hostPort: 0, guestPort: 22 }],
    });
    const hostPort = nat.hostfwdPorts[0];
    expect(hostPort).toBeGreaterThan(0);
    const client = connect({ host: '127.0.0.1', port: hostPort });
    opened.push({ close: () => client.destroy() });
    let got = '';
    client.on('data', (d) => {
      got += d.toString();
    });
    const closed = new Promise((r) => client.on('close', r));
    // The host half-closes at once (as a client that sent its request does): the guest's answer
    // must still reach it (a socket without allowHalfOpen ends its side with the peer's FIN).
    client.end('from the host');
    const syn = await next();
    expect(syn.flags).toBe(SYN);
    expect(syn.src).toEqual(GATEWAY);
    expect(syn.dst).toEqual(GUEST);
    expect(syn.dport).toBe(22);
    expect(syn.mss).toBe(1460);
    const from = (seq: number, ack: number, flags: number, data: number[] = [], mss?: number) =>
      tcp(GATEWAY, 22, syn.sport, seq, ack, flags, data, { mss });
    nat.input(from(9000, syn.seq + 1, SYN | ACK, [], 1460));
    const ack = await next((s) => s.flags === ACK && s.data.length === 0);
    expect(ack.ack).toBe(9001);
    const data = await next((s) => s.data.length > 0);
    expect(Buffer.from(data.data).toString()).toBe('from the host');
    const fin = await next((s) => (s.flags & FIN) !== 0);
    expect(fin.seq).toBe(data.seq + data.data.length);
    nat.input(from(9001, fin.seq + 1, ACK | PSH, text('from the guest')));
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe('from the guest');
    nat.input(from(9015, fin.seq + 1, FIN | ACK));
    expect((await next((s) => s.ack === 9016)).flags).toBe(ACK);
    await closed;
  });

  it('refuses a taken host port by naming the rule', async () => {
    const { port } = await tcpServer(() => {});
    await expect(
      UserNat.open(
        {
          guestMac: GUEST_MAC,
          hostfwd: [{ protocol: 'tcp', hostAddr: '127.0.0.1', hostPort: port, guestPort: 80 }],
        },
        () => {},
      ),
    ).rejects.toThrow(`hostfwd=tcp:127.0.0.1:${port}-:80: could not set up host forwarding rule`);
  });
});

describe('-netdev user NAT: what a guest may send', () => {
  it('takes random segments, flags and bytes without throwing, and still connects afterwards', async () => {
    const { port } = await tcpServer((s) => s.on('data', () => s.write('ok')));
    // DNS to a local port nobody answers: random bytes go nowhere real.
    const { nat, next, out } = await harness({ dnsServer: { host: '127.0.0.1', port: 9 } });
    // A deterministic generator (xorshift32), so a failure repeats.
    let x = 0x12345678;
    const rnd = (n: number) => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    for (let i = 0; i < 400; i++) {
      const sport = 41000 + rnd(4);
      const data = Array.from({ length: rnd(40) }, () => rnd(256));
      const f = tcp(GATEWAY, sport, rnd(2) ? port : 9, rnd(2 ** 31), rnd(2 ** 31), rnd(64), data, {
        window: rnd(65536),
        mss: rnd(3) === 0 ? rnd(65536) : undefined,
      });
      nat.input(f);
      const garbage = f.slice();
      garbage[14 + rnd(garbage.length - 14)] ^= 1 << rnd(8);
      nat.input(garbage);
      nat.input(udp([10, 0, 2, rnd(4)], rnd(65536), rnd(3) ? 53 : 0, data));
    }
    await new Promise((r) => setTimeout(r, 200));
    out.length = 0;
    nat.input(tcp(GATEWAY, 42000, port, 0, 0, SYN, [], { mss: 1460 }));
    const synAck = await next((s) => s.dport === 42000 && s.flags === (SYN | ACK));
    nat.input(tcp(GATEWAY, 42000, port, 1, synAck.seq + 1, ACK | PSH, text('hi')));
    const reply = await next((s) => s.dport === 42000 && s.data.length > 0);
    expect(Buffer.from(reply.data).toString()).toBe('ok');
  });
});
