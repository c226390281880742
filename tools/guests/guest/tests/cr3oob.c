/* A CR3 that points beyond the guest's memory. Long mode: first a PML4 entry that points beyond
 * memory (the guest sees a #PF), then CR3 itself: every fetch and the exception
 * delivery itself walk through that root, so the guest cannot see the fault: it ends in a
 * shutdown (or the VMM's clean error exit), never a hang. PAE (32-bit build): the PDPTEs are
 * loaded by the CR3 write itself (SDM Vol. 3 4.4.1), so a root whose PDPTEs are not valid
 * makes MOV to CR3 raise #GP(0) and leaves CR3 unchanged: the guest sees it. Under AMD nested
 * paging there are no PDPTE registers (APM Vol. 2 15.25, legacy PAE under nested paging; KVM's
 * svm_cache_reg reads them back from memory): CR3 loads, and the walk reads the PDPTE at each
 * access through it, so the reserved bits are a #PF with RSVD there. The guest reports which
 * of the two the engine showed (tools/guests/src/engines.ts asserts which one per engine). */
#include "lib.h"

#define BEYOND 0x3f000000ul /* 1008 MiB: beyond the 64 MiB the manifest gives the guest */

static void load_cr3(ulong v) { write_cr3(v); }
static void probe(ulong va) { (void)*(volatile u32 *)va; }

int main(void) {
  report_begin("cr3oob");
#ifdef __x86_64__
  /* First a table beyond memory under one PML4 entry only: the kernel stays reachable, so the
   * guest sees what the walk through missing memory gives. */
  ulong root = pg_test_root(PG_4LEVEL);
  u64 *pml4e = pg_entry(PG_4LEVEL, root, TEST_VA, 4);
  *pml4e = BEYOND | PTE_P | PTE_W;
  pg_enable(PG_4LEVEL, root);
  /* The SDM leaves reads of memory that is not there to the platform; KVM's walker treats a
   * table outside every memory slot as not present: #PF, error code 0 (a read of a not-present
   * page), CR2 the address. That is what the host engine gives; assert exactly that. */
  int v = trap_call(probe, TEST_VA + 0x10);
  check_eq(PF, v, "cr3oob.pml4e-beyond-memory.pf");
  check_eq(0, last_trap.error_code, "cr3oob.pml4e-beyond-memory.error-code");
  check_eq(TEST_VA + 0x10, last_trap.cr2, "cr3oob.pml4e-beyond-memory.cr2");
  pg_disable();
  printf("cr3oob: loading cr3=0x%lx beyond memory\n", (unsigned long)BEYOND);
  pass("cr3oob.before");
  load_cr3(BEYOND);
  fail("expected a shutdown got execution after the cr3 write", "cr3oob.shutdown");
#else
  ulong root = pg_test_root(PG_PAE);
  pg_enable(PG_PAE, root);
  /* A page directory entry pointing beyond memory: a not-present #PF, as in long mode. */
  pg_map(PG_PAE, root, TEST_VA, 0, 4096, PTE_P, 4096);
  u64 *pde = pg_entry(PG_PAE, root, TEST_VA, 2);
  *pde = BEYOND | PTE_P | PTE_W;
  write_cr3(root);
  int v = trap_call(probe, TEST_VA + 0x10);
  check_eq(PF, v, "cr3oob.pae.pde-beyond-memory.pf");
  check_eq(0, last_trap.error_code, "cr3oob.pae.pde-beyond-memory.error-code");
  check_eq(TEST_VA + 0x10, last_trap.cr2, "cr3oob.pae.pde-beyond-memory.cr2");
  /* A PDPTE with reserved bits set (bits 1-2 are reserved in a PAE PDPTE). */
  u64 *pdpt = alloc_page();
  for (int i = 0; i < 4; i++) pdpt[i] = ((u64 *)root)[i];
  pdpt[3] |= 0x6;
  v = trap_call(load_cr3, (ulong)pdpt);
  if (check_eq(GP, v, "cr3oob.pae.reserved-pdpte-gp")) {
    check_eq(0, last_trap.error_code, "cr3oob.pae.reserved-pdpte-error-code");
    check_eq(root, read_cr3(), "cr3oob.pae.cr3-unchanged");
    /* A PDPT beyond memory: reads there are all-ones (no device), so its PDPTEs are present with
     * reserved bits: #GP(0) again. */
    v = trap_call(load_cr3, BEYOND);
    check_eq(GP, v, "cr3oob.pae.beyond-memory-gp");
    check_eq(root, read_cr3(), "cr3oob.pae.beyond-memory-cr3-unchanged");
  } else {
    /* No PDPTE registers (nested paging): CR3 now holds the bad PDPT. This code, its stack and
     * the IDT are under PDPTE 0, which is intact; an access under PDPTE 3 walks the bad entry:
     * #PF, error code P | RSVD (a supervisor read), CR2 the address. */
    check_eq((ulong)pdpt, read_cr3(), "cr3oob.pae.reserved-pdpte-cr3-loaded");
    ulong va = 0xc0000000ul + 0x10;
    v = trap_call(probe, va);
    check_eq(PF, v, "cr3oob.pae.reserved-pdpte-walk-pf");
    check_eq(PFERR_P | PFERR_RSVD, last_trap.error_code, "cr3oob.pae.reserved-pdpte-walk-error-code");
    check_eq(va, last_trap.cr2, "cr3oob.pae.reserved-pdpte-walk-cr2");
    write_cr3(root);
    /* A PDPT beyond memory would be walked as all-ones on every fetch, the exception delivery
     * included: a triple fault the guest cannot report. */
    skip("no PDPTE registers: a PDPT beyond memory loads, and every access after it faults up to a triple fault",
         "cr3oob.pae.beyond-memory-gp");
  }
  pg_disable();
#endif
  return 0;
}
