/**
 * `-netdev user`'s gateway (src/devices/net/user-net.ts) fed the frames a guest sends: ARP for
 * the gateway, a DHCP exchange, an ICMP echo, and what it must drop. Checksums are verified by
 * this file's own RFC 1071 sum, not the one under test.
 */
import { describe, expect, it } from 'vitest';
import { specialMac, USER_NET, UserNet } from '../../../src/devices/net/user-net.js';

const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** RFC 1071, written out independently: the folded ones'-complement sum, complemented. */
function inetSum(bytes: Uint8Array, seed = 0): number {
  let sum = seed;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

const be16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const ip = (a: number, b: number, c: number, d: number) => [a, b, c, d];

function ipv4(src: number[], dst: number[], proto: number, payload: number[], badSum = false): number[] {
  const h = [0x45, 0, ...be16(20 + payload.length), 0, 1, 0, 0, 64, proto, 0, 0, ...src, ...dst];
  const sum = inetSum(new Uint8Array(h));
  h[10] = sum >> 8;
  h[11] = (sum & 0xff) ^ (badSum ? 1 : 0);
  return [...h, ...payload];
}

const eth = (dst: number[], type: number, payload: number[]) =>
  new Uint8Array([...dst, ...GUEST_MAC, ...be16(type), ...payload]);

function arpRequest(target: number[]): Uint8Array {
  return eth(BCAST, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...GUEST_MAC, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...target]);
}

function echoRequest(dst: number[], data: number[]): Uint8Array {
  const icmp = [8, 0, 0, 0, ...be16(0x1234), ...be16(1), ...data];
  const sum = inetSum(new Uint8Array(icmp));
  icmp[2] = sum >> 8;
  icmp[3] = sum & 0xff;
  return eth(Array.from(specialMac(USER_NET.gateway)), 0x0800, ipv4(ip(10, 0, 2, 15), dst, 1, icmp));
}

function dhcp(kind: number, requested?: number[]): Uint8Array {
  const b = new Array(240).fill(0);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.splice(4, 4, 0xde, 0xad, 0xbe, 0xef); // xid
  b.splice(28, 6, ...GUEST_MAC); // chaddr
  b.splice(236, 4, 0x63, 0x82, 0x53, 0x63); // the magic cookie
  b.push(53, 1, kind);
  if (requested) b.push(50, 4, ...requested);
  b.push(255);
  const udp = [...be16(68), ...be16(67), ...be16(8 + b.length), 0, 0, ...b];
  return eth(BCAST, 0x0800, ipv4(ip(0, 0, 0, 0), ip(255, 255, 255, 255), 17, udp));
}

/** The DHCP reply's message type and options, with the IP and UDP checksums verified. */
function parseDhcpReply(f: Uint8Array) {
  expect([...f.subarray(0, 6)]).toEqual(BCAST);
  expect([...f.subarray(6, 12)]).toEqual([0x52, 0x55, 10, 0, 2, 2]);
  expect(inetSum(f.subarray(14, 34))).toBe(0);
  const udp = f.subarray(34);
  const pseudo = 0x0a00 + 0x0202 + 0xffff + 0xffff + 17 + udp.length;
  expect(inetSum(udp, pseudo)).toBe(0);
  expect([...udp.subarray(0, 4)]).toEqual([0, 67, 0, 68]);
  const bootp = udp.subarray(8);
  expect(bootp[0]).toBe(2);
  expect([...bootp.subarray(4, 8)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  expect([...bootp.subarray(28, 34)]).toEqual(GUEST_MAC);
  const options = new Map<number, number[]>();
  for (let i = 240; bootp[i] !== 255; i += 2 + bootp[i + 1])
    options.set(bootp[i], [...bootp.subarray(i + 2, i + 2 + bootp[i + 1])]);
  return { yiaddr: [...bootp.subarray(16, 20)], options };
}

describe("-netdev user's gateway", () => {
  it('answers ARP for 10.0.2.2 and 10.0.2.3 with 52:55 and the address, and nothing else', () => {
    const net = new UserNet();
    const [reply] = net.input(arpRequest(ip(10, 0, 2, 2)));
    expect([...reply!]).toEqual([
      ...GUEST_MAC,
      0x52,
      0x55,
      10,
      0,
      2,
      2,
      8,
      6,
      0,
      1,
      8,
      0,
      6,
      4,
      0,
      2,
      0x52,
      0x55,
      10,
      0,
      2,
      2,
      10,
      0,
      2,
      2,
      ...GUEST_MAC,
      0,
      0,
      0,
      0,
    ]);
    expect(net.input(arpRequest(ip(10, 0, 2, 3)))[0]!.subarray(6, 12)).toEqual(
      new Uint8Array([0x52, 0x55, 10, 0, 2, 3]),
    );
    expect(net.input(arpRequest(ip(10, 0, 2, 99)))).toEqual([]);
    expect(net.counters).toMatchObject({ arp: 2, dropped: 1 });
  });

  it('leases 10.0.2.15: DISCOVER gets an OFFER, REQUEST an ACK, with mask, router, DNS and lease time', () => {
    const net = new UserNet();
    const offer = parseDhcpReply(net.input(dhcp(1))[0]!);
    expect(offer.yiaddr).toEqual([10, 0, 2, 15]);
    expect(offer.options.get(53)).toEqual([2]);
    expect(offer.options.get(54)).toEqual([10, 0, 2, 2]);
    expect(offer.options.get(1)).toEqual([255, 255, 255, 0]);
    expect(offer.options.get(3)).toEqual([10, 0, 2, 2]);
    expect(offer.options.get(6)).toEqual([10, 0, 2, 3]);
    expect(offer.options.get(51)).toEqual([0, 1, 0x51, 0x80]);
    const ack = parseDhcpReply(net.input(dhcp(3, [10, 0, 2, 15]))[0]!);
    expect(ack.options.get(53)).toEqual([5]);
    expect(ack.yiaddr).toEqual([10, 0, 2, 15]);
  });

  it('refuses a REQUEST for an address it did not offer with a NAK', () => {
    const nak = parseDhcpReply(new UserNet().input(dhcp(3, [10, 0, 2, 77]))[0]!);
    expect(nak.options.get(53)).toEqual([6]);
    expect(nak.yiaddr).toEqual([0, 0, 0, 0]);
    expect(nak.options.has(3)).toBe(false);
  });

  it('answers an echo request to the gateway with an echo reply carrying the same data', () => {
    const net = new UserNet();
    const data = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const [reply] = net.input(echoRequest(ip(10, 0, 2, 2), data));
    expect([...reply!.subarray(0, 6)]).toEqual(GUEST_MAC);
    const h = reply!.subarray(14, 34);
    expect(inetSum(h)).toBe(0);
    expect([...h.subarray(12, 16)]).toEqual([10, 0, 2, 2]);
    expect([...h.subarray(16, 20)]).toEqual([10, 0, 2, 15]);
    const icmp = reply!.subarray(34);
    expect(inetSum(icmp)).toBe(0);
    expect([icmp[0], icmp[1]]).toEqual([0, 0]);
    expect([...icmp.subarray(4)]).toEqual([0x12, 0x34, 0, 1, ...data]);
    expect(net.counters.icmpEcho).toBe(1);
  });

  it('drops short frames, bad IP checksums, bad ICMP checksums, other hosts and TCP, without throwing', () => {
    const net = new UserNet();
    const bad = echoRequest(ip(10, 0, 2, 2), [1, 2]);
    bad[bad.length - 1] ^= 0xff; // ICMP checksum now wrong
    const badIp = eth(
      BCAST,
      0x0800,
      ipv4(ip(10, 0, 2, 15), ip(10, 0, 2, 2), 1, [8, 0, 0xf7, 0xff, 0, 0, 0, 0], true),
    );
    const tcp = eth(BCAST, 0x0800, ipv4(ip(10, 0, 2, 15), ip(10, 0, 2, 2), 6, new Array(20).fill(0)));
    const other = echoRequest(ip(8, 8, 8, 8), [1]);
    for (const f of [new Uint8Array(5), bad, badIp, tcp, other, new Uint8Array(60), bad.subarray(0, 30)])
      expect(net.input(f)).toEqual([]);
    expect(net.counters.dropped).toBe(7);
  });

  it('passes TCP and UDP (but DHCP) to its forward hook, the NAT, and answers them with nothing itself', () => {
    const forwarded: Uint8Array[] = [];
    const net = new UserNet((f) => forwarded.push(f));
    const tcp = eth(BCAST, 0x0800, ipv4(ip(10, 0, 2, 15), ip(10, 0, 2, 2), 6, new Array(20).fill(0)));
    const udp = eth(BCAST, 0x0800, ipv4(ip(10, 0, 2, 15), ip(10, 0, 2, 3), 17, [0, 1, 0, 53, 0, 8, 0, 0]));
    expect(net.input(tcp)).toEqual([]);
    expect(net.input(udp)).toEqual([]);
    expect(forwarded).toEqual([tcp, udp]);
    // DHCP stays the gateway's, and ICMP to another host is nobody's.
    expect(net.input(dhcp(1))).toHaveLength(1);
    expect(net.input(echoRequest(ip(8, 8, 8, 8), [1]))).toEqual([]);
    expect(net.counters).toMatchObject({ forwarded: 2, dhcp: 1, dropped: 1 });
  });
});
