/* QEMU's pc-testdev (hw/misc/pc-testdev.c, `-device pc-testdev`), the device KVM's own guest
 * test suites use: the 32-bit scratch register at ports 0xe0-0xe3 (an access at 0xe0 + n
 * reaches its bytes n...; QEMU's `test_ioport_read/write`) and its byte-wide view at 0xe8-0xeb,
 * the page-flush port 0xe4 (QEMU unmaps the page from KVM and back: the guest must see its
 * memory unchanged), the ISA IRQ lines at 0x2000 + n (here IRQ 5 through the 8259: an edge
 * latches IRR, nothing reaches the CPU with IF = 0, one interrupt per rising edge), and the
 * 64 KiB of I/O memory at 0xff000000, which reads back what was written at every width and
 * through REP MOVS/STOS (every access an MMIO exit). Skips without the device. */
#include "lib.h"

#define TESTDEV_IOPORT 0xe0
#define TESTDEV_FLUSH 0xe4
#define TESTDEV_IOPORT_BYTE 0xe8
#define TESTDEV_IRQ 0x2000
#define TESTDEV_IOMEM 0xff000000ul
#define TESTDEV_IOMEM_LEN 0x10000ul
#define IRQ 5

static volatile u32 irq_count;

static void irq_handler(struct trap_frame *f) {
  (void)f;
  irq_count++;
  pic_eoi(IRQ);
}

static void scratch(void) {
  outl(TESTDEV_IOPORT, 0x12345678);
  check_eq(0x12345678, inl(TESTDEV_IOPORT), "pctestdev.scratch.dword");
  check_eq(0x5678, inw(TESTDEV_IOPORT), "pctestdev.scratch.word-low");
  check_eq(0x1234, inw(TESTDEV_IOPORT + 2), "pctestdev.scratch.word-at-2");
  check_eq(0x56, inb(TESTDEV_IOPORT + 1), "pctestdev.scratch.byte-at-1");
  /* A dword read at 0xe2 reaches bytes 2 and 3 only (QEMU masks in 32 bits). */
  check_eq(0x1234, inl(TESTDEV_IOPORT + 2), "pctestdev.scratch.dword-at-2-upper-bytes");
  outb(TESTDEV_IOPORT + 2, 0xab);
  check_eq(0x12ab5678, inl(TESTDEV_IOPORT), "pctestdev.scratch.byte-write-at-2");
  outw(TESTDEV_IOPORT + 1, 0xcdef);
  check_eq(0x12cdef78, inl(TESTDEV_IOPORT), "pctestdev.scratch.word-write-at-1");
  /* The byte-wide view: the same register, a wider access split into bytes. */
  check_eq(0x12cdef78, inl(TESTDEV_IOPORT_BYTE), "pctestdev.byteview.dword-read");
  check_eq(0xef, inb(TESTDEV_IOPORT_BYTE + 1), "pctestdev.byteview.byte-read");
  outl(TESTDEV_IOPORT_BYTE, 0xa1b2c3d4);
  check_eq(0xa1b2c3d4, inl(TESTDEV_IOPORT), "pctestdev.byteview.dword-write");
  outb(TESTDEV_IOPORT_BYTE + 3, 0x5e);
  check_eq(0x5eb2c3d4, inl(TESTDEV_IOPORT), "pctestdev.byteview.byte-write");
}

static void reads_zero(void) {
  /* QEMU's flush and IRQ regions have read handlers that return 0. */
  check_eq(0, inl(TESTDEV_FLUSH), "pctestdev.flush.reads-zero");
  check_eq(0, inb(TESTDEV_IRQ + IRQ), "pctestdev.irq.reads-zero");
}

static u8 flush_page[4096] __attribute__((aligned(4096)));

static void flush(void) {
  for (int i = 0; i < 4096; i++) flush_page[i] = (u8)(i * 7 + 3);
  outl(TESTDEV_FLUSH, (u32)(ulong)flush_page);
  int same = 1;
  for (int i = 0; i < 4096; i++) same &= flush_page[i] == (u8)(i * 7 + 3);
  report(same, "pctestdev.flush.page-unchanged");
  flush_page[100] = 0x42;
  outl(TESTDEV_FLUSH, (u32)(ulong)flush_page);
  check_eq(0x42, flush_page[100], "pctestdev.flush.written-after-flush");
}

static int wait_count(u32 n) {
  for (int i = 0; i < 2000000 && irq_count < n; i++) __asm__ volatile("pause");
  return irq_count >= n;
}

static void irq_lines(void) {
  set_handler(VEC_IRQ0 + IRQ, irq_handler);
  cli();
  pic_mask(IRQ, 0);
  outb(TESTDEV_IRQ + IRQ, 1);
  check_eq(1u << IRQ, pic_irr() & (1u << IRQ), "pctestdev.irq.rising-edge-latched-in-irr");
  check_eq(0, irq_count, "pctestdev.irq.held-while-if-clear");
  sti();
  report(wait_count(1), "pctestdev.irq.delivered-after-sti");
  cli();
  /* The line stays high: no new edge, no second interrupt. */
  outb(TESTDEV_IRQ + IRQ, 1);
  sti();
  for (volatile int i = 0; i < 20000; i++) {
  }
  cli();
  check_eq(1, irq_count, "pctestdev.irq.no-edge-no-interrupt");
  /* Lowered and raised again: one more. */
  outb(TESTDEV_IRQ + IRQ, 0);
  outb(TESTDEV_IRQ + IRQ, 1);
  sti();
  report(wait_count(2), "pctestdev.irq.second-edge-delivered");
  cli();
  check_eq(2, irq_count, "pctestdev.irq.exactly-one-per-edge");
  /* A word write is split into byte writes to successive lines (the region's max access size
   * is 1): at 0x2005, 0x0100 keeps line 5 low and raises line 6 (masked: IRR only); 0x0001
   * raises line 5 (an interrupt) and lowers line 6. */
  outw(TESTDEV_IRQ + IRQ, 0x0000);
  outw(TESTDEV_IRQ + IRQ, 0x0100);
  check_eq(1u << (IRQ + 1), pic_irr() & (3u << IRQ), "pctestdev.irq.word-write-high-byte-next-line");
  outw(TESTDEV_IRQ + IRQ, 0x0001);
  sti();
  report(wait_count(3), "pctestdev.irq.word-write-low-byte-own-line");
  cli();
  check_eq(3, irq_count, "pctestdev.irq.word-write-one-interrupt");
  outw(TESTDEV_IRQ + IRQ, 0x0000);
  pic_mask(IRQ, 1);
}

static u8 pattern[256];

static void iomem(void) {
  volatile u32 *m32 = (volatile u32 *)TESTDEV_IOMEM;
  volatile u16 *m16 = (volatile u16 *)TESTDEV_IOMEM;
  volatile u8 *m8 = (volatile u8 *)TESTDEV_IOMEM;
  check_eq(0, m32[0], "pctestdev.iomem.zero-at-power-on");
  m32[0] = 0xdeadbeef;
  check_eq(0xdeadbeef, m32[0], "pctestdev.iomem.dword");
  check_eq(0xdead, m16[1], "pctestdev.iomem.word-at-2");
  check_eq(0xbe, m8[1], "pctestdev.iomem.byte-at-1");
  m8[2] = 0x11;
  check_eq(0xde11beef, m32[0], "pctestdev.iomem.byte-write");
  /* Unaligned, across a dword boundary. */
  *(volatile u32 *)(TESTDEV_IOMEM + 6) = 0xcafef00d;
  check_eq(0xf00d, m16[3], "pctestdev.iomem.unaligned-dword-low");
  check_eq(0xcafe, m16[4], "pctestdev.iomem.unaligned-dword-high");
  volatile u32 *end = (volatile u32 *)(TESTDEV_IOMEM + TESTDEV_IOMEM_LEN - 4);
  *end = 0x600df00d;
  check_eq(0x600df00d, *end, "pctestdev.iomem.last-dword");
#ifdef __x86_64__
  volatile u64 *m64 = (volatile u64 *)(TESTDEV_IOMEM + 0x100);
  *m64 = 0x0123456789abcdefull;
  check_eq(0x0123456789abcdefull, *m64, "pctestdev.iomem.qword");
  check_eq(0x01234567, m32[0x41], "pctestdev.iomem.qword-upper-dword");
#endif
  /* String instructions into and out of I/O memory: one MMIO exit per element. */
  for (int i = 0; i < 256; i++) pattern[i] = (u8)(i ^ 0x5a);
  void *dst = (void *)(TESTDEV_IOMEM + 0x1000);
  const void *src = pattern;
  ulong n = 256;
  __asm__ volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(n)::"memory");
  int same = 1;
  for (int i = 0; i < 256; i++) same &= m8[0x1000 + i] == (u8)(i ^ 0x5a);
  report(same, "pctestdev.iomem.rep-movsb-in");
  static u8 back[256];
  dst = back;
  src = (const void *)(TESTDEV_IOMEM + 0x1000);
  n = 256;
  __asm__ volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(n)::"memory");
  report(memcmp(back, pattern, 256) == 0, "pctestdev.iomem.rep-movsb-out");
  dst = (void *)(TESTDEV_IOMEM + 0x2000);
  n = 64;
  __asm__ volatile("cld; rep stosl" : "+D"(dst), "+c"(n) : "a"(0x89abcdef) : "memory");
  same = 1;
  for (int i = 0; i < 64; i++) same &= m32[0x800 + i] == 0x89abcdef;
  report(same, "pctestdev.iomem.rep-stosl");
}

int main(void) {
  report_begin("pctestdev");
  outl(TESTDEV_IOPORT, 0x5a5aa5a5);
  if (inl(TESTDEV_IOPORT) != 0x5a5aa5a5) {
    skip("no pc-testdev (-device pc-testdev) at port 0xe0", "pctestdev");
    return 0;
  }
  scratch();
  reads_zero();
  flush();
  iomem();
  irq_lines();
  return 0;
}
