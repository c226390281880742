/* A virtio-net driver of our own (virtio 1.2 §3.1, §4.1, §5.1) and just enough of ARP (RFC 826),
 * IPv4 and ICMP echo (RFC 791, 792) to ping, run against qemu-lite's `-device virtio-net-pci` on
 * any netdev (two of these guests on `-netdev socket`, or the host's kernel on `-netdev tap`).
 * Polled, with interrupts off: the queues are never interrupt-driven, and the ACPI PM timer
 * (port 0x608, 3.579545 MHz, ACPI 6.4 4.8.3.3) keeps time for the bounds: a periodic PIT
 * interrupt loses ticks on the software engine while a vCPU waits its turn.
 *
 * Command line (-append): `ip=A.B.C.D` (this guest's address), `peer=A.B.C.D`, `role=`:
 *   ping  ARP for the peer (every 100 ms, for up to `wait=` seconds, default 30), then
 *         `count=` echo requests (default 4), one a second at most, each answered or not;
 *   serve answer until `count=` echo requests to us were answered (or `wait=` seconds pass);
 *   send  after ARP, `kib=` KiB as UDP datagrams to the peer's port 9000, go-back-N with a
 *         window of 32 frames, acknowledged by
 *   recv  which counts them in order and acknowledges every 8th frame and every gap.
 * Every role answers ARP and echo requests for its address all along. The checks (PASS/FAIL)
 * say which step failed; a peer that never answers is "virtionet.arp.peer-answered". */
#include "virtio.h"

#define QN VIRTIO_QN
/* struct virtio_net_hdr_v1 (§5.1.6): 12 bytes under VIRTIO_F_VERSION_1. */
#define HDR 12
static struct vqueue rxq, txq;
static u8 my_mac[6], peer_mac[6];
static u32 my_ip, peer_ip;
static int peer_known;
static const u8 broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static u32 get32(const u8 *p) { return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3]; }
static void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static void put32(u8 *p, u32 v) { put16(p, (u16)(v >> 16)); put16(p + 2, (u16)v); }

/* The Internet checksum (RFC 1071) over n bytes. */
static u16 inet_sum(const u8 *p, int n) {
  u32 s = 0;
  for (int i = 0; i + 1 < n; i += 2) s += get16(p + i);
  if (n & 1) s += (u32)p[n - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (u16)~s;
}

/* `key=A.B.C.D` from the command line; 0 when absent or malformed. */
static u32 cmdline_ip(const char *key) {
  const char *s = cmdline();
  size_t n = strlen(key);
  for (const char *p = s; *p; p++) {
    if ((p != s && p[-1] != ' ') || memcmp(p, key, n) || p[n] != '=') continue;
    const char *q = p + n + 1;
    u32 ip = 0;
    for (int part = 0; part < 4; part++) {
      u32 v = 0;
      if (*q < '0' || *q > '9') return 0;
      while (*q >= '0' && *q <= '9') v = v * 10 + (u32)(*q++ - '0');
      if (v > 255 || (part < 3 && *q++ != '.')) return 0;
      ip = ip << 8 | v;
    }
    return ip;
  }
  return 0;
}
static int cmdline_is(const char *key, const char *value) {
  const char *s = cmdline();
  size_t n = strlen(key), m = strlen(value);
  for (const char *p = s; *p; p++)
    if ((p == s || p[-1] == ' ') && !memcmp(p, key, n) && p[n] == '=' && !memcmp(p + n + 1, value, m) &&
        (p[n + 1 + m] == ' ' || p[n + 1 + m] == 0))
      return 1;
  return 0;
}

static u32 stat_tx, stat_rx, served, echo_replies, seen_seq[64];

static void transmit(const u8 *frame, int len) {
  u16 id = virtio_tx_slot(&txq);
  memset(txq.buf[id], 0, HDR); /* no checksum offload, no GSO: an all-zero header */
  memcpy(txq.buf[id] + HDR, frame, (size_t)len);
  virtio_post(&txq, id, (u32)(HDR + len));
  stat_tx++;
}

static u8 out[1514];

static int eth(const u8 *dst, u16 type) {
  memcpy(out, dst, 6);
  memcpy(out + 6, my_mac, 6);
  put16(out + 12, type);
  return 14;
}

static void arp(u16 op, const u8 *dst_mac, u32 target_ip) {
  int n = eth(op == 1 ? broadcast : dst_mac, 0x0806);
  put16(out + n, 1); put16(out + n + 2, 0x0800); out[n + 4] = 6; out[n + 5] = 4; put16(out + n + 6, op);
  memcpy(out + n + 8, my_mac, 6); put32(out + n + 14, my_ip);
  memcpy(out + n + 18, op == 1 ? (const u8 *)"\0\0\0\0\0\0" : dst_mac, 6); put32(out + n + 24, target_ip);
  transmit(out, n + 28);
}

/* An IPv4 packet to the peer (or to `dst`) whose payload is already at out + 34. */
static void ipv4_send(const u8 *dst_mac, u32 dst, u8 proto, int payload) {
  int n = eth(dst_mac, 0x0800);
  u8 *ip = out + n;
  memset(ip, 0, 20);
  ip[0] = 0x45; put16(ip + 2, (u16)(20 + payload)); ip[6] = 0x40; /* DF */ ip[8] = 64; ip[9] = proto;
  put32(ip + 12, my_ip); put32(ip + 16, dst);
  put16(ip + 10, inet_sum(ip, 20));
  int len = n + 20 + payload;
  if (len < 60) { memset(out + len, 0, (size_t)(60 - len)); len = 60; }
  transmit(out, len);
}

static void icmp_echo(u8 type, const u8 *dst_mac, u32 dst, const u8 *rest, int rest_len) {
  u8 *icmp = out + 34;
  icmp[0] = type; icmp[1] = 0; put16(icmp + 2, 0);
  memcpy(icmp + 4, rest, (size_t)rest_len); /* identifier, sequence, data */
  put16(icmp + 2, inet_sum(icmp, 4 + rest_len));
  ipv4_send(dst_mac, dst, 1, 4 + rest_len);
}

/* ---- the UDP stream (role send / recv) ---- */
#define DATA_PORT 9000
#define ACK_PORT 9001
#define PAYLOAD 1400
static u32 stream_total, stream_expected, stream_acked, stream_bytes;

static void udp_send(u16 port, const u8 *data, int len) {
  u8 *udp = out + 34;
  put16(udp, port); put16(udp + 2, port); put16(udp + 4, (u16)(8 + len)); put16(udp + 6, 0); /* no checksum (RFC 768) */
  memcpy(udp + 8, data, (size_t)len);
  ipv4_send(peer_mac, peer_ip, 17, 8 + len);
}

static u8 chunk[PAYLOAD];
static void stream_ack(void) {
  u8 ack[8];
  put32(ack, stream_expected);
  put32(ack + 4, stream_total);
  udp_send(ACK_PORT, ack, 8);
}

static void on_udp(const u8 *udp, int len) {
  if (len < 16) return;
  u16 port = get16(udp + 2);
  if (port == DATA_PORT) {
    u32 seq = get32(udp + 8), total = get32(udp + 12);
    stream_total = total;
    if (seq == stream_expected) {
      stream_expected++;
      stream_bytes += (u32)(len - 8);
      if (stream_expected % 8 == 0 || stream_expected == total) stream_ack();
    } else {
      stream_ack(); /* a gap or a repeat: say where we are */
    }
  } else if (port == ACK_PORT) {
    u32 upto = get32(udp + 8);
    if (upto > stream_acked) stream_acked = upto;
  }
}

/* ---- receive ---- */

static void on_frame(const u8 *f, int len) {
  if (len < 42) return;
  u16 type = get16(f + 12);
  if (type == 0x0806) {
    const u8 *a = f + 14;
    u16 op = get16(a + 6);
    u32 sender = get32(a + 14), target = get32(a + 24);
    if (op == 1 && target == my_ip) arp(2, a + 8, sender);
    if (op == 2 && sender == peer_ip && target == my_ip) { memcpy(peer_mac, a + 8, 6); peer_known = 1; }
    return;
  }
  if (type != 0x0800 || (f[14] >> 4) != 4) return;
  const u8 *ip = f + 14;
  int ihl = (ip[0] & 15) * 4, total = get16(ip + 2);
  if (get32(ip + 16) != my_ip || total > len - 14 || total < ihl + 8) return;
  const u8 *p = ip + ihl;
  int plen = total - ihl;
  if (ip[9] == 1 && p[0] == 8 && inet_sum(p, plen) == 0) {
    /* An echo request: back to its sender's MAC, as a host answers (RFC 1122 3.2.2.6). */
    icmp_echo(0, f + 6, get32(ip + 12), p + 4, plen - 4);
    served++;
  } else if (ip[9] == 1 && p[0] == 0 && get32(ip + 12) == peer_ip && inet_sum(p, plen) == 0) {
    u16 seq = get16(p + 6);
    if (seq < 64 && !seen_seq[seq]) { seen_seq[seq] = 1; echo_replies++; }
  } else if (ip[9] == 17 && get32(ip + 12) == peer_ip) {
    on_udp(p, plen);
  }
}

/* Takes every frame the device has put in the receive queue, and gives the buffers back. */
static void poll(void) {
  u32 len;
  for (int id = virtio_used(&rxq, &len); id >= 0; id = virtio_used(&rxq, &len)) {
    if (len > HDR) { stat_rx++; on_frame(rxq.buf[id] + HDR, (int)(len - HDR)); }
    virtio_post(&rxq, (u16)id, VIRTIO_BUF);
  }
}

/* Polls until `done()` or `ms` milliseconds pass; returns whether done() said so. */
static int poll_until(int (*done)(void), u32 ms) {
  u32 start = now_ms();
  while (now_ms() - start < ms) {
    poll();
    if (done && done()) return 1;
    __asm__ volatile("pause");
  }
  return done ? done() : 0;
}

static int peer_is_known(void) { return peer_known; }
static u32 want_served, want_seq;
static int served_enough(void) { return served >= want_served; }
static int seq_answered(void) { return want_seq < 64 && seen_seq[want_seq]; }
static int stream_done(void) { return stream_total != 0 && stream_expected == stream_total; }

static void print_ip(const char *what, u32 ip) {
  printf("%s %u.%u.%u.%u\n", what, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

static int find_peer(u32 wait_s) {
  u32 start = now_ms();
  while (!peer_known && now_ms() - start < wait_s * 1000) {
    arp(1, broadcast, peer_ip);
    poll_until(peer_is_known, 100);
  }
  return report(peer_known, "virtionet.arp.peer-answered");
}

static void stream_send(u32 kib) {
  u32 frames = (kib * 1024 + PAYLOAD - 9) / (PAYLOAD - 8);
  u32 next = 0, start = now_ms(), last_progress = start, acked = 0;
  for (int i = 8; i < PAYLOAD; i++) chunk[i] = (u8)(i * 13);
  put32(chunk + 4, frames);
  while (stream_acked < frames) {
    while (next < frames && next - stream_acked < 32) {
      put32(chunk, next++);
      udp_send(DATA_PORT, chunk, PAYLOAD);
    }
    poll();
    if (stream_acked != acked) { acked = stream_acked; last_progress = now_ms(); }
    if (now_ms() - last_progress > 200) {
      if (now_ms() - last_progress > 10000) break; /* the receiver is gone */
      next = stream_acked; /* go back N: resend from the first unacknowledged frame */
    }
  }
  check_eq(frames, stream_acked, "virtionet.stream.sent-all-acknowledged");
  printf("sent %u frames (%u KiB) in %u ms\n", frames, kib, now_ms() - start);
}

int main(void) {
  report_begin("virtionet");
  now_ms();
  if (!pm_timer_present()) {
    skip("no ACPI PM timer at 0x608 to keep time with", "virtionet.pm-timer");
    report_end();
  }
  struct vdev v = virtio_find(0x1041);
  if (v.dev < 0) {
    skip("no virtio-net PCI function (give -device virtio-net-pci)", "virtionet.found");
    report_end();
  }
  /* VIRTIO_NET_F_MAC only: no checksum offload, no GSO, no mergeable buffers (§5.1.3). */
  u32 offered;
  check_eq(1, virtio_negotiate(&v, 1u << 5, &offered), "virtionet.status.features-ok");
  check_eq(1u << 5, offered & (1u << 5), "virtionet.features.mac-offered");
  virtio_queue(&v, &rxq, 0, 1);
  virtio_queue(&v, &txq, 1, 0);
  virtio_driver_ok(&v);
  for (int i = 0; i < 6; i++) my_mac[i] = mmio8(v.devcfg + (ulong)i);
  /* Every receive buffer to the device at once. */
  for (u16 i = 0; i < QN; i++) virtio_post(&rxq, i, VIRTIO_BUF);
  int dev = v.dev;

  my_ip = cmdline_ip("ip");
  peer_ip = cmdline_ip("peer");
  u32 count = cmdline_u32("count", 4), wait_s = cmdline_u32("wait", 30);
  if (count > 63) count = 63;
  printf("virtio-net at 00:%02x.0, mac %02x:%02x:%02x:%02x:%02x:%02x\n", dev, my_mac[0], my_mac[1],
         my_mac[2], my_mac[3], my_mac[4], my_mac[5]);
  print_ip("ip", my_ip);
  print_ip("peer", peer_ip);
  if (!my_ip || !peer_ip) {
    fail("give ip=A.B.C.D peer=A.B.C.D on the command line", "virtionet.cmdline");
    report_end();
  }

  if (cmdline_is("role", "serve")) {
    want_served = count;
    poll_until(served_enough, wait_s * 1000);
    check_eq(count, served, "virtionet.serve.echo-requests-answered");
    /* Linger a little: the last reply is on its way, and the pinger may resend ARP. */
    poll_until(0, 200);
  } else if (cmdline_is("role", "recv")) {
    poll_until(stream_done, wait_s * 1000);
    check_eq(stream_total ? stream_total : 1, stream_expected, "virtionet.stream.received-in-order");
    printf("received %u bytes in %u frames\n", stream_bytes, stream_expected);
    /* Acknowledge resends of the last window for a while (our last ack may have been lost). */
    poll_until(0, 300);
  } else if (find_peer(wait_s)) {
    printf("peer mac %02x:%02x:%02x:%02x:%02x:%02x\n", peer_mac[0], peer_mac[1], peer_mac[2], peer_mac[3],
           peer_mac[4], peer_mac[5]);
    if (cmdline_is("role", "send")) {
      stream_send(cmdline_u32("kib", 1024));
    } else {
      static u8 rest[4 + 56];
      for (int i = 0; i < 56; i++) rest[4 + i] = (u8)i;
      for (u32 seq = 1; seq <= count; seq++) {
        put16(rest, 0x4b54); /* identifier "KT" */
        put16(rest + 2, (u16)seq);
        want_seq = seq;
        icmp_echo(8, peer_mac, peer_ip, rest, sizeof rest);
        poll_until(seq_answered, 1000);
      }
      printf("ping: %u transmitted, %u received\n", count, echo_replies);
      check_eq(count, echo_replies, "virtionet.ping.every-echo-answered");
    }
  }
  printf("frames: %u sent, %u received\n", stat_tx, stat_rx);
  report_end();
}
