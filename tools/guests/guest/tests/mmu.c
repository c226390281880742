/* The MMU permission matrix (SDM Vol. 3 4.6, 4.7): for each paging mode this build has, each
 * level of a 4 KiB walk, each combination of U/S, R/W and XD at that level (the other levels
 * permissive), and the same at a large-page leaf (4 MiB or 2 MiB), with CR0.WP off and on, and
 * with SMEP/SMAP where CPUID has them: supervisor and user reads, writes and fetches. Each case
 * checks whether the access faults, the exact #PF error code and CR2. Not-present entries at
 * each level are checked the same way. The expected result comes from the SDM's rules written
 * out in expect() below. */
#include "lib.h"

#define USER_CODE_VA USER_VA
#define USER_STACK_VA (USER_VA + 0x1000)
#define TARGET_VA (TEST_VA + 0x1234) /* not page aligned: CR2 must be the exact address */

static enum pg_mode mode;
static ulong root;
static u8 *target_page;
static u8 *user_code_page, *user_stack_page;

struct setting {
  int wp, smep, smap, nxe;
};

static const char *access_names[] = {"read", "write", "exec"};

/* The SDM's rules. Returns -1 when the access succeeds, else the #PF error code. */
static int expect(int level_bits_u, int level_bits_w, int level_bits_nx, int user, int op, const struct setting *s) {
  int fault = 0;
  if (user) {
    if (!level_bits_u) fault = 1;
    if (op == OP_WRITE && !level_bits_w) fault = 1;
  } else {
    if (op == OP_WRITE && !level_bits_w && s->wp) fault = 1;
    if (op != OP_EXEC && level_bits_u && s->smap) fault = 1; /* AC is clear */
    if (op == OP_EXEC && level_bits_u && s->smep) fault = 1;
  }
  if (op == OP_EXEC && level_bits_nx && s->nxe) fault = 1;
  if (!fault) return -1;
  return (int)(PFERR_P | (op == OP_WRITE ? PFERR_W : 0) | (user ? PFERR_U : 0) |
               (op == OP_EXEC && (s->nxe || s->smep) ? PFERR_I : 0));
}

static void sup_access(ulong op) {
  volatile u32 *p = (volatile u32 *)TARGET_VA;
  if (op == OP_READ) {
    (void)*p;
  } else if (op == OP_WRITE) {
    *p = 0xc3c3c3c3; /* keep the page executable as `ret`s */
  } else {
    ((void (*)(void))TARGET_VA)();
  }
}

/* Runs one access; returns -1 (no fault) or the #PF error code; *cr2 gets CR2. Any other
 * exception is returned as 0x1000 + vector. */
static int do_access(int user, int op, ulong *cr2) {
  write_cr3(root); /* flush: the entries under test changed */
  int v;
  if (user) {
    v = trap_user(USER_CODE_VA, USER_STACK_VA + 4096, op, TARGET_VA, 0xc3c3c3c3);
    if (v == UD && last_trap.ip == USER_CODE_VA + (ulong)(user_stub_done - user_stub)) return -1;
  } else {
    v = trap_call(sup_access, op);
    if (v == TRAP_NONE) return -1;
  }
  *cr2 = last_trap.cr2;
  if (v == PF) return (int)last_trap.error_code;
  return 0x1000 + v;
}

static void set_bits(void *e, u64 base, int p, int u, int w, int nx) {
  u64 v = base & ~(u64)(PTE_P | PTE_U | PTE_W | PTE_A | PTE_D) & ~PTE_NX;
  v |= (p ? PTE_P : 0) | (u ? PTE_U : 0) | (w ? PTE_W : 0);
  if (nx) v |= PTE_NX;
  pg_set(mode, e, v);
}

/* large: the entry at `level` (2) is made a large-page leaf (PS) mapping LARGE_PA instead of
 * pointing to the page table (SDM 4.3, 4.4.2, 4.5.4: the walk ends at a PDE with PS=1). */
#define LARGE_PA 0x2000000ul /* 32 MiB: aligned for 4 MiB and 2 MiB pages, inside the identity map */
static int large;

static void run_case(int level, int p, int u, int w, int nx, const struct setting *s, const char *tag) {
  void *e = pg_entry(mode, root, TARGET_VA, level);
  u64 saved = pg_get(mode, e);
  set_bits(e, large ? (LARGE_PA | PTE_PS) : saved, p, u, w, nx);
  for (int user = 0; user < 2; user++) {
    for (int op = 0; op < 3; op++) {
      /* At the other levels everything is permissive (U, W, no XD), so the effective rights are
       * this level's. */
      int exp = p ? expect(u, w, nx, user, op, s) : (int)((op == OP_WRITE ? PFERR_W : 0) | (user ? PFERR_U : 0) |
                                                     (op == OP_EXEC && (s->nxe || s->smep) ? PFERR_I : 0));
      ulong cr2 = 0;
      int got = do_access(user, op, &cr2);
      char name[96];
      snprintf(name, sizeof name, "%s.%s.l%d%s.%s.%s-%s", pg_mode_name(mode), tag, level, large ? "large" : "",
               p ? (u ? (w ? (nx ? "uwx" : "uw") : (nx ? "urx" : "ur")) : (w ? (nx ? "swx" : "sw") : (nx ? "srx" : "sr"))) : "np",
               user ? "user" : "sup", access_names[op]);
      if (check_eq((u64)(long)exp, (u64)(long)got, "mmu.%s.pf-error-code", name) && exp >= 0)
        check_eq(TARGET_VA, cr2, "mmu.%s.cr2", name);
    }
  }
  pg_set(mode, e, saved);
}

static void matrix(const struct setting *s, const char *tag) {
  write_cr0(s->wp ? read_cr0() | CR0_WP : read_cr0() & ~(ulong)CR0_WP);
  if (s->nxe) wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
  for (int level = pg_levels(mode); level >= 1; level--) {
    if (mode == PG_PAE && level == 3) continue; /* PDPTEs have no U/W/XD (SDM 4.4.1) */
    for (int bits = 0; bits < 8; bits++) {
      int u = bits & 1, w = (bits >> 1) & 1, nx = (bits >> 2) & 1;
      if (nx && !s->nxe) continue; /* XD is reserved with NXE clear: covered elsewhere */
      run_case(level, 1, u, w, nx, s, tag);
    }
    run_case(level, 0, 1, 1, 0, s, tag);
  }
  /* The same at a large-page leaf. */
  large = 1;
  for (int bits = 0; bits < 8; bits++) {
    int u = bits & 1, w = (bits >> 1) & 1, nx = (bits >> 2) & 1;
    if (nx && !s->nxe) continue;
    run_case(2, 1, u, w, nx, s, tag);
  }
  large = 0;
  ulong cr4 = read_cr4();
  if (s->smep || s->smap) write_cr4(cr4 & ~(ulong)(CR4_SMEP | CR4_SMAP));
}

static void setup(void) {
  root = pg_test_root(mode);
  target_page = alloc_page();
  user_code_page = alloc_page();
  user_stack_page = alloc_page();
  memset(target_page, 0xc3, 4096);
  memset((void *)(LARGE_PA + (TARGET_VA & 0xfff000ul & (ulong)(pg_large(mode) - 1))), 0xc3, 4096);
  memcpy(user_code_page, user_stub, (size_t)(user_stub_end - user_stub));
  pg_map(mode, root, TARGET_VA & ~0xffful, (ulong)target_page, 4096, PTE_P | PTE_W | PTE_U, 4096);
  pg_map(mode, root, USER_CODE_VA, (ulong)user_code_page, 4096, PTE_P | PTE_U, 4096);
  pg_map(mode, root, USER_STACK_VA, (ulong)user_stack_page, 4096, PTE_P | PTE_W | PTE_U, 4096);
}

int main(void) {
  report_begin("mmu");
  static const enum pg_mode modes[] = TEST_MODES;
  int nx = has_nx();
  for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
    mode = modes[i];
    void *mark = pool_mark();
    setup();
    pg_enable(mode, root);
    /* 2-level paging has no XD bit: NXE only matters for PAE and 4-level. */
    int nxe = nx && mode != PG_2LEVEL;
    struct setting s0 = {0, 0, 0, nxe}, s1 = {1, 0, 0, nxe};
    matrix(&s0, "wp0");
    matrix(&s1, "wp1");
    if (has_smep() && has_smap()) {
      struct setting s2 = {1, 1, 1, nxe};
      write_cr4(read_cr4() | CR4_SMEP | CR4_SMAP);
      matrix(&s2, "smep-smap");
    } else {
      skip("no SMEP/SMAP in CPUID", "mmu.%s.smep-smap", pg_mode_name(mode));
    }
    if (!nx) skip("no NX in CPUID", "mmu.%s.nx", pg_mode_name(mode));
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~(u64)EFER_NXE);
    write_cr0(read_cr0() & ~(ulong)CR0_WP);
    pg_disable();
    pool_reset_to(mark);
  }
  return 0;
}
