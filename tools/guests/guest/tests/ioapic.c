/* The I/O APIC of KVM's in-kernel irqchip (82093AA datasheet; SDM Vol. 3 11.8.5 for the EOI):
 * identification through IOREGSEL/IOWIN, and a level-triggered interrupt from a real device
 * line: the UART's IRQ 4, which stays asserted while its THR-empty interrupt is pending. Remote
 * IRR is set by the delivery and cleared by the local APIC's EOI; a line still asserted at the
 * EOI is delivered again; TMR marks the vector level-triggered. Skips without an APIC. */
#include "lib.h"

#define IOAPIC_BASE 0xfec00000ul
#define IOAPIC_ID 0x00
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))
#define APIC_BASE 0xfee00000ul
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_TMR 0x180
#define COM1 0x3f8
#define UART_IER 1
#define UART_IIR 2
#define UART_MCR 4
#define IER_THRI 0x02
#define MCR_OUT2 0x08
#define VEC_UART 0x60
#define RTE_LEVEL (1u << 15)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_MASKED (1u << 16)

static u32 ioapic_read(u32 reg) {
  *(volatile u32 *)IOAPIC_BASE = reg;
  return *(volatile u32 *)(IOAPIC_BASE + 0x10);
}
static void ioapic_write(u32 reg, u32 v) {
  *(volatile u32 *)IOAPIC_BASE = reg;
  *(volatile u32 *)(IOAPIC_BASE + 0x10) = v;
}
static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE + reg) = v; }

/* What the handler saw, printed only once the UART interrupt is off again: a print writes THR,
 * which re-raises the very interrupt under test. */
static volatile u32 deliveries, clear_source_after = 1, rirr_in_handler, tmr_in_handler;

static void uart_handler(struct trap_frame *f) {
  (void)f;
  deliveries++;
  rirr_in_handler = ioapic_read(IOAPIC_REDTBL(4)) & RTE_REMOTE_IRR;
  tmr_in_handler = apic_read(APIC_TMR + 0x10 * (VEC_UART / 32)) & (1u << (VEC_UART % 32));
  /* Deassert the line (IER off) once the count is reached; else leave it asserted. */
  if (deliveries >= clear_source_after) outb(COM1 + UART_IER, 0);
  apic_write(APIC_EOI, 0);
}

static int wait_for(u32 n) {
  for (int i = 0; i < 2000000 && deliveries < n; i++) __asm__ volatile("sti; pause; cli" ::: "memory");
  return deliveries >= n;
}

static void settle(void) {
  for (int i = 0; i < 20000; i++) __asm__ volatile("sti; pause; cli" ::: "memory");
}

int main(void) {
  report_begin("ioapic");
  if (!(cpuid(1, 0).d & (1u << 9))) {
    skip("CPUID.1:EDX.APIC is 0 (no in-kernel irqchip)", "ioapic");
    return 0;
  }
  u32 ver = ioapic_read(IOAPIC_VER);
  check_eq(0x11, ver & 0xff, "ioapic.version");
  check_eq(23, (ver >> 16) & 0xff, "ioapic.max-redirection-entry");
  check_eq(RTE_MASKED, ioapic_read(IOAPIC_REDTBL(4)), "ioapic.pin4-masked-at-reset");
  ioapic_write(IOAPIC_ID, 5u << 24);
  check_eq(5u << 24, ioapic_read(IOAPIC_ID), "ioapic.id-writable");
  ioapic_write(IOAPIC_ID, 0);

  set_handler(VEC_UART, uart_handler);
  apic_write(APIC_SVR, 0x1ff);
  cli();
  /* Pin 4: fixed, physical destination APIC 0, active high, level-triggered, unmasked. */
  ioapic_write(IOAPIC_REDTBL(4) + 1, 0);
  ioapic_write(IOAPIC_REDTBL(4), VEC_UART | RTE_LEVEL);
  u8 mcr = inb(COM1 + UART_MCR);
  outb(COM1 + UART_MCR, mcr | MCR_OUT2); /* OUT2 gates the UART's IRQ onto the bus */

  /* 1. The line rises with interrupts off: delivered to the APIC, so remote IRR is set. */
  clear_source_after = 1;
  outb(COM1 + UART_IER, IER_THRI);
  u32 rirr_pending = ioapic_read(IOAPIC_REDTBL(4)) & RTE_REMOTE_IRR;
  int took = wait_for(1);
  settle();
  u32 first = deliveries;
  u32 rirr_after_eoi = ioapic_read(IOAPIC_REDTBL(4)) & RTE_REMOTE_IRR;
  u32 seen_rirr = rirr_in_handler, seen_tmr = tmr_in_handler;

  /* 2. EOI while the line is still asserted: delivered again at once, until the handler
   * deasserts it on the third delivery. */
  deliveries = 0;
  clear_source_after = 3;
  outb(COM1 + UART_IER, IER_THRI);
  int took3 = wait_for(3);
  settle();
  u32 third = deliveries;

  /* 3. Masked pin: the asserted line is not delivered; unmasking delivers it. */
  deliveries = 0;
  clear_source_after = 1;
  ioapic_write(IOAPIC_REDTBL(4), VEC_UART | RTE_LEVEL | RTE_MASKED);
  outb(COM1 + UART_IER, IER_THRI);
  settle();
  u32 while_masked = deliveries;
  ioapic_write(IOAPIC_REDTBL(4), VEC_UART | RTE_LEVEL);
  int took_unmasked = wait_for(1);
  settle();

  outb(COM1 + UART_IER, 0);
  outb(COM1 + UART_MCR, mcr);
  ioapic_write(IOAPIC_REDTBL(4), RTE_MASKED);

  check_eq(RTE_REMOTE_IRR, rirr_pending, "level.remote-irr-set-on-delivery");
  report(took, "level.delivered-after-sti");
  check_eq(RTE_REMOTE_IRR, seen_rirr, "level.remote-irr-set-in-handler");
  check_eq(1u << (VEC_UART % 32), seen_tmr, "level.tmr-marks-vector");
  check_eq(1, first, "level.once-when-source-cleared-before-eoi");
  check_eq(0, rirr_after_eoi, "level.eoi-clears-remote-irr");
  report(took3, "level.redelivered-while-asserted-at-eoi");
  check_eq(3, third, "level.stops-when-deasserted");
  check_eq(0, while_masked, "level.masked-pin-not-delivered");
  report(took_unmasked, "level.unmask-delivers-asserted-line");
  return 0;
}
