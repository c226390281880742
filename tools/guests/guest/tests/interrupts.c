/* Hardware interrupts: the PIT (IRQ 0) through the master 8259 (vector 0x20). Delivered after
 * STI, held off while IF=0 (CLI) and while masked in the IMR, held off by an unacknowledged
 * in-service IRQ until EOI, taken only after the instruction following STI (the STI shadow,
 * SDM Vol. 3 6.8.3), and waking HLT. */
#include "lib.h"

extern char hlt_done[], shadow_insn[], shadow_done[];
static volatile u32 ticks, eoi_enabled = 1;
static volatile ulong irq_ip;

static void irq0(struct trap_frame *f) {
  ticks++;
  irq_ip = f->ip;
  if (eoi_enabled) pic_eoi(0);
}

/* Polls the master IRR until IRQ 0 is requested; returns 0 if it never is. */
static int wait_irr0(void) {
  for (int i = 0; i < 2000000; i++)
    if (pic_irr() & 1) return 1;
  return 0;
}

static int wait_ticks(u32 n) {
  for (int i = 0; i < 2000000 && ticks < n; i++) __asm__ volatile("pause");
  return ticks >= n;
}

int main(void) {
  report_begin("interrupts");
  set_handler(VEC_IRQ0, irq0);
  pit_periodic(1193); /* ~1 kHz */

  /* IF=0: the request shows in the IRR but is not delivered. */
  cli();
  pic_mask(0, 0);
  report(wait_irr0(), "irq0.irr-set-while-if-clear");
  check_eq(0, ticks, "irq0.not-delivered-while-if-clear");

  /* STI shadow: the pending interrupt is taken after the instruction that follows STI. The
   * handler sends no EOI here, so however slowly an engine runs, the in-service IRQ 0 keeps a
   * second tick from arriving inside the window (the counts below stay exact). */
  eoi_enabled = 0;
  __asm__ volatile("sti\n shadow_insn: nop\n shadow_done: nop\n nop\n cli" ::: "memory");
  check_eq(1, ticks, "irq0.delivered-after-sti");
  check_eq((ulong)shadow_done, irq_ip, "irq0.sti-shadow-delivers-after-next-insn");
  pic_eoi(0);

  /* HLT is woken by the interrupt; the handler returns to the instruction after HLT. */
  u32 t0 = ticks;
  __asm__ volatile("sti\n hlt\n hlt_done: cli" ::: "memory");
  check_eq(t0 + 1, ticks, "irq0.hlt-woken-by-one-interrupt");
  check_eq((ulong)hlt_done, irq_ip, "irq0.hlt-resumes-after-hlt");
  pic_eoi(0);
  eoi_enabled = 1;

  /* Several in a row with IF=1. */
  sti();
  report(wait_ticks(t0 + 6), "irq0.periodic-keeps-coming");
  cli();

  /* Masked in the IMR: the IRR still latches the request, nothing is delivered. */
  pic_mask(0, 1);
  u32 t1 = ticks;
  sti();
  report(wait_irr0(), "irq0.irr-set-while-masked");
  for (volatile int i = 0; i < 20000; i++) {
  }
  check_eq(t1, ticks, "irq0.not-delivered-while-masked");
  pic_mask(0, 0);
  report(wait_ticks(t1 + 1), "irq0.delivered-after-unmask");
  cli();

  /* No EOI: the in-service bit blocks further IRQ 0 (8259A: same priority is not nested). */
  eoi_enabled = 0;
  u32 t2 = ticks;
  sti();
  wait_ticks(t2 + 1);
  report(wait_irr0(), "irq0.requested-while-in-service");
  for (volatile int i = 0; i < 20000; i++) {
  }
  cli();
  check_eq(t2 + 1, ticks, "irq0.blocked-until-eoi");
  eoi_enabled = 1;
  pic_eoi(0);
  sti();
  report(wait_ticks(t2 + 2), "irq0.delivered-after-eoi");
  cli();
  pic_mask(0, 1);
  return 0;
}
