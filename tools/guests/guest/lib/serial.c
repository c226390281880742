/* The console: an 8250 UART at 0x3f8, polled (no interrupts), 115200 8N1. */
#include "lib.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

void serial_init(void) {
  outb(COM1 + UART_IER, 0);
  outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor latch */
  outb(COM1 + 0, 1);           /* 115200 baud */
  outb(COM1 + 1, 0);
  outb(COM1 + UART_LCR, 0x03); /* 8N1 */
  outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

void serial_putc(char c) {
  /* Bounded wait: a VMM's THR is always empty, a broken one must not hang the guest. */
  for (int i = 0; i < 100000 && !(inb(COM1 + UART_LSR) & LSR_THRE); i++) {
  }
  outb(COM1 + UART_THR, (u8)c);
}

void puts_raw(const char *s) {
  while (*s) serial_putc(*s++);
}
