/* virtio-blk throughput (issue 17's benchmark), polled, one 4 KiB request at a time: `count=`
 * requests (default 256) of `op=read|write` at sectors in order (`pattern=seq`) or at random
 * 4 KiB-aligned places (`pattern=rand`, a fixed xorshift sequence) over the first `span=` MiB of
 * the disk (default 16), timed with the ACPI PM timer. Prints
 *   vblk OP PATTERN: N x 4096 bytes in T us
 * Any engine and QEMU (whose virtio-blk-pci needs disable-legacy=on for the modern ID 1af4:1042)
 * run the same image, so the figure is the device path's, not the boot's. */
#include "virtio.h"

static struct vqueue q;
static struct { u32 type, reserved; u64 sector; } hdr;
static u8 status_byte;
static u8 data[4096] __attribute__((aligned(4096)));

/* Whether the command line has the word `w` (e.g. "op=write"). */
static int has_word(const char *w) {
  const char *s = cmdline();
  size_t n = strlen(w);
  for (const char *p = s; *p; p++)
    if ((p == s || p[-1] == ' ') && !memcmp(p, w, n) && (p[n] == ' ' || p[n] == 0)) return 1;
  return 0;
}

/* Microseconds from the PM timer (now_ms's count, finer). */
static u64 now_us(void) {
  now_ms();
  return pm_ticks * 1000000 / 3579545u;
}

/* One request (header, 4 KiB, status) as descriptors 0-2, waited for; the status byte. */
static int request(u32 type, u64 sector) {
  hdr.type = type;
  hdr.reserved = 0;
  hdr.sector = sector;
  status_byte = 0xee;
  q.desc[0] = (struct vdesc){(ulong)&hdr, 16, 1, 1};
  q.desc[1] = (struct vdesc){(ulong)data, 4096, (u16)(1 | (type == 0 ? 2 : 0)), 2};
  q.desc[2] = (struct vdesc){(ulong)&status_byte, 1, 2, 0};
  u16 want = (u16)(q.used.idx + 1);
  virtio_post(&q, 0, 16);
  while (*(volatile u16 *)&q.used.idx != want) __asm__ volatile("pause");
  return status_byte;
}

int main(void) {
  report_begin("bench-vblk");
  now_ms();
  struct vdev v = virtio_find(0x1042);
  if (v.dev < 0 || !pm_timer_present()) {
    fail("needs a modern virtio-blk function (1af4:1042) and the PM timer at 0x608", "vblk.found");
    report_end();
  }
  u32 offered;
  check_eq(1, virtio_negotiate(&v, 0, &offered), "vblk.features-ok");
  virtio_queue(&v, &q, 0, 0);
  virtio_driver_ok(&v);
  u32 count = cmdline_u32("count", 256), span = cmdline_u32("span", 16) * 256; /* in 4 KiB blocks */
  int write = has_word("op=write"), random = has_word("pattern=rand");
  u32 capacity_blocks = mmio32(v.devcfg) / 8;
  if (span > capacity_blocks) span = capacity_blocks;
  for (int i = 0; i < 4096; i++) data[i] = (u8)(i * 31 + 7);
  u32 x = 2463534242u, errors = 0;
  u64 t0 = now_us();
  for (u32 n = 0; n < count; n++) {
    u32 block = n % span;
    if (random) {
      x ^= x << 13; x ^= x >> 17; x ^= x << 5; /* xorshift32 */
      block = x % span;
    }
    if (request(write ? 1 : 0, (u64)block * 8) != 0) errors++;
  }
  u64 t = now_us() - t0;
  check_eq(0, errors, "vblk.requests-ok");
  printf("vblk %s %s: %u x 4096 bytes in %u us\n", write ? "write" : "read", random ? "rand" : "seq", count, (u32)t);
  report_end();
}
