/* The 8259A pair (master 0x20/0x21, slave 0xa0/0xa1) and the 8254 PIT channel 0 (IRQ 0). */
#include "lib.h"

volatile u32 pit_ticks;

void pic_init(void) {
  /* ICW1: edge, cascade, ICW4 needed; ICW2: vector base; ICW3: slave on IR2; ICW4: 8086 mode. */
  outb(0x20, 0x11);
  outb(0xa0, 0x11);
  outb(0x21, VEC_IRQ0);
  outb(0xa1, VEC_IRQ0 + 8);
  outb(0x21, 0x04);
  outb(0xa1, 0x02);
  outb(0x21, 0x01);
  outb(0xa1, 0x01);
  outb(0x21, 0xff); /* OCW1: everything masked until a test unmasks it */
  outb(0xa1, 0xff);
}

void pic_mask(int irq, int masked) {
  u16 port = irq < 8 ? 0x21 : 0xa1;
  u8 bit = (u8)(1u << (irq & 7));
  u8 m = inb(port);
  outb(port, masked ? (m | bit) : (m & ~bit));
}

void pic_eoi(int irq) {
  if (irq >= 8) outb(0xa0, 0x20);
  outb(0x20, 0x20); /* OCW2: non-specific EOI */
}

u8 pic_irr(void) {
  outb(0x20, 0x0a); /* OCW3: read IRR */
  u8 v = inb(0x20);
  outb(0x20, 0x0b); /* back to ISR reads */
  return v;
}

void pit_periodic(u16 divisor) {
  outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
  outb(0x40, (u8)divisor);
  outb(0x40, (u8)(divisor >> 8));
}

static void pit_irq(struct trap_frame *f) {
  (void)f;
  pit_ticks++;
  pic_eoi(0);
}

void pit_irq_install(void) { set_handler(VEC_IRQ0, pit_irq); }
