/* A virtio-console driver of our own (virtio 1.2 §5.3, one port: no VIRTIO_CONSOLE_F_MULTIPORT,
 * so receiveq is queue 0 and transmitq queue 1), polled, for qemu-lite's `-device virtconsole`:
 * it writes a line to the console, then reads what the host types into it (qemu-lite's
 * `-chardev stdio` on the virtconsole, or runGuest's `sendConsoleInput`) and prints each line on
 * the serial port as `console: LINE`, until a line `quit` (or `wait=` seconds, default 60). */
#include "virtio.h"

static struct vqueue rxq, txq;

static void console_write(const char *s) {
  u16 id = virtio_tx_slot(&txq);
  u32 n = (u32)strlen(s);
  memcpy(txq.buf[id], s, n);
  virtio_post(&txq, id, n);
}

int main(void) {
  report_begin("virtiocon");
  now_ms();
  if (!pm_timer_present()) {
    skip("no ACPI PM timer at 0x608 to keep time with", "virtiocon.pm-timer");
    report_end();
  }
  struct vdev v = virtio_find(0x1043);
  if (v.dev < 0) {
    skip("no virtio-console PCI function (give -device virtio-serial-pci -device virtconsole)", "virtiocon.found");
    report_end();
  }
  u32 offered;
  check_eq(1, virtio_negotiate(&v, 0, &offered), "virtiocon.status.features-ok");
  virtio_queue(&v, &rxq, 0, 1);
  virtio_queue(&v, &txq, 1, 0);
  virtio_driver_ok(&v);
  /* Small receive buffers: the device fills each with as many bytes as are waiting. */
  for (u16 i = 0; i < VIRTIO_QN; i++) virtio_post(&rxq, i, 64);
  console_write("virtiocon: type a line\n");
  printf("virtiocon ready\n");

  static char line[128];
  u32 at = 0, lines = 0, wait_ms = cmdline_u32("wait", 60) * 1000, start = now_ms();
  int quit = 0;
  while (!quit && now_ms() - start < wait_ms) {
    u32 len;
    int id = virtio_used(&rxq, &len);
    if (id < 0) { __asm__ volatile("pause"); continue; }
    for (u32 i = 0; i < len && i < 64 && !quit; i++) {
      char c = (char)rxq.buf[id][i];
      if (c == '\r' || c == '\n') {
        line[at] = 0;
        if (at > 0) {
          printf("console: %s\n", line);
          lines++;
          if (!memcmp(line, "quit", 5)) quit = 1;
        }
        at = 0;
      } else if (at < sizeof line - 1) {
        line[at++] = c;
      }
    }
    virtio_post(&rxq, (u16)id, 64);
  }
  report(quit, "virtiocon.read.quit-line");
  printf("%u lines\n", lines);
  console_write("virtiocon: bye\n");
  report_end();
}
