/* Paging (SDM Vol. 3 4): each mode this build has (2-level with 4 KiB and 4 MiB pages, PAE with
 * 2 MiB pages and XD; 4-level in the long-mode build), accessed and dirty bits set by the walk,
 * INVLPG and CR3 reloads against stale translations, global pages surviving a CR3 reload, and
 * large pages mixed with small ones in one table. */
#include "lib.h"

static enum pg_mode m;
static ulong root;
static void write32(ulong va) { *(volatile u32 *)va = 0x5a5a5a5a; }
static void fetch(ulong va) { ((void (*)(void))va)(); }

static void translate_checks(void) {
  /* 4 KiB: two virtual pages onto two physical pages, then swapped. */
  u32 *p0 = alloc_page(), *p1 = alloc_page();
  p0[0] = 0x11111111;
  p1[0] = 0x22222222;
  pg_map(m, root, TEST_VA, (ulong)p0, 4096, PTE_P | PTE_W, 4096);
  pg_map(m, root, TEST_VA + 0x1000, (ulong)p1, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  check_eq(0x11111111, *(volatile u32 *)TEST_VA, "%s.4k.read-page0", pg_mode_name(m));
  check_eq(0x22222222, *(volatile u32 *)(TEST_VA + 0x1000), "%s.4k.read-page1", pg_mode_name(m));
  /* Alias: a write through one mapping is seen through the identity map. */
  *(volatile u32 *)(TEST_VA + 8) = 0xabcd0123;
  check_eq(0xabcd0123, p0[2], "%s.4k.alias-write-visible", pg_mode_name(m));

  /* Stale TLB entry: change the pte without a flush; after INVLPG the new one is used. */
  void *pte = pg_entry(m, root, TEST_VA, 1);
  pg_set(m, pte, (ulong)p1 | PTE_P | PTE_W);
  invlpg(TEST_VA);
  check_eq(0x22222222, *(volatile u32 *)TEST_VA, "%s.invlpg.new-translation", pg_mode_name(m));
  pg_set(m, pte, (ulong)p0 | PTE_P | PTE_W);
  write_cr3(root);
  check_eq(0x11111111, *(volatile u32 *)TEST_VA, "%s.cr3-reload.new-translation", pg_mode_name(m));
  /* Unmapped after INVLPG: #PF, not-present. */
  pg_set(m, pte, 0);
  invlpg(TEST_VA);
  int v = trap_call(write32, TEST_VA + 4);
  check_eq(PF, v, "%s.invlpg.unmapped-faults", pg_mode_name(m));
  check_eq(PFERR_W, last_trap.error_code, "%s.invlpg.unmapped-error-code", pg_mode_name(m));
  check_eq(TEST_VA + 4, last_trap.cr2, "%s.invlpg.unmapped-cr2", pg_mode_name(m));
  pg_set(m, pte, (ulong)p0 | PTE_P | PTE_W);
  invlpg(TEST_VA);

  /* Accessed and dirty: a read sets A on every level and not D; a write sets D on the pte. */
  ulong va = TEST_VA + 0x1000;
  void *pte1 = pg_entry(m, root, va, 1);
  void *pde1 = pg_entry(m, root, va, 2);
  pg_set(m, pte1, (ulong)p1 | PTE_P | PTE_W);
  pg_set(m, pde1, pg_get(m, pde1) & ~(u64)(PTE_A | PTE_D));
  write_cr3(root);
  (void)*(volatile u32 *)va;
  check_eq(PTE_A, pg_get(m, pte1) & (PTE_A | PTE_D), "%s.ad.read-sets-a-only", pg_mode_name(m));
  check_eq(PTE_A, pg_get(m, pde1) & PTE_A, "%s.ad.read-sets-a-on-pde", pg_mode_name(m));
  *(volatile u32 *)va = 3;
  check_eq(PTE_A | PTE_D, pg_get(m, pte1) & (PTE_A | PTE_D), "%s.ad.write-sets-d", pg_mode_name(m));
  /* D set again after clearing it and flushing: the CPU must re-walk to set it (4.8). */
  pg_set(m, pte1, pg_get(m, pte1) & ~(u64)PTE_D);
  invlpg(va);
  *(volatile u32 *)va = 4;
  check_eq(PTE_D, pg_get(m, pte1) & PTE_D, "%s.ad.write-after-clear-sets-d-again", pg_mode_name(m));
  /* A faulting access sets no A bit on the faulting leaf (read-only page, write). */
  pg_set(m, pte1, (ulong)p1 | PTE_P);
  write_cr3(root);
  write_cr0(read_cr0() | CR0_WP);
  v = trap_call(write32, va);
  check_eq(PF, v, "%s.ad.write-to-readonly-faults", pg_mode_name(m));
  check_eq(PFERR_P | PFERR_W, last_trap.error_code, "%s.ad.write-to-readonly-error-code", pg_mode_name(m));
  check_eq(0, pg_get(m, pte1) & PTE_D, "%s.ad.faulting-write-sets-no-d", pg_mode_name(m));
  write_cr0(read_cr0() & ~(ulong)CR0_WP);
}

static void large_checks(void) {
  /* A large page and small pages in the same table: PDE n maps a large page, PDE n+1 points to
   * a page table. */
  ulong lp = (ulong)pg_large(m);
  ulong lva = TEST_VA + 0x800000, sva = lva + lp;
  /* The large page maps identity memory at 8 MiB (inside the 64 MiB we have). */
  pg_map(m, root, lva, 0x800000, lp, PTE_P | PTE_W, lp);
  u32 *sp = alloc_page();
  sp[1] = 0x600d600d;
  pg_map(m, root, sva, (ulong)sp, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  volatile u32 *ident = (volatile u32 *)(0x800000ul + lp - 8);
  *ident = 0x1a26e000;
  check_eq(0x1a26e000, *(volatile u32 *)(lva + lp - 8), "%s.large.read-end-of-large-page", pg_mode_name(m));
  check_eq(0x600d600d, *(volatile u32 *)(sva + 4), "%s.large.small-page-next-to-it", pg_mode_name(m));
  void *pde = pg_entry(m, root, lva, 2);
  check_eq(PTE_PS, pg_get(m, pde) & PTE_PS, "%s.large.pde-has-ps", pg_mode_name(m));
  *(volatile u32 *)(lva + 0x3000) = 1;
  check_eq(PTE_A | PTE_D, pg_get(m, pde) & (PTE_A | PTE_D), "%s.large.write-sets-a-d-on-pde", pg_mode_name(m));
  /* The small page beyond the large one faults once its pte is cleared. */
  pg_set(m, pg_entry(m, root, sva, 1), 0);
  invlpg(sva);
  int v = trap_call(write32, sva + 12);
  check_eq(PF, v, "%s.large.neighbour-unmapped-faults", pg_mode_name(m));
  check_eq(sva + 12, last_trap.cr2, "%s.large.neighbour-unmapped-cr2", pg_mode_name(m));
  /* INVLPG of any address in the large page drops it (4.10.4.1). */
  pg_set(m, pde, 0);
  invlpg(lva + 0x12345);
  v = trap_call(write32, lva);
  check_eq(PF, v, "%s.large.invlpg-inside-drops-it", pg_mode_name(m));
}

static void nx_checks(void) {
  if (m == PG_2LEVEL) return;
  if (!has_nx()) {
    skip("no NX in CPUID", "%s.nx", pg_mode_name(m));
    return;
  }
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
  u8 *code = alloc_page();
  code[0] = 0xc3;
  ulong va = TEST_VA + 0x5000;
  pg_map(m, root, va, (ulong)code, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  int v = trap_call(fetch, va);
  check_eq(TRAP_NONE, v, "%s.nx.clear-executes", pg_mode_name(m));
  void *pte = pg_entry(m, root, va, 1);
  pg_set(m, pte, pg_get(m, pte) | PTE_NX);
  invlpg(va);
  v = trap_call(fetch, va);
  check_eq(PF, v, "%s.nx.set-faults-on-fetch", pg_mode_name(m));
  check_eq(PFERR_P | PFERR_I, last_trap.error_code, "%s.nx.error-code", pg_mode_name(m));
  check_eq(va, last_trap.cr2, "%s.nx.cr2", pg_mode_name(m));
  (void)*(volatile u8 *)va;
  pass("%s.nx.read-still-allowed", pg_mode_name(m));
  /* XD on a large page. */
  ulong lp = (ulong)pg_large(m);
  ulong lva = TEST_VA + 0x1000000;
  pg_map(m, root, lva, 0x1000000, lp, PTE_P | PTE_W | PTE_NX, lp);
  *(volatile u8 *)0x1000000 = 0xc3;
  write_cr3(root);
  v = trap_call(fetch, lva);
  check_eq(PF, v, "%s.nx.large-page-faults-on-fetch", pg_mode_name(m));
  check_eq(PFERR_P | PFERR_I, last_trap.error_code, "%s.nx.large-page-error-code", pg_mode_name(m));
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_NXE);
  /* With NXE clear, XD is a reserved bit: #PF with RSVD (4.7). */
  if (m != PG_4LEVEL) {
    v = trap_call(fetch, va);
    check_eq(PF, v, "%s.nx.reserved-when-nxe-clear", pg_mode_name(m));
    check_eq(PFERR_P | PFERR_RSVD, last_trap.error_code, "%s.nx.reserved-when-nxe-clear.error-code", pg_mode_name(m));
  }
}

static void global_checks(void) {
  if (!has_pge()) {
    skip("no PGE in CPUID", "%s.global", pg_mode_name(m));
    return;
  }
  u32 *pa = alloc_page(), *pb = alloc_page();
  pa[0] = 0xaaaa;
  pb[0] = 0xbbbb;
  ulong va = TEST_VA + 0x7000;
  pg_map(m, root, va, (ulong)pa, 4096, PTE_P | PTE_W | PTE_G, 4096);
  write_cr3(root);
  write_cr4(read_cr4() | CR4_PGE);
  check_eq(0xaaaa, *(volatile u32 *)va, "%s.global.initial", pg_mode_name(m));
  /* The architecture allows a global translation to survive a CR3 write (4.10.4.1) but does
   * not require it to be cached, so only what must hold is checked: INVLPG and a CR4.PGE
   * toggle both drop it. */
  void *pte = pg_entry(m, root, va, 1);
  pg_set(m, pte, (ulong)pb | PTE_P | PTE_W | PTE_G);
  invlpg(va);
  check_eq(0xbbbb, *(volatile u32 *)va, "%s.global.invlpg-drops-global", pg_mode_name(m));
  pg_set(m, pte, (ulong)pa | PTE_P | PTE_W | PTE_G);
  write_cr4(read_cr4() & ~(ulong)CR4_PGE);
  write_cr4(read_cr4() | CR4_PGE);
  check_eq(0xaaaa, *(volatile u32 *)va, "%s.global.pge-toggle-flushes", pg_mode_name(m));
  write_cr4(read_cr4() & ~(ulong)CR4_PGE);
}

int main(void) {
  report_begin("paging");
  static const enum pg_mode modes[] = TEST_MODES;
  for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
    m = modes[i];
    void *mark = pool_mark();
    root = pg_test_root(m);
    pg_enable(m, root);
    check_eq(root, read_cr3(), "%s.cr3-readback", pg_mode_name(m));
    translate_checks();
    large_checks();
    nx_checks();
    global_checks();
    pg_disable();
    pool_reset_to(mark);
  }
  return 0;
}
