/* Writes to live page tables, the cases a shadow MMU must get right (KVM 2007 changelog:
 * "page table write flood", "misaligned pte writes", "recycled page tables"):
 *  - a fork-like flood: many writes to one live page table, each checked through the mapping;
 *  - a misaligned write straddling two ptes;
 *  - cmpxchg8b on a pte (atomic 64-bit update of a PAE/4-level entry);
 *  - a page that was a page table, recycled as a code page and executed;
 *  - a pte write that removes permissions, followed by an access that must fault. */
#include "lib.h"

static enum pg_mode m;
static ulong root;

static void write32(ulong va) { *(volatile u32 *)va = 7; }
static void call_va(ulong va) { ((void (*)(void))va)(); }

static void flood(void) {
  /* 256 pages mapped and remapped through one page table, like fork() write-protecting and
   * copying a process: every pte is written twice and read back through the TLB after INVLPG. */
  enum { N = 256 };
  u32 *frames = 0;
  ulong base = (ulong)alloc_page();
  for (int i = 1; i < 8; i++) alloc_page();
  frames = (u32 *)base; /* 8 pages: frames[k*1024] is page k */
  for (int k = 0; k < 8; k++) frames[k * 1024] = 0xf00d0000u + (u32)k;
  pg_map(m, root, TEST_VA, base, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  int bad = 0;
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) {
      ulong va = TEST_VA + 0x1000 * (ulong)i;
      int k = (i + round) & 7;
      pg_map(m, root, va, base + 0x1000 * (ulong)k, 4096, round ? PTE_P : PTE_P | PTE_W, 4096);
      invlpg(va);
      if (*(volatile u32 *)va != 0xf00d0000u + (u32)k) bad++;
    }
  }
  check_eq(0, bad, "%s.flood.512-pte-writes-read-back", pg_mode_name(m));
  /* Round 1 made them read-only: with WP a write faults. */
  write_cr0(read_cr0() | CR0_WP);
  int v = trap_call(write32, TEST_VA + 0x1000 * 77);
  check_eq(PF, v, "%s.flood.readonly-after-flood", pg_mode_name(m));
  check_eq(PFERR_P | PFERR_W, last_trap.error_code, "%s.flood.readonly-error-code", pg_mode_name(m));
  write_cr0(read_cr0() & ~(ulong)CR0_WP);
}

static void misaligned(void) {
  /* Two adjacent ptes, written by one store that straddles them: the last bytes of pte 0 and
   * the first bytes of pte 1. */
  u32 *a = alloc_page(), *b = alloc_page(), *c = alloc_page();
  a[0] = 0xaaaa;
  b[0] = 0xbbbb;
  c[0] = 0xcccc;
  ulong va = TEST_VA + 0x200000;
  pg_map(m, root, va, (ulong)a, 4096, PTE_P | PTE_W, 4096);
  pg_map(m, root, va + 0x1000, (ulong)a, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  check_eq(0xaaaa, *(volatile u32 *)(va + 0x1000), "%s.misaligned.before", pg_mode_name(m));
  u8 *pte0 = pg_entry(m, root, va, 1);
  int esz = m == PG_2LEVEL ? 4 : 8;
  /* New pte 1 = c | P | W. Write its low 2 bytes together with pte 0's top 2 bytes (unchanged). */
  u64 new1 = (ulong)c | PTE_P | PTE_W;
  u32 straddle = ((u32)pg_get(m, pte0 + 0) >> 16 & 0xffff) | ((u32)(new1 & 0xffff) << 16);
  if (esz == 8) straddle = (u32)(pg_get(m, pte0) >> 48) | ((u32)(new1 & 0xffff) << 16);
  /* The low 16 bits of the new pte hold the flags and low frame bits; the high bits of pte 1
   * stay as they were (a's frame >> 16). Make c's frame share them by construction: */
  u64 old1 = pg_get(m, pte0 + esz);
  if (((old1 ^ new1) >> 16) != 0) {
    /* c and a differ above bit 16: write the high part first (aligned), then straddle. */
    pg_set(m, pte0 + esz, (old1 & 0xffff) | (new1 & ~0xffffull));
  }
  __asm__ volatile("movl %1, (%0)" ::"r"(pte0 + esz - 2), "r"(straddle) : "memory");
  invlpg(va + 0x1000);
  check_eq(new1, pg_get(m, pte0 + esz), "%s.misaligned.pte1-value", pg_mode_name(m));
  check_eq(0xcccc, *(volatile u32 *)(va + 0x1000), "%s.misaligned.pte1-new-frame", pg_mode_name(m));
  check_eq(0xaaaa, *(volatile u32 *)va, "%s.misaligned.pte0-unchanged", pg_mode_name(m));
  (void)b;
}

static void cmpxchg8b_pte(void) {
  if (m == PG_2LEVEL) return;
  u32 *a = alloc_page(), *b = alloc_page();
  a[0] = 0x1111;
  b[0] = 0x2222;
  ulong va = TEST_VA + 0x300000;
  pg_map(m, root, va, (ulong)a, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  check_eq(0x1111, *(volatile u32 *)va, "%s.cmpxchg8b.before", pg_mode_name(m));
  volatile u64 *pte = pg_entry(m, root, va, 1);
  u64 old = *pte, nw = (ulong)b | PTE_P | PTE_W | PTE_NX * 0;
  u32 lo = (u32)old, hi = (u32)(old >> 32);
  u8 ok;
  __asm__ volatile("lock cmpxchg8b %1; sete %0"
                   : "=q"(ok), "+m"(*pte), "+a"(lo), "+d"(hi)
                   : "b"((u32)nw), "c"((u32)(nw >> 32))
                   : "memory", "cc");
  check_eq(1, ok, "%s.cmpxchg8b.succeeds", pg_mode_name(m));
  invlpg(va);
  check_eq(0x2222, *(volatile u32 *)va, "%s.cmpxchg8b.new-translation", pg_mode_name(m));
  /* A failing compare leaves the pte and returns the current value. */
  lo = (u32)old;
  hi = (u32)(old >> 32);
  __asm__ volatile("lock cmpxchg8b %1; sete %0"
                   : "=q"(ok), "+m"(*pte), "+a"(lo), "+d"(hi)
                   : "b"(0), "c"(0)
                   : "memory", "cc");
  check_eq(0, ok, "%s.cmpxchg8b.stale-compare-fails", pg_mode_name(m));
  check_eq(*pte & ~(u64)(PTE_A | PTE_D), nw, "%s.cmpxchg8b.pte-kept", pg_mode_name(m));
  invlpg(va);
  check_eq(0x2222, *(volatile u32 *)va, "%s.cmpxchg8b.translation-kept", pg_mode_name(m));
}

static void recycled(void) {
  /* A page table in use, then unlinked, filled with code and executed through a new mapping. */
  ulong va = TEST_VA + 0x400000;
  u32 *d = alloc_page();
  d[0] = 0x5151;
  pg_map(m, root, va, (ulong)d, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  check_eq(0x5151, *(volatile u32 *)va, "%s.recycle.table-in-use", pg_mode_name(m));
  void *pde = pg_entry(m, root, va, 2);
  ulong table = (ulong)(pg_get(m, pde) & 0xfffff000ull);
  pg_set(m, pde, 0);
  write_cr3(root);
  /* The old table page becomes code: mov $0x600dc0de, %eax; ret */
  u8 *code = (u8 *)table;
  static const u8 insns[] = {0xb8, 0xde, 0xc0, 0x0d, 0x60, 0xc3};
  memcpy(code, insns, sizeof insns);
  ulong cva = TEST_VA + 0x600000;
  pg_map(m, root, cva, table, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  u32 r = ((u32(*)(void))cva)();
  check_eq(0x600dc0de, r, "%s.recycle.executes-as-code", pg_mode_name(m));
  int v = trap_call(write32, va);
  check_eq(PF, v, "%s.recycle.old-mapping-gone", pg_mode_name(m));
  check_eq(PFERR_W, last_trap.error_code, "%s.recycle.old-mapping-gone-error-code", pg_mode_name(m));
  (void)call_va;
}

static void reduce(void) {
  /* Write a pte that drops W (and then P): the next access must fault, after INVLPG. */
  ulong va = TEST_VA + 0x500000;
  u32 *d = alloc_page();
  pg_map(m, root, va, (ulong)d, 4096, PTE_P | PTE_W, 4096);
  write_cr3(root);
  *(volatile u32 *)va = 1;
  void *pte = pg_entry(m, root, va, 1);
  write_cr0(read_cr0() | CR0_WP);
  pg_set(m, pte, (ulong)d | PTE_P);
  invlpg(va);
  int v = trap_call(write32, va);
  check_eq(PF, v, "%s.reduce.drop-w-faults", pg_mode_name(m));
  check_eq(PFERR_P | PFERR_W, last_trap.error_code, "%s.reduce.drop-w-error-code", pg_mode_name(m));
  check_eq(1, d[0], "%s.reduce.drop-w-no-write", pg_mode_name(m));
  pg_set(m, pte, (ulong)d);
  invlpg(va);
  v = trap_call(write32, va);
  check_eq(PF, v, "%s.reduce.drop-p-faults", pg_mode_name(m));
  check_eq(PFERR_W, last_trap.error_code, "%s.reduce.drop-p-error-code", pg_mode_name(m));
  /* Dropping U with a CPL-3 reader is in the mmu guest; dropping W without INVLPG but with a
   * CR3 reload: */
  pg_set(m, pte, (ulong)d | PTE_P | PTE_W);
  write_cr3(root);
  *(volatile u32 *)va = 2;
  pg_set(m, pte, (ulong)d | PTE_P);
  write_cr3(root);
  v = trap_call(write32, va);
  check_eq(PF, v, "%s.reduce.drop-w-cr3-reload-faults", pg_mode_name(m));
  write_cr0(read_cr0() & ~(ulong)CR0_WP);
}

int main(void) {
  report_begin("ptwrite");
  static const enum pg_mode modes[] = TEST_MODES;
  for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
    m = modes[i];
    void *mark = pool_mark();
    root = pg_test_root(m);
    pg_enable(m, root);
    flood();
    misaligned();
    cmpxchg8b_pte();
    recycled();
    reduce();
    pg_disable();
    pool_reset_to(mark);
  }
  return 0;
}
