/* A multiprocessor guest (issue 14): the BSP finds the CPUs in the ACPI MADT, starts each AP by
 * INIT-SIPI-SIPI (SDM Vol. 3A 9.4.4; the APs run smp-tramp.S), and then every CPU increments
 * shared counters `iter` times each (`-append iter=N`, default 2000): one under a spinlock taken
 * with XCHG (a plain load/add/store inside it), one with LOCK XADD, one with a LOCK CMPXCHG retry
 * loop (SDM Vol. 3A 8.1.2.2: LOCK'd and XCHG are atomic across processors). Any lost update shows
 * in the totals. IPIs both ways are fixed interrupts checked in the receiver's IRR with
 * interrupts off (kvm-pvm's emulator delivers no interrupts to unpaged 32-bit code, so no CPU
 * takes them: the IRR is what every engine shows alike). Then cross-modifying code (AP 1 patches
 * an instruction the BSP ran) and, in the 64-bit build, a TLB shootdown (the BSP repoints a pte
 * AP 1 has used; AP 1 must then read the new page). With one CPU (-smp 1) the BSP works alone and
 * the AP checks are left out. */
#include "lib.h"

#define APIC_BASE 0xfee00000ul
#define APIC_ID 0x20
#define APIC_SVR 0xf0
#define APIC_IRR 0x200
#define APIC_ICR 0x300
#define APIC_ICR2 0x310
#define ICR_BUSY (1u << 12)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_LEVEL_ASSERT (1u << 14)
#define SVR_ENABLE (1u << 8)
#define MAX_CPUS 16
#define SMP_TRAMP_BASE 0x8000
#define AP_STACK_SIZE 4096
/* Fixed IPIs: BSP → every AP, and AP number i (1 …) → BSP on vector VEC_FROM_AP + i. */
#define VEC_TO_AP 0x40
#define VEC_FROM_AP 0x50

static inline u32 apic_read(u32 reg) { return *(volatile u32 *)(APIC_BASE + reg); }
static inline void apic_write(u32 reg, u32 v) { *(volatile u32 *)(APIC_BASE + reg) = v; }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }

extern char smp_tramp_start[], smp_tramp_end[], tr_stack_next[], tr_entry[], tr_cr3[];

static u8 ap_stacks[MAX_CPUS * AP_STACK_SIZE] __attribute__((aligned(4096)));
static volatile u32 lock_word, locked_counter, xadd_counter, cmpxchg_counter;
static volatile u32 aps_alive, aps_done, go;
static volatile u32 alive_id[MAX_CPUS], ap_got_ipi[MAX_CPUS];
static u32 bsp_id, iterations;

/* Cross-modifying code (SDM Vol. 3A 8.1.3): AP 1 patches an instruction the BSP has run; the BSP
 * sees the flag, serializes with CPUID, and must run the new bytes, never a stale decode. */
static u8 smc_code[16] __attribute__((aligned(16)));
static volatile u32 smc_patched;

/* TLB shootdown (64-bit): AP 1 reads TEST_VA (page A), the BSP repoints the pte to page B and
 * flushes its own translation, AP 1 is told, flushes its own (INVLPG) and must read page B. */
static volatile u32 tlb_ap_read_a, tlb_remapped, tlb_ap_read_b;
#ifdef __x86_64__
static u32 tlb_page_a[1024] __attribute__((aligned(4096)));
static u32 tlb_page_b[1024] __attribute__((aligned(4096)));
#endif

static u32 call_smc(void) { return ((u32(*)(void))(ulong)smc_code)(); }

static inline u32 xchg(volatile u32 *p, u32 v) {
  __asm__ volatile("xchg %0, %1" : "+r"(v), "+m"(*p)::"memory");
  return v;
}
static inline u32 lock_xadd(volatile u32 *p, u32 v) {
  __asm__ volatile("lock xadd %0, %1" : "+r"(v), "+m"(*p)::"memory");
  return v;
}
/* LOCK CMPXCHG: 1 if *p was `old` and is now `new`. */
static inline int lock_cmpxchg(volatile u32 *p, u32 old, u32 new) {
  u32 prev;
  __asm__ volatile("lock cmpxchg %2, %1" : "=a"(prev), "+m"(*p) : "r"(new), "0"(old) : "memory");
  return prev == old;
}

static void spin_lock(volatile u32 *l) {
  while (xchg(l, 1) != 0)
    while (*l != 0) pause();
}
static void spin_unlock(volatile u32 *l) {
  barrier();
  *l = 0; /* a store releases on x86 (SDM Vol. 3A 8.2.2: stores are not reordered with older loads/stores) */
}

static void work(void) {
  for (u32 i = 0; i < iterations; i++) {
    spin_lock(&lock_word);
    u32 v = locked_counter; /* not atomic: the lock alone keeps it exact */
    barrier();
    locked_counter = v + 1;
    spin_unlock(&lock_word);
    lock_xadd(&xadd_counter, 1);
    u32 old;
    do old = cmpxchg_counter;
    while (!lock_cmpxchg(&cmpxchg_counter, old, old + 1));
  }
}

static int irr_has(u32 vector) { return (apic_read(APIC_IRR + 0x10 * (vector / 32)) >> (vector % 32)) & 1; }

static void send_ipi(u32 dest, u32 icr) {
  apic_write(APIC_ICR2, dest << 24);
  apic_write(APIC_ICR, icr);
  for (int i = 0; i < 1000000 && (apic_read(APIC_ICR) & ICR_BUSY); i++) pause();
}

/* Each AP, on its own stack, from the trampoline. */
void ap_main(void) {
  apic_write(APIC_SVR, SVR_ENABLE | 0xff); /* a software-disabled APIC drops fixed IPIs (KVM's apic_accept_irq) */
  u32 me = lock_xadd(&aps_alive, 1) + 1; /* AP number 1 … */
  alive_id[me] = apic_read(APIC_ID) >> 24;
  while (!go) pause();
  /* The BSP's IPI was sent before `go`. */
  ap_got_ipi[me] = irr_has(VEC_TO_AP);
  work();
  if (me == 1) {
#ifdef __x86_64__
    tlb_ap_read_a = *(volatile u32 *)TEST_VA;
    while (!tlb_remapped) pause();
    invlpg(TEST_VA);
    tlb_ap_read_b = *(volatile u32 *)TEST_VA;
#endif
    smc_code[1] = 2; /* mov $2, %eax */
    barrier();
    smc_patched = 1;
  }
  send_ipi(bsp_id, VEC_FROM_AP + me);
  lock_xadd(&aps_done, 1);
  for (;;) __asm__ volatile("cli; hlt");
}

/* The Processor Local APIC entries of the MADT (ACPI 6.4 5.2.12), found through the RSDP
 * (5.2.5.1: on a 16-byte boundary in 0xE0000–0xFFFFF) and the RSDT. Returns how many are enabled. */
static int madt_apic_ids(u32 *ids) {
  const u8 *rsdp = 0;
  for (ulong a = 0xe0000; a < 0x100000; a += 16)
    if (memcmp((const void *)a, "RSD PTR ", 8) == 0) {
      rsdp = (const u8 *)a;
      break;
    }
  if (!rsdp) return -1;
  const u8 *rsdt = (const u8 *)(ulong) * (const u32 *)(rsdp + 16);
  u32 entries = (*(const u32 *)(rsdt + 4) - 36) / 4;
  for (u32 i = 0; i < entries; i++) {
    const u8 *t = (const u8 *)(ulong) * (const u32 *)(rsdt + 36 + 4 * i);
    if (memcmp(t, "APIC", 4) != 0) continue;
    u32 len = *(const u32 *)(t + 4);
    int n = 0;
    for (u32 at = 44; at + 2 <= len && n < MAX_CPUS; at += t[at + 1]) {
      if (t[at + 1] == 0) break;
      if (t[at] == 0 && (*(const u32 *)(t + at + 4) & 1)) ids[n++] = t[at + 3];
    }
    return n;
  }
  return -1;
}

/* Spins until *v reaches n (bounded: a CPU that never starts fails the check, never hangs us). */
static u32 wait_for(volatile u32 *v, u32 n) {
  for (u32 i = 0; i < 200000000u && *v < n; i++) pause();
  return *v;
}

int main(void) {
  report_begin("smp");
  iterations = cmdline_u32("iter", 2000);
  if (!(cpuid(1, 0).d & (1u << 9))) {
    skip("CPUID has no local APIC", "smp");
    report_end();
  }
  apic_write(APIC_SVR, SVR_ENABLE | 0xff);
  bsp_id = apic_read(APIC_ID) >> 24;
  check_eq(bsp_id, cpuid(1, 0).b >> 24, "smp.bsp.cpuid-initial-apic-id");
  u32 ids[MAX_CPUS];
  int n = madt_apic_ids(ids);
  if (!report(n >= 1, "smp.madt.found")) report_end();
  printf("CPUS %d:", n);
  for (int i = 0; i < n; i++) printf(" %u", ids[i]);
  printf("\n");

  memcpy((void *)SMP_TRAMP_BASE, smp_tramp_start, smp_tramp_end - smp_tramp_start);
  u8 *tramp = (u8 *)SMP_TRAMP_BASE;
  *(u64 *)(tramp + (tr_stack_next - smp_tramp_start)) = (ulong)ap_stacks;
  *(u64 *)(tramp + (tr_entry - smp_tramp_start)) = (ulong)ap_main;
  *(u64 *)(tramp + (tr_cr3 - smp_tramp_start)) = read_cr3();

  /* INIT, then two SIPIs (the second is ignored by an AP the first started). */
  for (int i = 0; i < n; i++) {
    if (ids[i] == bsp_id) continue;
    send_ipi(ids[i], ICR_INIT | ICR_LEVEL_ASSERT);
    send_ipi(ids[i], ICR_STARTUP | (SMP_TRAMP_BASE >> 12));
    send_ipi(ids[i], ICR_STARTUP | (SMP_TRAMP_BASE >> 12));
  }
  u32 aps = (u32)n - 1;
  check_eq(aps, wait_for(&aps_alive, aps), "smp.aps.started");
  /* Each MADT APIC ID came up exactly once. */
  for (int i = 0; i < n; i++) {
    if (ids[i] == bsp_id) continue;
    int seen = 0;
    for (u32 a = 1; a <= aps_alive && a < MAX_CPUS; a++) seen += alive_id[a] == ids[i];
    check_eq(1, seen, "smp.ap.apic-id-%u.up", ids[i]);
  }
  for (int i = 0; i < n; i++)
    if (ids[i] != bsp_id) send_ipi(ids[i], VEC_TO_AP);

  static const u8 mov1_ret[6] = {0xb8, 1, 0, 0, 0, 0xc3}; /* mov $1, %eax; ret */
  memcpy(smc_code, mov1_ret, sizeof mov1_ret);
  u32 smc_before = call_smc();
#ifdef __x86_64__
  tlb_page_a[0] = 0xaaaa;
  tlb_page_b[0] = 0xbbbb;
  ulong root = read_cr3();
  pg_map(PG_4LEVEL, root, TEST_VA, (ulong)tlb_page_a, 4096, PTE_P | PTE_W, 4096);
  void *tlb_pte = pg_entry(PG_4LEVEL, root, TEST_VA, 1);
#endif

  go = 1;
  work();
  if (aps > 0) {
#ifdef __x86_64__
    wait_for(&tlb_ap_read_a, 1);
    pg_set(PG_4LEVEL, tlb_pte, (ulong)tlb_page_b | PTE_P | PTE_W);
    invlpg(TEST_VA);
    tlb_remapped = 1;
#endif
    wait_for(&smc_patched, 1);
    (void)cpuid(0, 0); /* serializing: the processor that runs the modified code (8.1.3) */
  }
  check_eq(aps, wait_for(&aps_done, aps), "smp.aps.done");

  u32 total = (u32)n * iterations;
  check_eq(total, locked_counter, "smp.counter.spinlock-xchg");
  check_eq(total, xadd_counter, "smp.counter.lock-xadd");
  check_eq(total, cmpxchg_counter, "smp.counter.lock-cmpxchg");
  for (u32 a = 1; a <= aps; a++) {
    check_eq(1, ap_got_ipi[a], "smp.ipi.bsp-to-ap%u", a);
    check_eq(1, irr_has(VEC_FROM_AP + a), "smp.ipi.ap%u-to-bsp", a);
  }
  check_eq(1, smc_before, "smp.smc.before");
  if (aps > 0) {
    check_eq(2, call_smc(), "smp.smc.cross-cpu-patch-seen");
#ifdef __x86_64__
    check_eq(0xaaaa, tlb_ap_read_a, "smp.tlb.ap-read-before-remap");
    check_eq(0xbbbb, tlb_ap_read_b, "smp.tlb.ap-read-after-shootdown");
    check_eq(0xbbbb, *(volatile u32 *)TEST_VA, "smp.tlb.bsp-read-after-remap");
#endif
  }
  printf("SMP total %u = %d cpus x %u\n", locked_counter, n, iterations);
  /* -append hang=1: never end (the APs sit in HLT with IF = 0), for tests of how the VMM stops. */
  if (cmdline_u32("hang", 0)) {
    printf("HANG\n");
    for (;;) pause();
  }
  report_end();
}
