#include "lib.h"
static void ud(ulong a) { __asm__ volatile("ud2"); }
static void bp(ulong a) { __asm__ volatile("int3"); }
int main(void) {
  report_begin("io");
  ulong root = pg_new_root(PG_PAE);
  pg_identity(PG_PAE, root, 64 << 20, PTE_P | PTE_W);
  pg_enable(PG_PAE, root);
  printf("pae on\n");
  int v = trap_call(bp, 0);
  check_eq(BP, v, "bp");
  v = trap_call(ud, 0);
  check_eq(UD, v, "ud");
  return 0;
}
