/* The guest's own debugging (SDM Vol. 3B 18): DR0-DR3 and DR7 read back what was written, DR6
 * starts as its fixed ones; TF single-steps a sequence with a #DB trap after each instruction
 * (DR6.BS; POPF that clears TF still traps, SDM 18.3.1.4); an instruction breakpoint in DR0 is a
 * fault at the instruction (DR6.B0), continued with RF; a write watchpoint in DR1 traps after the
 * write (DR6.B1) and not on a read; a read/write watchpoint in DR2 traps on a read (DR6.B2);
 * INT3 traps to #BP after itself. Run alone it prints its checks; under a debugger (qemu-lite's
 * gdb stub) it must print the same, whatever gdb's breakpoints, watchpoints and steps do. */
#include "lib.h"

#define DR6_BS (1u << 14)
#define DR6_FIXED 0xffff0ff0u
#define DR7_FIXED 0x400u
#define FLAGS_TF (1u << 8)
#define FLAGS_RF (1u << 16)

#define DR_WRITE(n)                                                                       \
  static inline void write_dr##n(ulong v) { __asm__ volatile("mov %0, %%db" #n ::"r"(v) : "memory"); } \
  static inline ulong read_dr##n(void) {                                                  \
    ulong v;                                                                              \
    __asm__ volatile("mov %%db" #n ", %0" : "=r"(v));                                     \
    return v;                                                                             \
  }
DR_WRITE(0)
DR_WRITE(1)
DR_WRITE(2)
DR_WRITE(3)
DR_WRITE(6)
DR_WRITE(7)

/* What the #DB handler saw, one entry per trap. */
#define MAX_HITS 16
static volatile u32 db_hits;
static volatile ulong db_ip[MAX_HITS];
static volatile ulong db_dr6[MAX_HITS];
static volatile u32 bp_hits;
static volatile ulong bp_ip;

/* Variables the watchpoints watch; `gdb_watched` is for the debugger's own watchpoint. */
volatile u32 watched_w __attribute__((aligned(8)));
volatile u32 watched_rw __attribute__((aligned(8)));
volatile u32 gdb_watched __attribute__((aligned(8)));

static void on_db(struct trap_frame *f) {
  ulong dr6 = read_dr6();
  u32 n = db_hits;
  if (n < MAX_HITS) {
    db_ip[n] = f->ip;
    db_dr6[n] = dr6;
  }
  db_hits = n + 1;
  /* DR6's status bits are sticky: software clears them (SDM 18.2.3). */
  write_dr6(0);
  /* An instruction breakpoint is a fault: RF lets the instruction run on return (SDM 18.3.1.1). */
  if (dr6 & 0xf) f->flags |= FLAGS_RF;
}

static void on_bp(struct trap_frame *f) {
  bp_hits++;
  bp_ip = f->ip;
}

extern char tf_seq[], tf_2[], tf_3[], tf_4[], tf_5[], tf_6[];
extern char hw_target[], wr_after[], rd_after[], int3_after[];

/* The single-step sequence: POPF sets TF (no trap after it), then a trap after every
 * instruction, the POPF that clears TF included. */
#ifdef __x86_64__
__asm__(".text\n .global tf_seq\n tf_seq: pushfq\n orq $0x100, (%rsp)\n popfq\n"
        " tf_1: nop\n tf_2: nop\n tf_3: pushfq\n tf_4: andq $~0x100, (%rsp)\n tf_5: popfq\n"
        " tf_6: ret\n");
#else
__asm__(".text\n .global tf_seq\n tf_seq: pushfl\n orl $0x100, (%esp)\n popfl\n"
        " tf_1: nop\n tf_2: nop\n tf_3: pushfl\n tf_4: andl $~0x100, (%esp)\n tf_5: popfl\n"
        " tf_6: ret\n");
#endif
/* The instruction breakpoint's target, a function of its own. */
__asm__(".text\n .global hw_target\n hw_target: nop\n ret\n");

/* A debugger stops at these (gdb's `break`, `hbreak`) between the guest's own uses. */
__attribute__((noinline)) void dbg_phase(u32 n) {
  __asm__ volatile("" ::"r"(n) : "memory");
}
__attribute__((noinline)) void dbg_hw_mark(u32 n) {
  __asm__ volatile("" ::"r"(n) : "memory");
}

static void check_dr_registers(void) {
  write_dr0(0x1000);
  write_dr1(0x2000);
  write_dr2(0x3004);
  write_dr3((ulong)0x4008);
  check_eq(0x1000, read_dr0(), "dr0.reads-back");
  check_eq(0x2000, read_dr1(), "dr1.reads-back");
  check_eq(0x3004, read_dr2(), "dr2.reads-back");
  check_eq(0x4008, read_dr3(), "dr3.reads-back");
  check_eq(DR6_FIXED, read_dr6(), "dr6.fixed-ones-at-start");
  write_dr7(0);
  check_eq(DR7_FIXED, read_dr7(), "dr7.bit10-reads-1");
}

static void check_single_step(void) {
  db_hits = 0;
  __asm__ volatile("call tf_seq" ::: "memory", "cc");
  check_eq(5, db_hits, "tf.one-trap-per-instruction");
  const char *want[5] = {tf_2, tf_3, tf_4, tf_5, tf_6};
  for (int i = 0; i < 5 && i < (int)db_hits; i++) {
    check_eq((ulong)want[i], db_ip[i], "tf.trap-%d-ip-after-instruction", i);
    check_eq(DR6_BS, db_dr6[i] & (DR6_BS | 0xf), "tf.trap-%d-dr6-bs", i);
  }
  check_eq(0, read_flags() & FLAGS_TF, "tf.clear-after");
}

static void check_instruction_breakpoint(void) {
  db_hits = 0;
  write_dr0((ulong)hw_target);
  write_dr7(DR7_FIXED | 1); /* L0, R/W0 = 00 (execute), LEN0 = 00 */
  __asm__ volatile("call hw_target" ::: "memory");
  write_dr7(0);
  check_eq(1, db_hits, "hw-exec.one-fault");
  check_eq((ulong)hw_target, db_ip[0], "hw-exec.fault-ip-at-instruction");
  check_eq(1, db_dr6[0] & (DR6_BS | 0xf), "hw-exec.dr6-b0");
  check_eq((ulong)hw_target, read_dr0(), "hw-exec.dr0-kept");
}

static void check_watchpoints(void) {
  db_hits = 0;
  watched_w = 0;
  watched_rw = 0;
  write_dr1((ulong)&watched_w);
  write_dr2((ulong)&watched_rw);
  /* L1: R/W1 = 01 (write), LEN1 = 11 (4 bytes); L2: R/W2 = 11 (read or write), LEN2 = 11. */
  write_dr7(DR7_FIXED | (1u << 2) | (1u << 4) | (0x1u << 20) | (0x3u << 22) | (0x3u << 24) | (0x3u << 28));
  u32 seen = watched_w; /* a read: not a write watchpoint's business */
  __asm__ volatile("movl $7, %0\n wr_after: nop" : "=m"(watched_w)::"memory");
  check_eq(1, db_hits, "watch-write.one-trap-on-write-none-on-read");
  check_eq((ulong)wr_after, db_ip[0], "watch-write.trap-ip-after-write");
  check_eq(2, db_dr6[0] & (DR6_BS | 0xf), "watch-write.dr6-b1");
  u32 v;
  __asm__ volatile("movl %1, %0\n rd_after: nop" : "=r"(v) : "m"(watched_rw) : "memory");
  write_dr7(0);
  check_eq(2, db_hits, "watch-rw.trap-on-read");
  check_eq((ulong)rd_after, db_ip[1], "watch-rw.trap-ip-after-read");
  check_eq(4, db_dr6[1] & (DR6_BS | 0xf), "watch-rw.dr6-b2");
  check_eq(7, watched_w + seen, "watch-write.value-written");
  check_eq(0, v, "watch-rw.value-read");
}

static void check_int3(void) {
  bp_hits = 0;
  __asm__ volatile("int3\n int3_after: nop" ::: "memory");
  check_eq(1, bp_hits, "int3.one-bp");
  check_eq((ulong)int3_after, bp_ip, "int3.ip-after");
}

int main(void) {
  report_begin("dbgregs");
  set_handler(DB, on_db);
  set_handler(BP, on_bp);
  /* Twice: the second round runs after a debugger had its say at dbg_phase (its breakpoints,
   * watchpoints and steps in between must leave the guest's registers and traps as they were). */
  for (u32 round = 0; round < 2; round++) {
    dbg_phase(round);
    gdb_watched = round + 1; /* for a debugger's watchpoint */
    dbg_hw_mark(round);
    check_dr_registers();
    check_single_step();
    check_instruction_breakpoint();
    check_watchpoints();
    check_int3();
  }
  report_end();
}
