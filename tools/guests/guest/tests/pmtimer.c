/* The ACPI PM timer (ACPI 6.4 4.8.3.3) at port 0x608, where QEMU's PIIX4 PM function and the
 * FADT put it: a free-running 3.579545 MHz counter that never runs backwards, timed against the
 * i8254's channel 2 (1.193182 MHz, gated by port 0x61 as Linux's `pit_calibrate_tsc` uses it:
 * exactly 3 PM ticks per PIT tick) and the TSC against the PM timer (its rate steady from one
 * window to the next, and what CPUID leaf 0x15 advertises when the CPU says). Each window is ~55 ms of
 * PIT countdown, several in a row, so a host preemption between two reads stays small against
 * the 5% allowed. Skips without a PM timer (all ones at 0x608). */
#include "lib.h"

#define PM_TMR_PORT 0x608
#define PM_TIMER_HZ 3579545u
#define PIT_HZ 1193182u
#define WINDOWS 5

struct window {
  u32 pm;  /* PM ticks */
  u64 tsc; /* TSC ticks */
  int ok;  /* the PIT's OUT2 rose */
};

/* One countdown of 0xffff PIT ticks on channel 2 (mode 0, gate via port 0x61 bit 0, OUT2 in
 * bit 5), with the PM timer and the TSC read at its start and its end. */
static struct window pit_window(void) {
  struct window w = {0, 0, 0};
  outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* gate high, speaker off */
  outb(0x43, 0xb0);                       /* channel 2, lobyte/hibyte, mode 0, binary */
  outb(0x42, 0xff);
  u32 pm0 = inl(PM_TMR_PORT);
  u64 t0 = rdtsc();
  outb(0x42, 0xff); /* mode 0 starts counting at the high byte */
  for (long i = 0; i < 100000000; i++) {
    if (inb(0x61) & 0x20) {
      w.ok = 1;
      break;
    }
  }
  w.tsc = rdtsc() - t0;
  w.pm = inl(PM_TMR_PORT) - pm0;
  return w;
}

/* n / d without libgcc: the 32-bit build divides in two DIVs (the second's quotient fits). */
static u64 div64(u64 n, u32 d) {
#ifdef __x86_64__
  return n / d;
#else
  u32 hi = (u32)(n >> 32), lo = (u32)n, qlo, r = hi % d;
  __asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
  return ((u64)(hi / d) << 32) | qlo;
#endif
}

static int within(u64 got, u64 want, u32 percent) {
  u64 slack = div64(want * percent, 100);
  return got + slack >= want && got <= want + slack;
}

int main(void) {
  report_begin("pmtimer");
  u32 a = inl(PM_TMR_PORT);
  if (a == 0xffffffff && inl(PM_TMR_PORT) == 0xffffffff) {
    skip("no ACPI PM timer at port 0x608", "pmtimer");
    return 0;
  }

  /* Monotonic: successive reads never go back (mod 2^32, a 32-bit TMR_VAL_EXT timer). */
  int mono = 1;
  u32 prev = inl(PM_TMR_PORT);
  for (int i = 0; i < 2000; i++) {
    u32 now = inl(PM_TMR_PORT);
    if (now - prev >= 0x80000000u) mono = 0;
    prev = now;
  }
  report(mono, "pmtimer.monotonic");
  report(inl(PM_TMR_PORT) != a, "pmtimer.counts");

  /* Against the PIT: 0xffff PIT ticks are 3 * 0xffff PM ticks (3579545 / 1193182 = 3.0000).
   * Every error in a window makes it longer (the host may run something else between OUT2
   * rising and the poll that sees it), so the shortest window is the measurement. */
  struct window w[WINDOWS];
  int all_ok = 1;
  u32 pm = 0xffffffffu;
  for (int i = 0; i < WINDOWS; i++) {
    w[i] = pit_window();
    all_ok &= w[i].ok;
    if (w[i].pm < pm) pm = w[i].pm;
  }
  /* On a loaded host every window may have been stretched: up to 10 more, until one is not. */
  for (int i = 0; i < 10 && !within(pm, 3ull * 0xffff, 5); i++) {
    struct window x = pit_window();
    all_ok &= x.ok;
    if (x.pm < pm) pm = x.pm;
  }
  report(all_ok, "pmtimer.pit-channel2-out-rises");
  report(within(pm, 3ull * 0xffff, 5), "pmtimer.rate-3x-pit");

  /* The TSC against the PM timer, per window: TSC ticks per 1000 PM ticks. A host stall between
   * a window's last RDTSC and its last PM read skews that window alone, so the rates are sorted
   * and the middle three of the five must agree with their median (an invariant TSC). */
  u64 rate[WINDOWS];
  for (int i = 0; i < WINDOWS; i++) {
    u64 r = div64(w[i].tsc * 1000, w[i].pm ? w[i].pm : 1);
    int j = i;
    for (; j > 0 && rate[j - 1] > r; j--) rate[j] = rate[j - 1];
    rate[j] = r;
  }
  u64 median = rate[WINDOWS / 2];
  int steady = median > 0;
  for (int i = 1; i < WINDOWS - 1; i++) steady &= within(rate[i], median, 5);
  report(steady, "pmtimer.tsc-steady-against-pm-timer");

  /* What CPUID says the TSC runs at (leaf 0x15: crystal Hz * EBX / EAX), where it says. */
  u32 max = cpuid(0, 0).a;
  struct cpuid l15 = max >= 0x15 ? cpuid(0x15, 0) : (struct cpuid){0, 0, 0, 0};
  if (l15.a && l15.b && l15.c) {
    u64 hz = div64((u64)l15.c * l15.b, l15.a);
    /* The median rate times 3579.545 (PM ticks per ms) is TSC ticks per ms, times 1000 Hz. */
    u64 measured = div64(median * PM_TIMER_HZ, 1000);
    report(within(measured, hz, 5), "pmtimer.cpuid.leaf15-tsc-frequency");
  } else {
    skip("CPUID leaf 0x15 gives no TSC frequency", "pmtimer.cpuid.leaf15-tsc-frequency");
  }
  return 0;
}
