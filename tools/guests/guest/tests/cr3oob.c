/* A CR3 that points beyond the guest's memory. Long mode: every fetch and the exception
 * delivery itself walk through that root, so the guest cannot see the fault: it ends in a
 * shutdown (or the VMM's clean error exit), never a hang. PAE (32-bit build): the PDPTEs are
 * loaded by the CR3 write itself (SDM Vol. 3 4.4.1), so a root whose PDPTEs are not valid
 * makes MOV to CR3 raise #GP(0) and leaves CR3 unchanged: the guest sees it. */
#include "lib.h"

#define BEYOND 0x3f000000ul /* 1008 MiB: beyond the 64 MiB the manifest gives the guest */

static void load_cr3(ulong v) { write_cr3(v); }

int main(void) {
  report_begin("cr3oob");
#ifdef __x86_64__
  printf("cr3oob: loading cr3=0x%lx beyond memory\n", (unsigned long)BEYOND);
  pass("cr3oob.before");
  load_cr3(BEYOND);
  fail("expected a shutdown got execution after the cr3 write", "cr3oob.shutdown");
#else
  ulong root = pg_test_root(PG_PAE);
  pg_enable(PG_PAE, root);
  /* A PDPTE with reserved bits set (bits 1-2 are reserved in a PAE PDPTE). */
  u64 *pdpt = alloc_page();
  for (int i = 0; i < 4; i++) pdpt[i] = ((u64 *)root)[i];
  pdpt[3] |= 0x6;
  int v = trap_call(load_cr3, (ulong)pdpt);
  check_eq(GP, v, "cr3oob.pae.reserved-pdpte-gp");
  check_eq(0, last_trap.error_code, "cr3oob.pae.reserved-pdpte-error-code");
  check_eq(root, read_cr3(), "cr3oob.pae.cr3-unchanged");
  /* A PDPT beyond memory: reads there are all-ones (no device), so its PDPTEs are present with
   * reserved bits: #GP(0) again. */
  v = trap_call(load_cr3, BEYOND);
  check_eq(GP, v, "cr3oob.pae.beyond-memory-gp");
  check_eq(root, read_cr3(), "cr3oob.pae.beyond-memory-cr3-unchanged");
  pg_disable();
#endif
  return 0;
}
