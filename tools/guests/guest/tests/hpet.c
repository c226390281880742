/* The HPET of QEMU's pc machine (`-machine hpet=on`, the default; IA-PC HPET 1.0a): identified
 * at 0xfed00000 as QEMU's (vendor 8086h, three 64-bit timers, 10 ns period), its main counter
 * halted until enabled and then counting at 100 MHz against the ACPI PM timer (3.579545 MHz),
 * writable while halted; a level-triggered timer sets its status bit when the counter reaches
 * its comparator, cleared by writing 1; a periodic timer's comparator moves on by its period.
 * Timer interrupts are left masked (their I/O APIC input 2 is the PIT's too). Skips without an
 * HPET (`-machine hpet=off`, or a machine that has none). */
#include "lib.h"

#define HPET_BASE 0xfed00000ul
#define HPET_ID 0x000
#define HPET_PERIOD 0x004
#define HPET_CFG 0x010
#define HPET_STATUS 0x020
#define HPET_COUNTER 0x0f0
#define HPET_TN_CFG(n) (0x100 + 0x20 * (n))
#define HPET_TN_CMP(n) (0x108 + 0x20 * (n))
#define TN_LEVEL 0x2
#define TN_ENABLE 0x4
#define TN_PERIODIC 0x8
#define TN_SETVAL 0x40
#define TN_32BIT 0x100
#define TN_ROUTE_2 (2u << 9)
#define PM_TMR_PORT 0x608

static inline u32 hpet_read(u32 reg) { return *(volatile u32 *)(HPET_BASE + reg); }
static inline void hpet_write(u32 reg, u32 v) { *(volatile u32 *)(HPET_BASE + reg) = v; }

/* Spins until the HPET counter has advanced by `ticks` (or gives up); returns the ticks seen. */
static u32 spin_ticks(u32 ticks) {
  u32 start = hpet_read(HPET_COUNTER);
  u32 now = start;
  for (long i = 0; i < 50000000 && now - start < ticks; i++) now = hpet_read(HPET_COUNTER);
  return now - start;
}

int main(void) {
  report_begin("hpet");
  if (hpet_read(HPET_ID) != 0x8086a201) {
    skip("no HPET at 0xfed00000", "hpet");
    return 0;
  }
  check_eq(0x8086a201, hpet_read(HPET_ID), "hpet.id-qemu");
  check_eq(10000000, hpet_read(HPET_PERIOD), "hpet.period-10ns");
  check_eq(0x30, hpet_read(HPET_TN_CFG(0)), "hpet.timer0-periodic-64bit-cap");
  check_eq(0x4, hpet_read(HPET_TN_CFG(0) + 4), "hpet.timer0-routes-to-ioapic-2");

  /* Halted at power-on: the counter stays, and takes a value written then. */
  u32 c0 = hpet_read(HPET_COUNTER);
  for (int i = 0; i < 1000; i++) (void)inl(PM_TMR_PORT);
  check_eq(c0, hpet_read(HPET_COUNTER), "hpet.counter-halted-until-enabled");
  hpet_write(HPET_COUNTER, 0x1000);
  hpet_write(HPET_COUNTER + 4, 0);
  check_eq(0x1000, hpet_read(HPET_COUNTER), "hpet.counter-writable-while-halted");

  /* Enabled: 100 MHz against the PM timer's 3.579545 MHz (27.94 HPET ticks per PM tick). */
  hpet_write(HPET_CFG, 1);
  /* Each end read as a pair, HPET then PM timer; 100 ms makes a host preemption between the two
   * reads of a pair (this machine is shared) small against the ±5% allowed. */
  u32 h0 = hpet_read(HPET_COUNTER);
  u32 pm0 = inl(PM_TMR_PORT);
  spin_ticks(10000000);
  u32 ticks = hpet_read(HPET_COUNTER) - h0;
  u32 pm = (inl(PM_TMR_PORT) - pm0) & 0xffffff;
  report(ticks >= 10000000, "hpet.counter-counts-when-enabled");
  u32 expect_pm = (ticks / 1000) * 35795 / 1000; /* 32-bit arithmetic: no libgcc division */
  report(pm > expect_pm * 95 / 100 && pm < expect_pm * 105 / 100, "hpet.rate-100mhz-against-pm-timer");

  /* Timer 2, level-triggered: its status bit when the counter passes the comparator. */
  u32 now = hpet_read(HPET_COUNTER);
  hpet_write(HPET_TN_CMP(2), now + 2000000); /* 20 ms: an emulated MMIO access may take a while */
  hpet_write(HPET_TN_CMP(2) + 4, hpet_read(HPET_COUNTER + 4));
  hpet_write(HPET_TN_CFG(2), TN_LEVEL | TN_ENABLE | TN_ROUTE_2);
  /* Not before the comparator: status read first, then the counter, which must be past it if
   * the bit was set (exact whatever time the host takes between the accesses). */
  u32 st = hpet_read(HPET_STATUS) & 4;
  u32 after = hpet_read(HPET_COUNTER);
  report(!st || after - now >= 2000000, "hpet.level-status-not-before-comparator");
  spin_ticks(4000000);
  check_eq(4, hpet_read(HPET_STATUS) & 4, "hpet.level-status-set-at-comparator");
  hpet_write(HPET_STATUS, 4);
  check_eq(0, hpet_read(HPET_STATUS) & 4, "hpet.status-write-1-clears");
  hpet_write(HPET_TN_CFG(2), 0);

  /* Timer 0, periodic in 32-bit mode as Linux's hpet_set_periodic programs it (edge, not
   * legacy-routed): with SETVAL the first comparator write sets comparator and period, the
   * second the period; each expiry moves the comparator on by whole periods. */
  now = hpet_read(HPET_COUNTER);
  /* Programmed while disabled, so that no expiry between the two writes (the host may take
   * milliseconds between exits) uses the first value as the period; then enabled. */
  hpet_write(HPET_TN_CFG(0), TN_PERIODIC | TN_SETVAL | TN_32BIT | TN_ROUTE_2);
  hpet_write(HPET_TN_CMP(0), now + 500000);
  hpet_write(HPET_TN_CMP(0), 500000);
  hpet_write(HPET_TN_CFG(0), TN_ENABLE | TN_PERIODIC | TN_32BIT | TN_ROUTE_2);
  spin_ticks(1200000);
  u32 cmp = hpet_read(HPET_TN_CMP(0));
  /* Expired at now + 500000 and now + 1000000 at least: moved on by whole periods past both. */
  report(cmp - now >= 1500000 && (cmp - now) % 500000 == 0, "hpet.periodic-comparator-advances-by-period");
  hpet_write(HPET_TN_CFG(0), 0);
  hpet_write(HPET_CFG, 0);
  return 0;
}
