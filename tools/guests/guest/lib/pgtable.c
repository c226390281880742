/* Page tables for the three formats (SDM Vol. 3 4.3 32-bit, 4.4 PAE, 4.5 4-level), built from
 * one description: entry size, index bits per level, which level may hold a large page. Tables
 * come from a pool in .bss that every test identity maps, so a table's address is its gpa. */
#include "lib.h"

#define POOL_PAGES 1024
static u8 pool[POOL_PAGES * 4096] __attribute__((aligned(4096), section(".pool")));
static u32 pool_next;

void *alloc_page(void) {
  if (pool_next >= POOL_PAGES) {
    fail("expected a free page got none", "page-pool");
    report_end();
  }
  void *p = pool + 4096 * pool_next++;
  memset(p, 0, 4096);
  return p;
}
void *pool_mark(void) { return (void *)(ulong)pool_next; }
void pool_reset_to(void *mark) { pool_next = (u32)(ulong)mark; }

static int levels(enum pg_mode m) { return m == PG_2LEVEL ? 2 : m == PG_PAE ? 3 : 4; }

static unsigned index_of(enum pg_mode m, ulong va, int level) {
  if (m == PG_2LEVEL) return (unsigned)((va >> (12 + 10 * (level - 1))) & 0x3ff);
  if (m == PG_PAE && level == 3) return (unsigned)((va >> 30) & 3);
  return (unsigned)(((u64)va >> (12 + 9 * (level - 1))) & 0x1ff);
}

u64 pg_get(enum pg_mode m, void *e) { return m == PG_2LEVEL ? *(volatile u32 *)e : *(volatile u64 *)e; }

void pg_set(enum pg_mode m, void *e, u64 v) {
  if (m == PG_2LEVEL) {
    *(volatile u32 *)e = (u32)v;
  } else {
#ifdef __x86_64__
    *(volatile u64 *)e = v;
#else
    /* Two 32-bit stores: high half first while the entry is... whatever it was; tests that
     * care about atomicity use cmpxchg8b themselves. */
    volatile u32 *p = e;
    p[1] = (u32)(v >> 32);
    p[0] = (u32)v;
#endif
  }
}

/* Levels whose entries may map a large page (PS): the pde, and the 4-level pdpte (1 GiB). */
static int is_large_level(enum pg_mode m, int l) { return l == 2 || (m == PG_4LEVEL && l == 3); }

static void *slot(enum pg_mode m, ulong table, unsigned idx) {
  return (void *)(table + idx * (m == PG_2LEVEL ? 4 : 8));
}

ulong pg_new_root(enum pg_mode m) {
  ulong root = (ulong)alloc_page();
  if (m == PG_PAE) {
    /* PDPTEs are loaded at CR3 write time (SDM 4.4.1) and allow only P (and PWT/PCD): keep all
     * four present with their own directory so nothing changes them afterwards. */
    for (unsigned i = 0; i < 4; i++) pg_set(m, slot(m, root, i), (ulong)alloc_page() | PTE_P);
  }
  return root;
}

void *pg_entry(enum pg_mode m, ulong root, ulong va, int level) {
  ulong table = root;
  for (int l = levels(m); l > level; l--) {
    u64 e = pg_get(m, slot(m, table, index_of(m, va, l)));
    if (!(e & PTE_P) || (is_large_level(m, l) && (e & PTE_PS))) return 0;
    table = (ulong)(e & 0x000ffffffffff000ull);
  }
  return slot(m, table, index_of(m, va, level));
}

static void map_one(enum pg_mode m, ulong root, ulong va, u64 pa, u64 flags, int leaf) {
  ulong table = root;
  for (int l = levels(m); l > leaf; l--) {
    void *e = slot(m, table, index_of(m, va, l));
    u64 v = pg_get(m, e);
    if (!(v & PTE_P) || (is_large_level(m, l) && (v & PTE_PS))) {
      v = (ulong)alloc_page() | PTE_P;
      if (!(m == PG_PAE && l == 3)) v |= PTE_W | PTE_U;
      pg_set(m, e, v);
    }
    table = (ulong)(v & 0x000ffffffffff000ull);
  }
  pg_set(m, slot(m, table, index_of(m, va, leaf)), pa | flags | (leaf > 1 ? PTE_PS : 0));
}

void pg_map(enum pg_mode m, ulong root, ulong va, u64 pa, u64 size, u64 flags, u64 page_size) {
  int leaf = page_size == 4096 ? 1 : 2;
  for (u64 off = 0; off < size; off += page_size) map_one(m, root, (ulong)(va + off), pa + off, flags, leaf);
}

void pg_identity(enum pg_mode m, ulong root, u64 bytes, u64 flags) {
  u64 large = m == PG_2LEVEL ? 0x400000 : 0x200000;
  bytes = (bytes + large - 1) & ~(large - 1);
  pg_map(m, root, 0, 0, bytes, flags, large);
}

#ifdef __x86_64__
extern u8 boot_pml4[];
/* Already in long mode: paging stays on; switching roots is a CR3 write. */
void pg_enable(enum pg_mode m, ulong root) {
  (void)m;
  write_cr3(root);
}
/* Back to the boot tables (identity, first 4 GiB, 2 MiB pages). */
void pg_disable(void) {
  write_cr4(read_cr4() & ~(ulong)(CR4_PGE | CR4_SMEP | CR4_SMAP));
  write_cr3((ulong)boot_pml4);
}
#else
void pg_enable(enum pg_mode m, ulong root) {
  ulong cr4 = read_cr4() | CR4_PSE;
  if (m == PG_PAE)
    cr4 |= CR4_PAE;
  else
    cr4 &= ~CR4_PAE;
  write_cr4(cr4);
  write_cr3(root);
  write_cr0(read_cr0() | CR0_PG);
}

void pg_disable(void) {
  write_cr0(read_cr0() & ~CR0_PG);
  write_cr4(read_cr4() & ~(CR4_PAE | CR4_PGE | CR4_SMEP | CR4_SMAP));
}
#endif

const char *pg_mode_name(enum pg_mode m) { return m == PG_2LEVEL ? "2level" : m == PG_PAE ? "pae" : "4level"; }
int pg_levels(enum pg_mode m) { return levels(m); }
u64 pg_large(enum pg_mode m) { return m == PG_2LEVEL ? 0x400000 : 0x200000; }

ulong pg_test_root(enum pg_mode m) {
  ulong root = pg_new_root(m);
  pg_identity(m, root, MEM_IDENTITY, PTE_P | PTE_W);
  return root;
}

int has_nx(void) { return (cpuid(0x80000001, 0).d >> 20) & 1; }
int has_pge(void) { return (cpuid(1, 0).d >> 13) & 1; }
int has_smep(void) { return cpuid(0, 0).a >= 7 && ((cpuid(7, 0).b >> 7) & 1); }
int has_smap(void) { return cpuid(0, 0).a >= 7 && ((cpuid(7, 0).b >> 20) & 1); }

void user_flat_begin(void) {
#ifdef __x86_64__
  static ulong root;
  if (!root) {
    root = pg_new_root(PG_4LEVEL);
    pg_identity(PG_4LEVEL, root, MEM_IDENTITY, PTE_P | PTE_W | PTE_U);
  }
  write_cr3(root);
#endif
}
