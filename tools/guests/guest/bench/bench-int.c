/* Benchmark: a CPU-bound integer workload with paging on (long mode, 4-level, 4 KiB pages over
 * the working set). Deterministic: prints the iteration count and a checksum, then exits
 * through the debug-exit port with 0. The runner times it from outside.
 * bench-int32.c builds the same workload for 32-bit protected mode with 32-bit (2-level)
 * paging, or with paging off when the command line says paging=0 (for engines that cannot
 * page in 32-bit mode); the checksum is the same in every build. */
#include "lib.h"

#ifndef BENCH_NAME
#define BENCH_NAME "bench-int"
#endif
#ifdef __x86_64__
#define BENCH_PG PG_4LEVEL
#else
#define BENCH_PG PG_2LEVEL
#endif

/* iterations=N on the command line; the default keeps the suite's run short. */
#define ITERATIONS_DEFAULT 4
#define WORDS (256 * 1024 / 4) /* a 256 KiB working set: 64 pages */

static u32 crc_table[256];

static void crc_init(void) {
  for (u32 i = 0; i < 256; i++) {
    u32 c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

int main(void) {
  u32 *buf = alloc_page();
  for (int i = 1; i < WORDS / 1024; i++) alloc_page();
#ifdef __x86_64__
  const int paging = 1; /* long mode always pages */
#else
  const int paging = cmdline_u32("paging", 1) != 0;
#endif
  volatile u32 *w = (volatile u32 *)buf;
  if (paging) {
    ulong root = pg_new_root(BENCH_PG);
    pg_identity(BENCH_PG, root, MEM_IDENTITY, PTE_P | PTE_W);
    /* The working set through 4 KiB ptes at TEST_VA. */
    pg_map(BENCH_PG, root, TEST_VA, (ulong)buf, WORDS * 4, PTE_P | PTE_W, 4096);
    pg_enable(BENCH_PG, root);
    w = (volatile u32 *)TEST_VA;
  }
  crc_init();
  u32 x = 0x12345678, crc = 0xffffffff;
  u64 acc = 0;
  const int iterations = (int)cmdline_u32("iterations", ITERATIONS_DEFAULT);
  for (int it = 0; it < iterations; it++) {
    /* xorshift fill, a strided mix, and a CRC-32 of the result. */
    for (int i = 0; i < WORDS; i += 16) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      w[i] = x;
    }
    for (int i = 16; i < WORDS; i += 16) w[i] += w[i - 16] * 2654435761u;
    for (int i = 0; i < WORDS; i += 64) {
      u32 v = w[i];
      for (int b = 0; b < 4; b++) crc = crc_table[(crc ^ (v >> (8 * b))) & 0xff] ^ (crc >> 8);
    }
    acc += crc ^ (u32)it;
  }
#ifdef __x86_64__
  printf(BENCH_NAME ": iterations=%d checksum=0x%08x%08x\n", iterations, (u32)(acc >> 32), (u32)acc ^ ~crc);
#else
  printf(BENCH_NAME ": iterations=%d paging=%s checksum=0x%08x%08x\n", iterations, paging ? "2level" : "off",
         (u32)(acc >> 32), (u32)acc ^ ~crc);
#endif
  debug_exit(0);
}
