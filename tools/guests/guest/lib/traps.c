/* IDT, TSS and the common trap handler. Every vector has a stub (isr32.S / isr64.S); the
 * handler records what happened in last_trap, then either calls a registered handler and
 * returns to the interrupted code, or (inside trap_call / trap_user) resumes the caller, or
 * reports the unexpected trap as a FAIL and ends the guest. */
#include "lib.h"

extern u8 isr_stubs[];
extern u64 gdt[];
extern void trap_resume(void);
extern u8 boot_stack_top[];

volatile struct trap_info last_trap;
u32 mb_magic, mb_info;
volatile u32 trap_armed;
ulong trap_saved_sp;
u8 user_stack[4096] __attribute__((aligned(4096)));
static trap_handler handlers[256];
int dbg_traps = 0;

#ifdef __x86_64__
static u8 ist_stack[4096] __attribute__((aligned(16)));
struct idt_entry {
  u16 off0, sel;
  u8 ist, type;
  u16 off1;
  u32 off2, zero;
} __attribute__((packed));
/* 64-bit TSS (SDM Vol. 3 8.7): RSP0 at offset 4. */
u8 tss[104] __attribute__((aligned(16)));
#else
struct idt_entry {
  u16 off0, sel;
  u8 zero, type;
  u16 off1;
} __attribute__((packed));
/* 32-bit TSS (SDM Vol. 3 8.2.1): ESP0 at 4, SS0 at 8, I/O map base at 102. */
u8 tss[104] __attribute__((aligned(16)));
#endif

static struct idt_entry idt[256] __attribute__((aligned(16)));
static struct {
  u16 limit;
  ulong base;
} __attribute__((packed)) idt_desc = {sizeof idt - 1, (ulong)idt};

void *idt_stub(int vec) { return isr_stubs + 16 * vec; }

void idt_set(int vec, void *stub, int dpl) {
  ulong a = (ulong)stub;
  struct idt_entry *e = &idt[vec];
  memset(e, 0, sizeof *e);
  e->off0 = (u16)a;
  e->off1 = (u16)(a >> 16);
#ifdef __x86_64__
  e->sel = SEL_CODE64;
  e->off2 = (u32)(a >> 32);
  e->type = (u8)(0x8e | (dpl << 5)); /* 64-bit interrupt gate */
#else
  e->sel = SEL_CODE32;
  e->type = (u8)(0x8e | (dpl << 5)); /* 32-bit interrupt gate */
#endif
}

void gdt_set(u16 sel, u32 base, u32 limit, u8 access, u8 flags) {
  u64 d = (limit & 0xffffull) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
          ((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
  gdt[sel >> 3] = d;
}

static void tss_init(void) {
  memset(tss, 0, sizeof tss);
  ulong base = (ulong)tss;
#ifdef __x86_64__
  *(u64 *)(tss + 4) = (ulong)boot_stack_top;
  /* IST1 (offset 36): #SS and #DF switch to their own stack, so a bad RSP can be reported. */
  *(u64 *)(tss + 36) = (ulong)ist_stack + sizeof ist_stack;
#endif
  gdt_set(SEL_TSS, (u32)base, sizeof tss - 1, 0x89, 0);
#ifdef __x86_64__
  gdt[(SEL_TSS >> 3) + 1] = base >> 32;
#else
  *(u32 *)(tss + 8) = SEL_DATA;
#endif
  *(u16 *)(tss + 102) = sizeof tss; /* no I/O permission bitmap: CPL 3 I/O faults (IOPL 0) */
  __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

void set_handler(int vec, trap_handler h) { handlers[vec] = h; }

static const char *const vec_names[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                          "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
                                          "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};

struct trap_frame *volatile switch_to_frame;

struct trap_frame *isr_dispatch(struct trap_frame *f) {
  int v = (int)f->vector;
  if (dbg_traps) printf("trap %d at %lx\n", v, (unsigned long)f->ip);
  last_trap.vector = v;
  last_trap.error_code = f->error_code;
  last_trap.cr2 = v == PF ? read_cr2() : 0;
  last_trap.ip = f->ip;
  last_trap.cs = f->cs;
#ifdef __x86_64__
  last_trap.sp = f->sp;
  last_trap.ss = f->ss;
  last_trap.ax = f->rax;
  last_trap.bx = f->rbx;
  last_trap.cx = f->rcx;
  last_trap.dx = f->rdx;
#else
  last_trap.sp = (f->cs & 3) ? f->sp : 0;
  last_trap.ss = (f->cs & 3) ? f->ss : 0;
  last_trap.ax = f->rax;
  last_trap.bx = f->rbx;
  last_trap.cx = f->rcx;
  last_trap.dx = f->rdx;
#endif
  last_trap.count++;
  if (handlers[v]) {
    switch_to_frame = 0;
    handlers[v](f);
    return switch_to_frame ? switch_to_frame : f;
  }
  if (trap_armed) {
    trap_armed = 0;
    f->ip = (ulong)trap_resume;
#ifdef __x86_64__
    f->cs = SEL_CODE64;
    f->sp = trap_saved_sp - 64;
    f->ss = SEL_DATA;
#else
    f->cs = SEL_CODE32;
#endif
    f->flags = 0x2;
    return f;
  }
  char detail[96];
  snprintf(detail, sizeof detail, "expected no trap got %s (vector %d) error 0x%lx at 0x%lx cr2 0x%lx",
           v < 32 && vec_names[v] ? vec_names[v] : "interrupt", v, (unsigned long)f->error_code,
           (unsigned long)f->ip, (unsigned long)last_trap.cr2);
  fail(detail, "unexpected-trap");
  report_end();
  return f;
}

void pic_init(void);

void lib_init(void) {
  serial_init();
  for (int v = 0; v < 256; v++) idt_set(v, idt_stub(v), 0);
  /* #BP, #OF, the syscall vector and the user-done vector may be raised from CPL 3. */
  idt_set(BP, idt_stub(BP), 3);
  idt_set(OF, idt_stub(OF), 3);
  idt_set(VEC_SYSCALL, idt_stub(VEC_SYSCALL), 3);
  idt_set(VEC_USER_DONE, idt_stub(VEC_USER_DONE), 3);
#ifdef __x86_64__
  idt[SS].ist = 1;
  idt[DF].ist = 1;
#endif
  __asm__ volatile("lidt %0" ::"m"(idt_desc));
  tss_init();
  pic_init();
}
