/* A polled virtio 1.x PCI driver's common part (virtio 1.2 §2.7, §3.1, §4.1), shared by the
 * device guests (virtionet, virtiocon): find a function by PCI ID through configuration
 * mechanism #1, walk its vendor capabilities to the common and notify regions and the device's
 * configuration, negotiate, and drive split virtqueues of QN descriptors whose descriptor i is
 * buffer i for good. Header-only (static), so a guest that does not include it pays nothing. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H
#include "lib.h"

#define VIRTIO_QN 16
#define VIRTIO_BUF 2048

static inline u32 vpci_read32(int dev, int off) {
  outl(0xcf8, 0x80000000u | ((u32)dev << 11) | (u32)(off & 0xfc));
  return inl(0xcfc);
}
static inline u8 vpci_read8(int dev, int off) {
  outl(0xcf8, 0x80000000u | ((u32)dev << 11) | (u32)(off & 0xfc));
  return inb((u16)(0xcfc + (off & 3)));
}

#define mmio8(a) (*(volatile u8 *)(ulong)(a))
#define mmio16(a) (*(volatile u16 *)(ulong)(a))
#define mmio32(a) (*(volatile u32 *)(ulong)(a))

/* struct virtio_pci_common_cfg offsets (§4.1.4.3). */
enum {
  C_DFSEL = 0x00, C_DF = 0x04, C_GFSEL = 0x08, C_GF = 0x0c, C_NUMQ = 0x12, C_STATUS = 0x14,
  C_QSEL = 0x16, C_QSIZE = 0x18, C_QENABLE = 0x1c, C_QNOFF = 0x1e, C_QDESC = 0x20, C_QDRIVER = 0x28, C_QDEVICE = 0x30,
};

struct vdesc { u64 addr; u32 len; u16 flags; u16 next; };
struct vqueue {
  struct vdesc desc[VIRTIO_QN] __attribute__((aligned(16)));
  struct { u16 flags, idx, ring[VIRTIO_QN], used_event; } avail __attribute__((aligned(2)));
  struct { u16 flags, idx; struct { u32 id, len; } ring[VIRTIO_QN]; u16 avail_event; } used __attribute__((aligned(4)));
  u16 last_used;
  ulong notify_at;
  u8 buf[VIRTIO_QN][VIRTIO_BUF] __attribute__((aligned(16)));
};

struct vdev { int dev; ulong common, notify, devcfg; u32 notify_mult; };

/* The first function with vendor 1af4 and `device_id`, its regions found; dev = -1 if none. */
static inline struct vdev virtio_find(u16 device_id) {
  struct vdev v = {-1, 0, 0, 0, 0};
  for (int d = 0; d < 32; d++)
    if (vpci_read32(d, 0) == ((u32)device_id << 16 | 0x1af4)) { v.dev = d; break; }
  if (v.dev < 0) return v;
  u32 bars[6];
  for (int i = 0; i < 6; i++) bars[i] = vpci_read32(v.dev, 0x10 + 4 * i) & ~0xfu;
  for (u8 cap = vpci_read8(v.dev, 0x34); cap; cap = vpci_read8(v.dev, cap + 1)) {
    if (vpci_read8(v.dev, cap) != 0x09) continue; /* PCI_CAP_ID_VNDR */
    u8 type = vpci_read8(v.dev, cap + 3), bar = vpci_read8(v.dev, cap + 4);
    ulong at = bar < 6 ? bars[bar] + vpci_read32(v.dev, cap + 8) : 0;
    if (type == 1) v.common = at;
    if (type == 2) { v.notify = at; v.notify_mult = vpci_read32(v.dev, cap + 16); }
    if (type == 4) v.devcfg = at;
  }
  return v;
}

/* §3.1.1 up to FEATURES_OK with VERSION_1 and the low feature bits `want` (those offered);
 * returns the device's low feature word and whether FEATURES_OK stuck. */
static inline int virtio_negotiate(struct vdev *v, u32 want, u32 *offered) {
  mmio8(v->common + C_STATUS) = 0;
  mmio8(v->common + C_STATUS) = 1;
  mmio8(v->common + C_STATUS) = 3;
  mmio32(v->common + C_DFSEL) = 0;
  *offered = mmio32(v->common + C_DF);
  mmio32(v->common + C_GFSEL) = 0;
  mmio32(v->common + C_GF) = want & *offered;
  mmio32(v->common + C_GFSEL) = 1;
  mmio32(v->common + C_GF) = 1; /* VIRTIO_F_VERSION_1 */
  mmio8(v->common + C_STATUS) = 3 | 8;
  return (mmio8(v->common + C_STATUS) & 8) != 0;
}

static inline void virtio_driver_ok(struct vdev *v) { mmio8(v->common + C_STATUS) = 3 | 8 | 4; }

/* Queue `index` with VIRTIO_QN descriptors; `device_writes`: a receive queue. */
static inline void virtio_queue(struct vdev *v, struct vqueue *q, int index, int device_writes) {
  mmio16(v->common + C_QSEL) = (u16)index;
  mmio16(v->common + C_QSIZE) = VIRTIO_QN;
  mmio32(v->common + C_QDESC) = (u32)(ulong)q->desc; mmio32(v->common + C_QDESC + 4) = 0;
  mmio32(v->common + C_QDRIVER) = (u32)(ulong)&q->avail; mmio32(v->common + C_QDRIVER + 4) = 0;
  mmio32(v->common + C_QDEVICE) = (u32)(ulong)&q->used; mmio32(v->common + C_QDEVICE + 4) = 0;
  q->notify_at = v->notify + (ulong)mmio16(v->common + C_QNOFF) * v->notify_mult;
  mmio16(v->common + C_QENABLE) = 1;
  for (int i = 0; i < VIRTIO_QN; i++)
    q->desc[i] = (struct vdesc){(ulong)q->buf[i], VIRTIO_BUF, (u16)(device_writes ? 2 : 0), 0};
}

/* Buffer `id` (its first `len` bytes) to the device, and the queue notified (§4.1.4.4). */
static inline void virtio_post(struct vqueue *q, u16 id, u32 len) {
  q->desc[id].len = len;
  q->avail.ring[q->avail.idx % VIRTIO_QN] = id;
  barrier();
  q->avail.idx++;
  barrier();
  mmio16(q->notify_at) = 0;
}

/* A free transmit buffer: waits (spinning) while the device holds all VIRTIO_QN; the device
 * gives them back while handling the notification, so this does not spin long. */
static inline u16 virtio_tx_slot(struct vqueue *q) {
  while ((u16)(q->avail.idx - *(volatile u16 *)&q->used.idx) >= VIRTIO_QN) barrier();
  return q->avail.idx % VIRTIO_QN;
}

/* The next used receive buffer: its id and length, or -1 when there is none. */
static inline int virtio_used(struct vqueue *q, u32 *len) {
  if (q->last_used == *(volatile u16 *)&q->used.idx) return -1;
  barrier();
  u16 slot = q->last_used % VIRTIO_QN;
  q->last_used++;
  *len = q->used.ring[slot].len;
  u32 id = q->used.ring[slot].id;
  return id < VIRTIO_QN ? (int)id : -1;
}

/* Milliseconds since the first call, from the ACPI PM timer (port 0x608, 3.579545 MHz, 24 bits,
 * ACPI 6.4 4.8.3.3; it wraps every 4.7 s and every loop here reads it far more often). A
 * periodic PIT interrupt would lose ticks on the software engine while a vCPU waits its turn. */
#define PM_TMR_PORT 0x608
static u32 pm_last;
static u64 pm_ticks;
static int pm_started;
static inline u32 now_ms(void) {
  u32 t = inl(PM_TMR_PORT) & 0xffffff;
  if (pm_started) pm_ticks += (t - pm_last) & 0xffffff;
  pm_started = 1;
  pm_last = t;
  return (u32)(pm_ticks * 1000 / 3579545u);
}
static inline int pm_timer_present(void) { return (inl(PM_TMR_PORT) & 0xff000000u) != 0xff000000u; }
#endif
