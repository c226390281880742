/* A virtio-blk driver of our own (virtio 1.2 §3.1, §4.1, §5.2), run against qemu-lite's
 * `-drive file=IMG,format=raw,if=virtio,serial=S`: enumerate PCI bus 0 through configuration
 * mechanism #1 (ports 0xcf8/0xcfc), find the modern virtio-blk function (1af4:1042), size its
 * BAR, walk its vendor capabilities to the common/notify/ISR/device regions, negotiate
 * VIRTIO_F_VERSION_1 and indirect descriptors, set up queue 0, then read sector 0, write a
 * pattern to sectors 1-8 (through an indirect table), flush, read it back, and ask for the serial.
 * The host test checks the image file afterwards. With no virtio-blk device it reports a SKIP.
 * With `hang=1` on the command line it halts for ever after the flush (a kill test's guest).
 * Built for long mode (identity map of 4 GiB: the BAR at 0xe0000000 is reachable). */
#include "lib.h"

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

static u32 pci_read32(int dev, int off) {
  outl(PCI_ADDR, 0x80000000u | ((u32)dev << 11) | (u32)(off & 0xfc));
  return inl(PCI_DATA);
}
static void pci_write32(int dev, int off, u32 v) {
  outl(PCI_ADDR, 0x80000000u | ((u32)dev << 11) | (u32)(off & 0xfc));
  outl(PCI_DATA, v);
}
static u8 pci_read8(int dev, int off) {
  outl(PCI_ADDR, 0x80000000u | ((u32)dev << 11) | (u32)(off & 0xfc));
  return inb((u16)(PCI_DATA + (off & 3)));
}

#define mmio8(a) (*(volatile u8 *)(ulong)(a))
#define mmio16(a) (*(volatile u16 *)(ulong)(a))
#define mmio32(a) (*(volatile u32 *)(ulong)(a))

/* struct virtio_pci_common_cfg offsets (§4.1.4.3). */
enum {
  C_DFSEL = 0x00, C_DF = 0x04, C_GFSEL = 0x08, C_GF = 0x0c, C_NUMQ = 0x12, C_STATUS = 0x14,
  C_QSEL = 0x16, C_QSIZE = 0x18, C_QENABLE = 0x1c, C_QNOFF = 0x1e, C_QDESC = 0x20, C_QDRIVER = 0x28, C_QDEVICE = 0x30,
};

#define QN 16
struct desc { u64 addr; u32 len; u16 flags; u16 next; };
static struct desc ring_desc[QN] __attribute__((aligned(16)));
static struct { u16 flags, idx, ring[QN], used_event; } avail __attribute__((aligned(2)));
static struct { u16 flags, idx; struct { u32 id, len; } ring[QN]; u16 avail_event; } used __attribute__((aligned(4)));
static struct desc indirect[3] __attribute__((aligned(16)));
static struct { u32 type, reserved; u64 sector; } hdr;
static u8 status_byte;
static u8 buf[4096] __attribute__((aligned(512)));
static u8 back[4096] __attribute__((aligned(512)));
static u8 sector0[512];

static ulong common, notify, isr, devcfg;
static u32 notify_mult;

/* One request, header + data + status, made available and notified; the device answers during
 * the notification's exit, so used.idx has moved when the write returns (polled anyway). */
static int request(u32 type, u64 sector, void *data, u32 len, int device_writes, int use_indirect) {
  hdr.type = type;
  hdr.reserved = 0;
  hdr.sector = sector;
  status_byte = 0xee;
  struct desc *d = use_indirect ? indirect : ring_desc;
  int n = 0;
  d[n] = (struct desc){(ulong)&hdr, 16, 1, (u16)(n + 1)}; n++;
  if (len) { d[n] = (struct desc){(ulong)data, len, (u16)(1 | (device_writes ? 2 : 0)), (u16)(n + 1)}; n++; }
  d[n] = (struct desc){(ulong)&status_byte, 1, 2, 0}; n++;
  u16 head = 0;
  if (use_indirect) ring_desc[head] = (struct desc){(ulong)indirect, (u32)(16 * n), 4, 0};
  avail.ring[avail.idx % QN] = head;
  barrier();
  u16 want = (u16)(used.idx + 1);
  avail.idx++;
  barrier();
  u16 off = mmio16(common + C_QNOFF);
  mmio16(notify + (ulong)off * notify_mult) = 0;
  for (int spin = 0; spin < 1000000 && *(volatile u16 *)&used.idx != want; spin++) barrier();
  if (*(volatile u16 *)&used.idx != want) return -1;
  return status_byte;
}

int main(void) {
  report_begin("virtioblk");
  check_eq(0x12378086, pci_read32(0, 0), "virtioblk.pci.host-bridge-i440fx");
  int dev = -1;
  for (int d = 0; d < 32; d++)
    if (pci_read32(d, 0) == 0x10421af4) { dev = d; break; }
  if (dev < 0) {
    skip("no virtio-blk PCI function (give -drive if=virtio)", "virtioblk.found");
    report_end();
  }
  printf("virtio-blk at 00:%02x.0, irq line %d\n", dev, pci_read8(dev, 0x3c));
  check_eq(1, pci_read8(dev, 0x3d), "virtioblk.pci.interrupt-pin-inta");

  /* Walk the capability list (§4.1.4) for the four virtio structures. */
  u32 bars[6];
  for (int i = 0; i < 6; i++) bars[i] = pci_read32(dev, 0x10 + 4 * i) & ~0xfu;
  int found = 0;
  for (u8 cap = pci_read8(dev, 0x34); cap; cap = pci_read8(dev, cap + 1)) {
    if (pci_read8(dev, cap) != 0x09) continue;
    u8 type = pci_read8(dev, cap + 3), bar = pci_read8(dev, cap + 4);
    ulong at = bar < 6 ? bars[bar] + pci_read32(dev, cap + 8) : 0;
    if (type == 1) common = at;
    if (type == 2) { notify = at; notify_mult = pci_read32(dev, cap + 16); }
    if (type == 3) isr = at;
    if (type == 4) devcfg = at;
    found |= 1 << type;
  }
  check_eq(0x3e, found, "virtioblk.caps.common-notify-isr-device-pcicfg");

  /* BAR sizing from the guest side (PCI 3.0 6.2.5.1): all ones in, the size mask out. */
  u32 saved = pci_read32(dev, 0x20);
  pci_write32(dev, 0x20, 0xffffffff);
  u32 mask = pci_read32(dev, 0x20);
  pci_write32(dev, 0x20, saved);
  check_eq(0x4000, (~(mask & ~0xfu) + 1) & 0xffffffff, "virtioblk.pci.bar4-size");

  /* §3.1.1 initialisation. */
  mmio8(common + C_STATUS) = 0;
  mmio8(common + C_STATUS) = 1;
  mmio8(common + C_STATUS) = 3;
  mmio32(common + C_DFSEL) = 1;
  u32 hi = mmio32(common + C_DF);
  mmio32(common + C_DFSEL) = 0;
  u32 lo = mmio32(common + C_DF);
  check_eq(1, hi & 1, "virtioblk.features.version-1-offered");
  mmio32(common + C_GFSEL) = 0;
  mmio32(common + C_GF) = lo & ((1u << 28) | (1u << 29) | (1u << 9)); /* INDIRECT_DESC, EVENT_IDX, FLUSH */
  mmio32(common + C_GFSEL) = 1;
  mmio32(common + C_GF) = 1; /* VERSION_1 */
  mmio8(common + C_STATUS) = 3 | 8;
  check_eq(8, mmio8(common + C_STATUS) & 8, "virtioblk.status.features-ok");
  check_eq(1, mmio16(common + C_NUMQ), "virtioblk.num-queues");
  mmio16(common + C_QSEL) = 0;
  check_eq(256, mmio16(common + C_QSIZE), "virtioblk.queue0.max-size");
  mmio16(common + C_QSIZE) = QN;
  mmio32(common + C_QDESC) = (u32)(ulong)ring_desc; mmio32(common + C_QDESC + 4) = 0;
  mmio32(common + C_QDRIVER) = (u32)(ulong)&avail; mmio32(common + C_QDRIVER + 4) = 0;
  mmio32(common + C_QDEVICE) = (u32)(ulong)&used; mmio32(common + C_QDEVICE + 4) = 0;
  mmio16(common + C_QENABLE) = 1;
  mmio8(common + C_STATUS) = 3 | 8 | 4;
  u32 capacity = mmio32(devcfg + 0);
  printf("capacity %u sectors, features %x:%x\n", capacity, hi, lo);

  /* Sector 0: the host wrote a text and the MBR signature. */
  check_eq(0, request(0, 0, sector0, 512, 1, 0), "virtioblk.read.sector0-status");
  check_eq(1, mmio8(isr) & 1, "virtioblk.isr.used-buffer-interrupt");
  check_eq(0, mmio8(isr), "virtioblk.isr.cleared-by-read");
  check_eq(0xaa55, sector0[510] | (sector0[511] << 8), "virtioblk.read.sector0-signature");
  sector0[63] = 0;
  printf("sector 0: %s\n", (char *)sector0);

  /* The event index (§2.7.10): the device publishes avail_event, and interrupts only once
   * used.idx passes used_event. */
  check_eq(avail.idx, *(volatile u16 *)&used.avail_event, "virtioblk.event-idx.avail-event");
  avail.used_event = (u16)(used.idx + 100);

  /* A pattern over sectors 1-8, through an indirect table, then a flush and a read-back. */
  for (int i = 0; i < 4096; i++) buf[i] = (u8)(i * 7 + 3);
  check_eq(0, request(1, 1, buf, 4096, 0, 1), "virtioblk.write.indirect-status");
  check_eq(0, mmio8(isr), "virtioblk.event-idx.no-interrupt-before-used-event");
  avail.used_event = used.idx; /* interrupt for the next one */
  check_eq(0, request(4, 0, 0, 0, 0, 0), "virtioblk.flush-status");
  check_eq(1, mmio8(isr) & 1, "virtioblk.event-idx.interrupt-past-used-event");
  check_eq(0, request(0, 1, back, 4096, 1, 0), "virtioblk.read.back-status");
  check_eq(0, memcmp(buf, back, 4096), "virtioblk.read.back-matches");
  /* hang=1 (-append): stop here with the data flushed, for a host test that kills the VMM. */
  if (cmdline_u32("hang", 0)) {
    printf("flushed; halting\n");
    for (;;) __asm__ volatile("cli; hlt");
  }

  /* A read past the end is an I/O error, not a crash (§5.2.6.1). */
  check_eq(1, request(0, capacity, back, 512, 1, 0), "virtioblk.read.past-end-ioerr");

  /* GET_ID: the drive's serial. */
  static char id[21];
  check_eq(0, request(8, 0, id, 20, 1, 0), "virtioblk.get-id-status");
  printf("serial %s\n", id);
  report_end();
}
