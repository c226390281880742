/**
 * `-netdev user`'s NAT to the host's sockets, in the main thread (libslirp's `tcp_input`,
 * `udp_input` and `slirp_add_hostfwd`): the guest's TCP connections and UDP datagrams to an
 * outside address become the host's own sockets, and what comes back is framed for the guest
 * as coming from that address through the gateway (libslirp's MAC for 10.0.2.2). The addresses
 * are QEMU's: 10.0.2.2 is the host's loopback (127.0.0.1), 10.0.2.3 port 53 is the host's DNS
 * resolver (the first IPv4 server Node's resolver uses, i.e. /etc/resolv.conf's; libslirp's
 * `get_dns_addr`), other addresses in 10.0.2.0/24 are nobody. `hostfwd=tcp:[HOST]:PORT-[GUEST]:PORT`
 * listens on the host and opens a connection to the guest for each accepted one, from 10.0.2.2.
 *
 * ARP, DHCP and ping are answered in the vCPU thread (devices/net/user-net.ts), which passes
 * the rest here through the NIC's `net-tx` messages; frames for the guest go back through the
 * NIC's receive ring. Nothing the guest sends can throw here: a malformed frame is counted and
 * dropped.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  checksum,
  ETH_HLEN,
  ETH_P_IP,
  get16,
  get32,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipv4,
  ipv4Frame,
  ipv4Text,
  pseudoHeaderSum,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  tcpSegment,
  udpDatagram,
} from '../devices/net/inet.js';
import { specialMac, USER_NET } from '../devices/net/user-net.js';
import type { HostFwd } from '../devices/virtio/net.js';
import { NatTcpConnection, type TcpSegmentIn, type TcpSegmentOut } from './nat-tcp.js';

export interface UserNatOptions {
  /** The NIC's MAC: where frames for the guest go. */
  guestMac: Uint8Array;
  hostfwd?: readonly HostFwd[];
  /** Where DNS queries to 10.0.2.3 go; default: the host's first IPv4 resolver, port 53. */
  dnsServer?: { host: string; port: number };
}

/** A UDP flow is forgotten after this long without traffic (libslirp's SO_EXPIRE, 240 s). */
const UDP_EXPIRE_MS = 240_000;

interface UdpFlow {
  socket: UdpSocket;
  timer: ReturnType<typeof setTimeout>;
}

export class UserNat {
  readonly counters = { tcpConnections: 0, tcpRefused: 0, udp: 0, dns: 0, dropped: 0 };
  private readonly tcp = new Map<string, NatTcpConnection>();
  private readonly udp = new Map<string, UdpFlow>();
  private readonly servers: Server[] = [];
  private guestMac: Uint8Array;
  private ipId = 0;
  /** The local port of the next hostfwd connection as the guest sees it (from 10.0.2.2). */
  private nextFwdPort = 1024;
  private closed = false;

  private constructor(
    options: UserNatOptions,
    private readonly deliver: (frame: Uint8Array) => void,
  ) {
    this.guestMac = options.guestMac;
    this.dnsServer = options.dnsServer ?? hostDnsServer();
  }

  private readonly dnsServer: { host: string; port: number } | undefined;

  /** Opens the NAT and its `hostfwd=` listeners; rejects naming the rule when a port is taken. */
  static async open(options: UserNatOptions, deliver: (frame: Uint8Array) => void): Promise<UserNat> {
    const nat = new UserNat(options, deliver);
    try {
      for (const fwd of options.hostfwd ?? []) await nat.listen(fwd);
    } catch (error) {
      nat.close();
      throw error;
    }
    return nat;
  }

  /** The host ports the `hostfwd=` rules got, in order (for HOSTPORT 0 in tests). */
  get hostfwdPorts(): number[] {
    return this.servers.map((s) => {
      const a = s.address();
      return a && typeof a === 'object' ? a.port : 0;
    });
  }

  /** A frame the guest sent that the gateway did not answer itself; false if it was dropped. */
  input(f: Uint8Array): boolean {
    if (this.closed || f.length < ETH_HLEN + 20 || get16(f, 12) !== ETH_P_IP) return this.drop();
    const ip = ETH_HLEN;
    const ihl = (f[ip] & 0x0f) * 4;
    const total = get16(f, ip + 2);
    if (f[ip] >>> 4 !== 4 || ihl < 20 || total < ihl || ip + total > f.length) return this.drop();
    if (checksum(f, ip, ip + ihl) !== 0 || (get16(f, ip + 6) & 0x3fff) !== 0) return this.drop();
    const protocol = f[ip + 9];
    const src = get32(f, ip + 12);
    const dst = get32(f, ip + 16);
    const l4 = f.subarray(ip + ihl, ip + total);
    if (checksum(l4, 0, l4.length, pseudoHeaderSum(src, dst, protocol, l4.length)) !== 0) {
      // UDP's checksum 0 means "none" (RFC 768); TCP's is mandatory.
      if (!(protocol === IPPROTO_UDP && l4.length >= 8 && get16(l4, 6) === 0)) return this.drop();
    }
    this.guestMac = f.slice(6, 12);
    if (protocol === IPPROTO_TCP) return this.tcpInput(src, dst, l4);
    if (protocol === IPPROTO_UDP) return this.udpInput(src, dst, l4);
    return this.drop();
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.tcp.values()]) c.destroy();
    this.tcp.clear();
    for (const flow of this.udp.values()) {
      clearTimeout(flow.timer);
      flow.socket.close();
    }
    this.udp.clear();
    for (const s of this.servers) s.close();
  }

  private drop(): false {
    this.counters.dropped++;
    return false;
  }

  /** The host's address for a guest destination, or undefined for nobody (libslirp's rules). */
  private hostAddress(dst: number, port: number): { host: string; port: number } | undefined {
    // Port 0 is nobody's (and Node's dgram send throws on it).
    if (port === 0) return undefined;
    if (dst === USER_NET.gateway) return { host: '127.0.0.1', port };
    if (dst === USER_NET.dns) return port === 53 ? this.dnsServer : undefined;
    if ((dst & USER_NET.netmask) === USER_NET.network) return undefined;
    const first = dst >>> 24;
    if (first === 0 || first === 127 || first >= 224) return undefined;
    return { host: ipv4Text(dst), port };
  }

  private tcpInput(src: number, dst: number, t: Uint8Array): boolean {
    if (t.length < 20) return this.drop();
    const off = (t[12] >>> 4) * 4;
    if (off < 20 || off > t.length) return this.drop();
    const seg: TcpSegmentIn = {
      seq: get32(t, 4),
      ack: get32(t, 8),
      flags: t[13],
      window: get16(t, 14),
      data: t.subarray(off),
      mss: tcpMss(t, off),
    };
    const sport = get16(t, 0);
    const dport = get16(t, 2);
    const key = `${sport}|${dst}|${dport}`;
    const existing = this.tcp.get(key);
    if (existing) {
      existing.input(seg);
      return true;
    }
    const emit = this.tcpEmitter(dst, dport, src, sport);
    // A segment for no connection: RST unless it is one (RFC 9293 §3.10.7.1).
    if (seg.flags & TCP_RST) return true;
    if ((seg.flags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) {
      this.counters.tcpRefused++;
      if (seg.flags & TCP_ACK) emit({ seq: seg.ack, ack: 0, flags: TCP_RST, window: 0 });
      else emit({ seq: 0, ack: (seg.seq + seg.data.length) >>> 0, flags: TCP_RST | TCP_ACK, window: 0 });
      return true;
    }
    const to = this.hostAddress(dst, dport);
    if (!to) {
      this.counters.tcpRefused++;
      emit({ seq: 0, ack: (seg.seq + 1) >>> 0, flags: TCP_RST | TCP_ACK, window: 0 });
      return true;
    }
    this.counters.tcpConnections++;
    // Half-open allowed: the host's FIN is the guest's to see; the guest may still send (RFC 9293 §3.6).
    const socket = connect({ host: to.host, port: to.port, allowHalfOpen: true });
    socket.setNoDelay(true);
    const c = NatTcpConnection.fromGuest(seg, socket, emit, () => {
      if (this.tcp.get(key) === c) this.tcp.delete(key);
    });
    this.tcp.set(key, c);
    return true;
  }

  /** Segments from `from:fromPort` to the guest's `to:toPort`. */
  private tcpEmitter(
    from: number,
    fromPort: number,
    to: number,
    toPort: number,
  ): (seg: TcpSegmentOut) => void {
    return (seg) => {
      if (this.closed && !(seg.flags & TCP_RST)) return;
      const t = tcpSegment(
        from,
        to,
        fromPort,
        toPort,
        seg.seq,
        seg.ack,
        seg.flags,
        seg.window,
        seg.data,
        seg.mss,
      );
      this.deliver(
        ipv4Frame(this.guestMac, specialMac(USER_NET.gateway), from, to, IPPROTO_TCP, t, this.nextId()),
      );
    };
  }

  private udpInput(src: number, dst: number, u: Uint8Array): boolean {
    if (u.length < 8 || get16(u, 4) < 8 || get16(u, 4) > u.length) return this.drop();
    const sport = get16(u, 0);
    const dport = get16(u, 2);
    const data = u.subarray(8, get16(u, 4));
    const to = this.hostAddress(dst, dport);
    if (!to) return this.drop();
    if (dst === USER_NET.dns) this.counters.dns++;
    else this.counters.udp++;
    const key = `${sport}|${dst}|${dport}`;
    let flow = this.udp.get(key);
    if (!flow) {
      const socket = createSocket('udp4');
      socket.on('message', (msg) => {
        if (this.closed) return;
        // The reply comes from where the guest sent it, as the guest knows that address.
        const udp = udpDatagram(dst, src, dport, sport, new Uint8Array(msg));
        this.deliver(
          ipv4Frame(this.guestMac, specialMac(USER_NET.gateway), dst, src, IPPROTO_UDP, udp, this.nextId()),
        );
      });
      socket.on('error', () => this.forgetUdp(key));
      flow = { socket, timer: setTimeout(() => this.forgetUdp(key), UDP_EXPIRE_MS) };
      flow.timer.unref?.();
      this.udp.set(key, flow);
    } else flow.timer.refresh();
    flow.socket.send(data, to.port, to.host, () => {});
    return true;
  }

  private forgetUdp(key: string): void {
    const flow = this.udp.get(key);
    if (!flow) return;
    clearTimeout(flow.timer);
    this.udp.delete(key);
    try {
      flow.socket.close();
    } catch {
      // already closed by its error
    }
  }

  private listen(fwd: HostFwd): Promise<void> {
    const guest = fwd.guestAddr ? ipv4(fwd.guestAddr) : USER_NET.guest;
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) =>
      this.forward(socket, guest, fwd.guestPort),
    );
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (e) =>
        reject(
          new Error(
            `-netdev user,hostfwd=tcp:${fwd.hostAddr}:${fwd.hostPort}-${fwd.guestAddr ?? ''}:${fwd.guestPort}: could not set up host forwarding rule: ${e.message}`,
          ),
        ),
      );
      server.listen(fwd.hostPort, fwd.hostAddr || undefined, () => resolve());
    });
  }

  /** An accepted host connection becomes a connection from 10.0.2.2 to the guest's port. */
  private forward(socket: Socket, guest: number, guestPort: number): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    let port = this.nextFwdPort;
    for (let i = 0; i < 64512 && this.tcp.has(`${guestPort}|${USER_NET.gateway}|${port}`); i++)
      port = port >= 65535 ? 1024 : port + 1;
    this.nextFwdPort = port >= 65535 ? 1024 : port + 1;
    const key = `${guestPort}|${USER_NET.gateway}|${port}`;
    const emit = this.tcpEmitter(USER_NET.gateway, port, guest, guestPort);
    this.counters.tcpConnections++;
    const c = NatTcpConnection.toGuest(socket, emit, () => {
      if (this.tcp.get(key) === c) this.tcp.delete(key);
    });
    this.tcp.set(key, c);
  }

  private nextId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }
}

/** The MSS option (kind 2) of a TCP header with `off` bytes, if present (RFC 9293 §3.2). */
function tcpMss(t: Uint8Array, off: number): number | undefined {
  let i = 20;
  while (i < off) {
    const kind = t[i];
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= off) break;
    const len = t[i + 1];
    if (len < 2 || i + len > off) break;
    if (kind === 2 && len === 4) return get16(t, i + 2);
    i += len;
  }
  return undefined;
}

/** The host's first IPv4 DNS server (Node reads /etc/resolv.conf), port 53; undefined if none. */
function hostDnsServer(): { host: string; port: number } | undefined {
  for (const s of getServers()) {
    const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s);
    if (m) return { host: m[1], port: m[2] ? Number(m[2]) : 53 };
  }
  return undefined;
}
