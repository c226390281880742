/* The local APIC as KVM's in-kernel irqchip presents it (xAPIC page at 0xfee00000, SDM Vol. 3
 * ch. 11): identification, a self-IPI through the ICR "self" shorthand, TPR masking (and CR8 in
 * 64-bit mode, SDM 11.8.6), the timer in one-shot, periodic and TSC-deadline modes (11.5.4),
 * and EOI clearing the in-service bit. Skips everything when CPUID says there is no APIC
 * (qemu-lite's -machine kernel-irqchip=off). */
#include "lib.h"

#define APIC_BASE 0xfee00000ul
#define APIC_ID 0x20
#define APIC_LVR 0x30
#define APIC_TPR 0x80
#define APIC_PPR 0xa0
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ISR 0x100
#define APIC_IRR 0x200
#define APIC_ICR 0x300
#define APIC_LVTT 0x320
#define APIC_TMICT 0x380
#define APIC_TMCCT 0x390
#define APIC_TDCR 0x3e0
#define MSR_IA32_APIC_BASE 0x1bu
#define MSR_IA32_TSC_DEADLINE 0x6e0u
#define VEC_IPI 0x45
#define VEC_TIMER 0x50
#define LVT_MASKED (1u << 16)
#define LVTT_PERIODIC (1u << 17)
#define LVTT_TSC_DEADLINE (2u << 17)

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE + reg) = v; }

static volatile u32 ipis, timer_ticks, eoi_in_handler = 1;
static volatile u32 isr_seen;

static void ipi_handler(struct trap_frame *f) {
  (void)f;
  ipis++;
  /* ISR bit of the vector being serviced (SDM 11.8.4): 0x45 is bit 5 of ISR[2]. */
  isr_seen = apic_read(APIC_ISR + 0x10 * (VEC_IPI / 32));
  if (eoi_in_handler) apic_write(APIC_EOI, 0);
}

static void timer_handler(struct trap_frame *f) {
  (void)f;
  timer_ticks++;
  apic_write(APIC_EOI, 0);
}

/* Waits (interrupts on) until *counter reaches n, or gives up; returns whether it did. */
static int wait_for(volatile u32 *counter, u32 n) {
  for (int i = 0; i < 2000000 && *counter < n; i++) __asm__ volatile("sti; pause; cli" ::: "memory");
  return *counter >= n;
}

/* Runs a while with interrupts open, for checks that nothing arrives (kept short: on a host
 * that emulates CPL-0 code instruction by instruction a long wait costs seconds). */
static void settle(void) {
  for (int i = 0; i < 20000; i++) __asm__ volatile("sti; pause; cli" ::: "memory");
}

static void self_ipi(int vector) { apic_write(APIC_ICR, 0x40000 | vector); /* shorthand: self */ }

int main(void) {
  report_begin("apic");
  if (!(cpuid(1, 0).d & (1u << 9))) {
    skip("CPUID.1:EDX.APIC is 0 (no in-kernel irqchip)", "apic");
    return 0;
  }
  u64 base = rdmsr(MSR_IA32_APIC_BASE);
  check_eq(0xfee00900, base & 0xfffff900, "apic.base-msr-bsp-enabled");
  check_eq(0, apic_read(APIC_ID) >> 24, "apic.id-is-0");
  check_eq(0x14, apic_read(APIC_LVR) & 0xff, "apic.version");
  report(((apic_read(APIC_LVR) >> 16) & 0xff) >= 4, "apic.max-lvt-at-least-4");

  set_handler(VEC_IPI, ipi_handler);
  set_handler(VEC_TIMER, timer_handler);
  apic_write(APIC_SVR, 0x1ff); /* software enable, spurious vector 0xff */
  check_eq(0x1ff, apic_read(APIC_SVR), "apic.svr-enabled");

  /* A self-IPI with interrupts off waits in IRR, is delivered at STI and shows in ISR. */
  cli();
  self_ipi(VEC_IPI);
  check_eq(0, ipis, "ipi.held-while-if-clear");
  check_eq(1u << (VEC_IPI % 32), apic_read(APIC_IRR + 0x10 * (VEC_IPI / 32)), "ipi.in-irr");
  report(wait_for(&ipis, 1), "ipi.self-delivered");
  check_eq(1u << (VEC_IPI % 32), isr_seen, "ipi.in-isr-while-serviced");
  check_eq(0, apic_read(APIC_ISR + 0x10 * (VEC_IPI / 32)), "ipi.isr-clear-after-eoi");

  /* Without EOI the vector stays in service and a second one waits (same priority class). */
  eoi_in_handler = 0;
  self_ipi(VEC_IPI);
  wait_for(&ipis, 2);
  self_ipi(VEC_IPI);
  settle();
  check_eq(2, ipis, "ipi.blocked-by-in-service");
  check_eq(0x40, apic_read(APIC_PPR) & 0xf0, "ppr.follows-in-service-class");
  eoi_in_handler = 1;
  apic_write(APIC_EOI, 0);
  report(wait_for(&ipis, 3), "ipi.delivered-after-eoi");

  /* TPR at the vector's class holds it back (SDM 11.8.3.1); lowering TPR delivers it. */
  apic_write(APIC_TPR, 0x40);
  self_ipi(VEC_IPI);
  settle();
  check_eq(3, ipis, "tpr.masks-equal-class");
  check_eq(0x40, apic_read(APIC_PPR), "ppr.is-tpr");
  apic_write(APIC_TPR, 0x30);
  report(wait_for(&ipis, 4), "tpr.lower-class-delivers");
#ifdef __x86_64__
  /* CR8 is TPR[7:4] (SDM 11.8.6.1). */
  __asm__ volatile("mov %0, %%cr8" ::"r"(5ul));
  check_eq(0x50, apic_read(APIC_TPR), "cr8.write-sets-tpr");
  ulong cr8;
  apic_write(APIC_TPR, 0x20);
  __asm__ volatile("mov %%cr8, %0" : "=r"(cr8));
  check_eq(2, cr8, "cr8.reads-tpr");
  __asm__ volatile("mov %0, %%cr8" ::"r"(0ul));
#endif
  apic_write(APIC_TPR, 0);

  /* One-shot timer: fires once, then the current count reads 0. */
  apic_write(APIC_TDCR, 0xb); /* divide by 1 */
  apic_write(APIC_LVTT, VEC_TIMER);
  apic_write(APIC_TMICT, 200000);
  report(apic_read(APIC_TMCCT) <= 200000, "timer.oneshot-counts-down");
  report(wait_for(&timer_ticks, 1), "timer.oneshot-fires");
  settle();
  check_eq(1, timer_ticks, "timer.oneshot-fires-once");
  check_eq(0, apic_read(APIC_TMCCT), "timer.oneshot-current-count-0");

  /* Periodic: keeps firing; masking the LVT stops it. */
  apic_write(APIC_LVTT, VEC_TIMER | LVTT_PERIODIC);
  apic_write(APIC_TMICT, 100000);
  report(wait_for(&timer_ticks, 4), "timer.periodic-keeps-firing");
  apic_write(APIC_LVTT, VEC_TIMER | LVTT_PERIODIC | LVT_MASKED);
  apic_write(APIC_TMICT, 0);
  settle(); /* a tick already requested before the mask is still delivered */
  u32 t = timer_ticks;
  settle();
  check_eq(t, timer_ticks, "timer.stopped-by-tmict-0");

  /* TSC-deadline (CPUID.1:ECX[24]): fires when the TSC passes the MSR, which then reads 0. */
  if (cpuid(1, 0).c & (1u << 24)) {
    apic_write(APIC_LVTT, VEC_TIMER | LVTT_TSC_DEADLINE);
    t = timer_ticks;
    wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + 200000);
    report(wait_for(&timer_ticks, t + 1), "timer.tsc-deadline-fires");
    check_eq(0, rdmsr(MSR_IA32_TSC_DEADLINE), "timer.tsc-deadline-msr-cleared");
    apic_write(APIC_LVTT, LVT_MASKED);
  } else {
    skip("no TSC-deadline timer in CPUID", "timer.tsc-deadline");
  }
  cli();
  return 0;
}
