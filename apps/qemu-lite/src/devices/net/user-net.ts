/**
 * `-netdev user`: the guest's side of QEMU's user-mode network (libslirp), the subset that is
 * answered by the virtual gateway itself, with no host sockets: QEMU's addresses (network
 * 10.0.2.0/24, gateway and host 10.0.2.2, DNS 10.0.2.3, the guest 10.0.2.15 by DHCP), and
 *
 * - ARP for the gateway's and the DNS server's addresses, answered with libslirp's MAC for them
 *   (52:55 then the IPv4 address: `special_ethaddr` with the target address, `arp_input`);
 * - DHCP (RFC 2131): DISCOVER gets an OFFER of 10.0.2.15, REQUEST of that address an ACK (any
 *   other a NAK), with the options libslirp's `bootp_reply` gives: subnet mask, router, DNS
 *   server, lease time (24 h), server identifier;
 * - ICMP echo (RFC 792) to the gateway and the DNS server, answered at once.
 *
 * The guest's TCP and UDP (but DHCP) go to `forward`, the NAT to the host's sockets
 * (netdev/user-nat.ts, in the main thread, which answers through the NIC's receive ring); with
 * no `forward` (a machine without host sockets, such as the browser's) they are counted and
 * dropped, as is everything else. The gateway answers synchronously: `input(frame)` returns
 * the frames the guest gets back.
 */
import {
  BROADCAST_MAC,
  checksum,
  ETH_HLEN,
  ETH_P_ARP,
  ETH_P_IP,
  ethFrame,
  get16,
  get32,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  ipv4,
  ipv4Frame,
  put16,
  put32,
  udpDatagram,
} from './inet.js';

/** QEMU's defaults for `-netdev user` (net=10.0.2.0/24, host=10.0.2.2, dns=10.0.2.3, dhcpstart=10.0.2.15). */
export const USER_NET = {
  network: ipv4('10.0.2.0'),
  netmask: ipv4('255.255.255.0'),
  gateway: ipv4('10.0.2.2'),
  dns: ipv4('10.0.2.3'),
  guest: ipv4('10.0.2.15'),
  /** RFC 2132 option 51, libslirp's LEASE_TIME. */
  leaseSeconds: 24 * 3600,
} as const;

const BOOTP_SERVER = 67;
const BOOTP_CLIENT = 68;
const DHCP_MAGIC = 0x63825363;
const DHCPDISCOVER = 1;
const DHCPOFFER = 2;
const DHCPREQUEST = 3;
const DHCPACK = 5;
const DHCPNAK = 6;
const ICMP_ECHOREPLY = 0;
const ICMP_ECHO = 8;

/** What the gateway did with the guest's frames, for tests and `-d` diagnostics. */
export interface UserNetCounters {
  arp: number;
  dhcp: number;
  icmpEcho: number;
  /** TCP and UDP frames passed to the NAT. */
  forwarded: number;
  dropped: number;
}

/** libslirp's MAC for one of its addresses: 52:55 then the IPv4 address. */
export function specialMac(addr: number): Uint8Array {
  const mac = new Uint8Array([0x52, 0x55, 0, 0, 0, 0]);
  put32(mac, 2, addr);
  return mac;
}

export class UserNet {
  readonly counters: UserNetCounters = { arp: 0, dhcp: 0, icmpEcho: 0, forwarded: 0, dropped: 0 };
  private ipId = 0;

  /** `forward`: where TCP and UDP go (the NAT); without it they are dropped. */
  constructor(private readonly forward?: (frame: Uint8Array) => void) {}

  /** The frames the gateway sends back for one frame from the guest (often none). */
  input(frame: Uint8Array): Uint8Array[] {
    if (frame.length < ETH_HLEN) return this.drop();
    const type = get16(frame, 12);
    if (type === ETH_P_ARP) return this.arp(frame);
    if (type === ETH_P_IP) return this.ip(frame);
    return this.drop();
  }

  private drop(): Uint8Array[] {
    this.counters.dropped++;
    return [];
  }

  private ours(addr: number): boolean {
    return addr === USER_NET.gateway || addr === USER_NET.dns;
  }

  /** RFC 826: a request for one of our addresses gets a reply from that address's MAC. */
  private arp(f: Uint8Array): Uint8Array[] {
    const a = ETH_HLEN;
    if (f.length < a + 28) return this.drop();
    // Ethernet (1), IPv4, 6-byte and 4-byte addresses, a request (1).
    if (get16(f, a) !== 1 || get16(f, a + 2) !== ETH_P_IP || f[a + 4] !== 6 || f[a + 5] !== 4)
      return this.drop();
    const target = get32(f, a + 24);
    if (get16(f, a + 6) !== 1 || !this.ours(target)) return this.drop();
    this.counters.arp++;
    const senderMac = f.subarray(a + 8, a + 14);
    const mac = specialMac(target);
    const r = ethFrame(senderMac, mac, ETH_P_ARP, 28);
    put16(r, a, 1);
    put16(r, a + 2, ETH_P_IP);
    r[a + 4] = 6;
    r[a + 5] = 4;
    put16(r, a + 6, 2); // reply
    r.set(mac, a + 8);
    put32(r, a + 14, target);
    r.set(senderMac, a + 18);
    r.set(f.subarray(a + 14, a + 18), a + 24); // the sender's protocol address
    return [r];
  }

  private ip(f: Uint8Array): Uint8Array[] {
    const ip = ETH_HLEN;
    if (f.length < ip + 20) return this.drop();
    const ihl = (f[ip] & 0x0f) * 4;
    const total = get16(f, ip + 2);
    // IPv4, a sane header length and total length, a correct header checksum, not a fragment.
    if (f[ip] >>> 4 !== 4 || ihl < 20 || total < ihl || ip + total > f.length) return this.drop();
    if (checksum(f, ip, ip + ihl) !== 0) return this.drop();
    if ((get16(f, ip + 6) & 0x3fff) !== 0) return this.drop();
    const protocol = f[ip + 9];
    const src = get32(f, ip + 12);
    const dst = get32(f, ip + 16);
    const payload = f.subarray(ip + ihl, ip + total);
    const guestMac = f.subarray(6, 12);
    if (protocol === IPPROTO_ICMP && this.ours(dst)) return this.icmp(guestMac, src, dst, payload);
    if (protocol === IPPROTO_UDP && payload.length >= 8 && get16(payload, 2) === BOOTP_SERVER)
      return this.dhcp(payload.subarray(8, get16(payload, 4)));
    if ((protocol === IPPROTO_TCP || protocol === IPPROTO_UDP) && this.forward) {
      this.counters.forwarded++;
      this.forward(f);
      return [];
    }
    return this.drop();
  }

  /** RFC 792: an echo request to one of our addresses comes back as a reply with the same data. */
  private icmp(guestMac: Uint8Array, src: number, dst: number, icmp: Uint8Array): Uint8Array[] {
    if (icmp.length < 8 || icmp[0] !== ICMP_ECHO || checksum(icmp, 0, icmp.length) !== 0) return this.drop();
    this.counters.icmpEcho++;
    const reply = icmp.slice();
    reply[0] = ICMP_ECHOREPLY;
    put16(reply, 2, 0);
    put16(reply, 2, checksum(reply, 0, reply.length));
    return [ipv4Frame(guestMac, specialMac(dst), dst, src, IPPROTO_ICMP, reply, this.nextId())];
  }

  private nextId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  /** RFC 2131 §4.3: DISCOVER → OFFER, REQUEST → ACK (or NAK for an address we did not offer). */
  private dhcp(bootp: Uint8Array): Uint8Array[] {
    if (bootp.length < 240 || bootp[0] !== 1 || get32(bootp, 236) !== DHCP_MAGIC) return this.drop();
    const options = parseOptions(bootp.subarray(240));
    const kind = options.get(53)?.[0];
    let reply: number;
    if (kind === DHCPDISCOVER) reply = DHCPOFFER;
    else if (kind === DHCPREQUEST) {
      const requested = options.get(50);
      const addr = requested && requested.length === 4 ? get32(requested, 0) : get32(bootp, 12);
      reply = addr === USER_NET.guest ? DHCPACK : DHCPNAK;
    } else return this.drop();
    this.counters.dhcp++;
    const out = new Uint8Array(300);
    out[0] = 2; // BOOTREPLY
    out[1] = 1;
    out[2] = 6;
    out.set(bootp.subarray(4, 8), 4); // xid
    out.set(bootp.subarray(10, 12), 10); // flags
    if (reply !== DHCPNAK) put32(out, 16, USER_NET.guest); // yiaddr
    put32(out, 20, USER_NET.gateway); // siaddr
    out.set(bootp.subarray(28, 44), 28); // chaddr
    put32(out, 236, DHCP_MAGIC);
    let at = 240;
    const opt = (code: number, value: number[]) => {
      out[at++] = code;
      out[at++] = value.length;
      for (const v of value) out[at++] = v;
    };
    const addr = (v: number) => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    opt(53, [reply]);
    opt(54, addr(USER_NET.gateway));
    if (reply !== DHCPNAK) {
      opt(51, addr(USER_NET.leaseSeconds));
      opt(1, addr(USER_NET.netmask));
      opt(3, addr(USER_NET.gateway));
      opt(6, addr(USER_NET.dns));
    }
    out[at++] = 255;
    // To the broadcast address: the client has no address yet (RFC 2131 §4.1).
    const udp = udpDatagram(USER_NET.gateway, 0xffffffff, BOOTP_SERVER, BOOTP_CLIENT, out);
    return [
      ipv4Frame(
        BROADCAST_MAC,
        specialMac(USER_NET.gateway),
        USER_NET.gateway,
        0xffffffff,
        IPPROTO_UDP,
        udp,
        this.nextId(),
      ),
    ];
  }
}

/** RFC 2132 options (code → value) up to END; a truncated option ends the list. */
function parseOptions(b: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let i = 0;
  while (i < b.length) {
    const code = b[i++];
    if (code === 0) continue; // PAD
    if (code === 255 || i >= b.length) break;
    const len = b[i++];
    if (i + len > b.length) break;
    if (!out.has(code)) out.set(code, b.subarray(i, i + len));
    i += len;
  }
  return out;
}
