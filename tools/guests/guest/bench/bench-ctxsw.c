/* Benchmark: context-switch heavy. 16 address spaces; each round switches CR3 to every space,
 * reads and writes its private page, and rewrites one pte of that space (remapping a second
 * page between two frames, then INVLPG), the way a kernel switching processes and faulting
 * in pages does. Deterministic: prints the number of switches and a checksum, exits with 0. */
#include "lib.h"

/* bench-ctxsw32.c builds the same for 32-bit protected mode with 32-bit (2-level) paging. */
#ifndef BENCH_NAME
#define BENCH_NAME "bench-ctxsw"
#endif
#ifdef __x86_64__
#define BENCH_PG PG_4LEVEL
#else
#define BENCH_PG PG_2LEVEL
#endif

#define SPACES 16
/* rounds=N on the command line; the default keeps the suite's run short. */
#define ROUNDS_DEFAULT 50

int main(void) {
  ulong roots[SPACES];
  u32 *priv[SPACES], *frames[2];
  frames[0] = alloc_page();
  frames[1] = alloc_page();
  frames[0][0] = 0x0f0f0f0f;
  frames[1][0] = 0x70707070;
  for (int s = 0; s < SPACES; s++) {
    roots[s] = pg_test_root(BENCH_PG);
    priv[s] = alloc_page();
    priv[s][0] = (u32)s;
    pg_map(BENCH_PG, roots[s], TEST_VA, (ulong)priv[s], 4096, PTE_P | PTE_W, 4096);
    pg_map(BENCH_PG, roots[s], TEST_VA + 0x1000, (ulong)frames[0], 4096, PTE_P | PTE_W, 4096);
  }
  void *ptes[SPACES];
  for (int s = 0; s < SPACES; s++) ptes[s] = pg_entry(BENCH_PG, roots[s], TEST_VA + 0x1000, 1);
#ifndef __x86_64__
  pg_enable(BENCH_PG, roots[0]); /* 32-bit builds start with paging off; long mode always pages */
#endif
  u32 sum = 0;
  u32 switches = 0;
  const int rounds = (int)cmdline_u32("rounds", ROUNDS_DEFAULT);
  for (int r = 0; r < rounds; r++) {
    for (int s = 0; s < SPACES; s++) {
      write_cr3(roots[s]);
      switches++;
      volatile u32 *p = (volatile u32 *)TEST_VA;
      *p = *p * 31 + (u32)r;
      sum += *p;
      pg_set(BENCH_PG, ptes[s], (ulong)frames[(r + s) & 1] | PTE_P | PTE_W);
      invlpg(TEST_VA + 0x1000);
      sum ^= *(volatile u32 *)(TEST_VA + 0x1000);
    }
  }
  pg_disable();
  printf(BENCH_NAME ": iterations=%u spaces=%d checksum=0x%08x\n", switches, SPACES, sum);
  debug_exit(0);
}
