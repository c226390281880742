/* Context switches: N address spaces (N = 2, 8, 32), each mapping the same virtual page onto
 * its own physical page, switched by CR3 writes in a loop; every switch reads the value the
 * space's previous visit wrote and writes a new one. A stale translation after a CR3 write
 * shows up as a wrong value. */
#include "lib.h"

#define ROUNDS 64

static void run(enum pg_mode m, int n) {
  ulong roots[32];
  u32 *pages[32];
  void *mark = pool_mark();
  for (int i = 0; i < n; i++) {
    roots[i] = pg_test_root(m);
    pages[i] = alloc_page();
    pages[i][0] = 0x1000u * (u32)i;
    pg_map(m, roots[i], TEST_VA, (ulong)pages[i], 4096, PTE_P | PTE_W, 4096);
    /* A second page per space at a per-space address: spaces differ in shape, not only data. */
    pg_map(m, roots[i], TEST_VA + 0x1000 * (ulong)(i + 1), (ulong)pages[i], 4096, PTE_P, 4096);
  }
  pg_enable(m, roots[0]);
  int bad = 0, bad_alias = 0;
  u32 first_bad = 0, first_got = 0;
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < n; i++) {
      write_cr3(roots[i]);
      volatile u32 *p = (volatile u32 *)TEST_VA;
      u32 want = 0x1000u * (u32)i + (u32)r;
      if (*p != want && !bad++) {
        first_bad = want;
        first_got = *p;
      }
      *p = want + 1;
      if (*(volatile u32 *)(TEST_VA + 0x1000 * (ulong)(i + 1)) != want + 1) bad_alias++;
    }
  }
  u32 sum = 0;
  for (int i = 0; i < n; i++) sum += pages[i][0];
  pg_disable();
  if (bad)
    check_eq(first_bad, first_got, "ctxswitch.%s.n%d.values-follow-cr3", pg_mode_name(m), n);
  else
    pass("ctxswitch.%s.n%d.values-follow-cr3", pg_mode_name(m), n);
  check_eq(0, bad_alias, "ctxswitch.%s.n%d.per-space-alias", pg_mode_name(m), n);
  /* Each space's page ended at 0x1000*i + ROUNDS. */
  u32 want_sum = 0;
  for (int i = 0; i < n; i++) want_sum += 0x1000u * (u32)i + ROUNDS;
  check_eq(want_sum, sum, "ctxswitch.%s.n%d.final-sum", pg_mode_name(m), n);
  pool_reset_to(mark);
}

int main(void) {
  report_begin("ctxswitch");
  static const enum pg_mode modes[] = TEST_MODES;
  static const int ns[] = {2, 8, 32};
  for (unsigned i = 0; i < ARRAY_SIZE(modes); i++)
    for (unsigned j = 0; j < ARRAY_SIZE(ns); j++) run(modes[i], ns[j]);
  return 0;
}
