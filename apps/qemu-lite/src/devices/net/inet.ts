/**
 * Ethernet, ARP, IPv4, ICMP and UDP framing for the user-mode network (user-net.ts): the header
 * layouts of RFC 894 (Ethernet II), RFC 826 (ARP), RFC 791 (IPv4), RFC 792 (ICMP), RFC 768
 * (UDP) and RFC 9293 (TCP), and the Internet checksum of RFC 1071. Frames are plain byte arrays; every read of a
 * guest frame is bounds-checked by the caller (a short frame is dropped, never a throw).
 */

export const ETH_HLEN = 14;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** An IPv4 address as an unsigned 32-bit number (network order: 10.0.2.2 is 0x0a000202). */
export function ipv4(text: string): number {
  const parts = text.split('.').map(Number);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function ipv4Text(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

export function get16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

export function get32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The ones'-complement sum of 16-bit words (RFC 1071), not yet complemented; `seed` carries a pseudo-header. */
export function onesSum(b: Uint8Array, start: number, end: number, seed = 0): number {
  let sum = seed;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum of b[start, end) (RFC 1071): 0 over a region that holds a correct one. */
export function checksum(b: Uint8Array, start: number, end: number, seed = 0): number {
  return ~onesSum(b, start, end, seed) & 0xffff;
}

/** An Ethernet II frame around `payloadLength` bytes, the payload left zero. */
export function ethFrame(dst: Uint8Array, src: Uint8Array, type: number, payloadLength: number): Uint8Array {
  const f = new Uint8Array(ETH_HLEN + payloadLength);
  f.set(dst, 0);
  f.set(src, 6);
  put16(f, 12, type);
  return f;
}

/**
 * An IPv4 packet in an Ethernet frame: a 20-byte header (no options, DF clear, TTL 64) with its
 * checksum, `payload` after it. The transport's checksum is the caller's.
 */
export function ipv4Frame(
  dstMac: Uint8Array,
  srcMac: Uint8Array,
  src: number,
  dst: number,
  protocol: number,
  payload: Uint8Array,
  id = 0,
): Uint8Array {
  const f = ethFrame(dstMac, srcMac, ETH_P_IP, 20 + payload.length);
  const ip = ETH_HLEN;
  f[ip] = 0x45;
  put16(f, ip + 2, 20 + payload.length);
  put16(f, ip + 4, id);
  f[ip + 8] = 64;
  f[ip + 9] = protocol;
  put32(f, ip + 12, src);
  put32(f, ip + 16, dst);
  put16(f, ip + 10, checksum(f, ip, ip + 20));
  f.set(payload, ip + 20);
  return f;
}

/** A UDP datagram (header + data) with its checksum over the RFC 768 pseudo-header. */
export function udpDatagram(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  data: Uint8Array,
): Uint8Array {
  const u = new Uint8Array(8 + data.length);
  put16(u, 0, srcPort);
  put16(u, 2, dstPort);
  put16(u, 4, u.length);
  u.set(data, 8);
  const pseudo = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + IPPROTO_UDP + u.length;
  const sum = checksum(u, 0, u.length, pseudo);
  // A computed 0 is sent as 0xffff: 0 means "no checksum" (RFC 768).
  put16(u, 6, sum === 0 ? 0xffff : sum);
  return u;
}

/** The ones'-complement sum of the TCP/UDP pseudo-header (RFC 768, RFC 9293 §3.1), for `checksum`'s seed. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/** TCP header flags (RFC 9293 §3.1). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/**
 * A TCP segment (header + data) with its checksum over the pseudo-header; `mss` adds the MSS
 * option (kind 2, RFC 9293 §3.2), which only a SYN carries.
 */
export function tcpSegment(
  src: number,
  dst: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  window: number,
  data: Uint8Array = new Uint8Array(0),
  mss?: number,
): Uint8Array {
  const hlen = mss === undefined ? 20 : 24;
  const t = new Uint8Array(hlen + data.length);
  put16(t, 0, srcPort);
  put16(t, 2, dstPort);
  put32(t, 4, seq >>> 0);
  put32(t, 8, ack >>> 0);
  t[12] = (hlen / 4) << 4;
  t[13] = flags;
  put16(t, 14, window);
  if (mss !== undefined) {
    t[20] = 2;
    t[21] = 4;
    put16(t, 22, mss);
  }
  t.set(data, hlen);
  put16(t, 16, checksum(t, 0, t.length, pseudoHeaderSum(src, dst, IPPROTO_TCP, t.length)));
  return t;
}
