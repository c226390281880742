/* NMIs as the in-kernel LAPIC delivers them (a self-NMI through the ICR: delivery mode 100b,
 * "self" shorthand; SDM Vol. 3 11.6.1): taken with IF = 0, through IDT vector 2, and blocking
 * further NMIs until the handler's IRET (6.7.1) however many VM exits the handler makes; the
 * NMI that arrived meanwhile is delivered as soon as that IRET has run, before the interrupted
 * code's next instruction (the hypervisor's NMI window). Skips without an APIC. */
#include "lib.h"

#define APIC_BASE 0xfee00000ul
#define APIC_SVR 0xf0
#define APIC_ICR 0x300
#define ICR_SELF_NMI (0x40000u | 0x400u) /* shorthand self, delivery mode NMI */

static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE + reg) = v; }

static volatile u32 nmis, depth, max_depth, count_in_handler_after_exit;
static volatile u32 resend = 1;

static void nmi_handler(struct trap_frame *f) {
  (void)f;
  nmis++;
  if (++depth > max_depth) max_depth = depth;
  if (resend) {
    resend = 0;
    /* A second NMI while this one is handled: held (blocked by NMI) across the I/O exits. */
    apic_write(APIC_ICR, ICR_SELF_NMI);
    for (int i = 0; i < 8; i++) outb(0x80, (u8)i);
    count_in_handler_after_exit = nmis;
  }
  depth--;
}

int main(void) {
  report_begin("nmi");
  if (!(cpuid(1, 0).d & (1u << 9))) {
    skip("CPUID.1:EDX.APIC is 0 (no in-kernel irqchip)", "nmi");
    return 0;
  }
  set_handler(2, nmi_handler);
  apic_write(APIC_SVR, 0x1ff);
  cli();
  apic_write(APIC_ICR, ICR_SELF_NMI);
  /* Read at once: the held NMI came right after the first one's IRET (2), not later. */
  u32 at_return = nmis;
  check_eq(1, count_in_handler_after_exit, "nmi.blocked-in-handler-across-exits");
  check_eq(2, at_return, "nmi.held-delivered-at-iret");
  outb(0x80, 0);
  check_eq(2, nmis, "nmi.held-delivered");
  check_eq(1, max_depth, "nmi.never-nested");
  /* IF = 0 did not hold them back, and another one goes in at once. */
  apic_write(APIC_ICR, ICR_SELF_NMI);
  check_eq(3, nmis, "nmi.taken-with-if-clear");
  return 0;
}
