/* The demo guest qemu-lite boots with no arguments: a tiny multitasking kernel. It prints a
 * banner, starts four tasks, each in its own address space (its own PML4: the kernel mapped
 * the same in all, and a private page at the same virtual address in each), which take turns on
 * the PIT interrupt through the 8259 PIC: each turn a task prints one line and halts; the
 * next timer interrupt switches CR3 and stack to the next task. Then it shuts down through the
 * debug-exit port (status 1), and the VMM prints its exit statistics.
 * The output does not depend on timing: a task is switched away only after it has finished its
 * line (it marks its turn done before HLT), so every engine prints the same bytes. */
#include "lib.h"

#define NTASKS 4
#define TURNS 3
#define PRIVATE_VA TEST_VA

struct task {
  struct trap_frame *frame;
  ulong cr3;
  volatile int turn_done, finished;
  u8 *stack;
};
static struct task tasks[NTASKS + 1]; /* [NTASKS] is the idle loop in main */
static volatile int current = NTASKS;
static volatile u32 switches;
static const char *const names[NTASKS] = {"alpha", "bravo", "charlie", "delta"};

static void task_main(ulong id) {
  volatile u32 *priv = (volatile u32 *)PRIVATE_VA;
  for (int turn = 1; turn <= TURNS; turn++) {
    *priv += (u32)(id + 1) * 100;
    printf("  [%s] turn %d: my page at 0x%lx holds %u (cr3 0x%lx)\n", names[id], turn,
           (unsigned long)PRIVATE_VA, *priv, (unsigned long)read_cr3());
    cli();
    tasks[id].turn_done = 1;
    __asm__ volatile("sti; hlt" ::: "memory");
  }
  cli();
  tasks[id].finished = 1;
  tasks[id].turn_done = 1;
  for (;;) __asm__ volatile("sti; hlt" ::: "memory");
}

static int next_task(int from) {
  for (int k = 1; k <= NTASKS; k++) {
    int i = (from + k) % NTASKS;
    if (!tasks[i].finished) return i;
  }
  return NTASKS;
}

static void timer(struct trap_frame *f) {
  pic_eoi(0);
  struct task *cur = &tasks[current];
  if (current != NTASKS && !cur->turn_done) return; /* still printing: let it finish */
  int n = next_task(current == NTASKS ? NTASKS - 1 : current);
  if (n == current) return;
  cur->frame = f;
  cur->turn_done = 0;
  current = n;
  switches++;
  write_cr3(tasks[n].cr3);
  switch_to_frame = tasks[n].frame;
}

static void make_task(int id) {
  struct task *t = &tasks[id];
  t->cr3 = pg_test_root(PG_4LEVEL);
  u32 *priv = alloc_page();
  priv[0] = (u32)id;
  pg_map(PG_4LEVEL, t->cr3, PRIVATE_VA, (ulong)priv, 4096, PTE_P | PTE_W, 4096);
  t->stack = alloc_page();
  alloc_page();
  /* An initial frame as the interrupt path would have left it: IRETQ pops RIP, CS, RFLAGS,
   * RSP, SS; the general registers are popped before it. */
  struct trap_frame *fr = (struct trap_frame *)(t->stack + 8192 - 64 - sizeof *fr);
  memset(fr, 0, sizeof *fr);
  fr->ip = (ulong)task_main;
  fr->cs = SEL_CODE64;
  fr->flags = 0x2; /* IF clear: the task enables interrupts itself after its first line */
  fr->sp = (ulong)t->stack + 8192 - 72; /* 16-byte aligned minus a return slot */
  fr->ss = SEL_DATA;
  fr->rdi = (ulong)id;
  t->frame = fr;
}

int main(void) {
  printf("\nqemu-lite demo guest: a tiny multitasking kernel\n");
  printf("  long mode, 4-level paging, %d tasks in %d address spaces, PIT IRQ 0 via the 8259 PIC\n", NTASKS,
         NTASKS);
  for (int i = 0; i < NTASKS; i++) make_task(i);
  tasks[NTASKS].cr3 = pg_test_root(PG_4LEVEL);
  write_cr3(tasks[NTASKS].cr3);
  set_handler(VEC_IRQ0, timer);
  pit_periodic(11932); /* 100 Hz */
  pic_mask(0, 0);
  int all = 0;
  while (!all) {
    __asm__ volatile("sti; hlt; cli" ::: "memory");
    all = 1;
    for (int i = 0; i < NTASKS; i++) all &= tasks[i].finished;
  }
  pic_mask(0, 1);
  printf("all %d tasks finished after %d turns each; shutting down\n", NTASKS, TURNS);
  debug_exit(0);
}
