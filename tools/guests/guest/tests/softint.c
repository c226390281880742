/* Software interrupts (SDM Vol. 3 6.4, 6.12): INT3 (#BP, a trap: the saved IP is after it),
 * INT n through a handler that returns with IRET, INT n from CPL 3 through a DPL-3 gate and
 * back to CPL 3 by IRET, INT n from CPL 3 through a DPL-0 gate (#GP with error code
 * vector*8+2: IDT, EXT=0), and INTO. */
#include "lib.h"

extern char bp_after[], int_after[], user_int[], user_int_after[], user_int_gp[];
static volatile u32 handled;

static void do_bp(ulong a) { __asm__ volatile("int3\n bp_after: nop"); }
#ifndef __x86_64__
extern char into_after[];
static void do_into(ulong x) { __asm__ volatile("add $1, %0\n into\n into_after: nop" : "+r"(x)::"cc"); }
#endif
static void h40(struct trap_frame *f) {
  handled++;
  f->rax = 0x4040; /* the handler's change is seen after IRET */
}
static void h80(struct trap_frame *f) {
  handled++;
  f->rax = f->rbx + 1;
}

/* CPL 3: int $0x80 (DPL 3 gate; the handler returns eax = ebx + 1), then int $0x40 (DPL 0:
 * #GP). */
__asm__(".text\n user_int: int $0x80\n user_int_after: mov %eax, %ecx\n user_int_gp: int $0x40\n ud2\n");

int main(void) {
  report_begin("softint");
  int v = trap_call(do_bp, 0);
  check_eq(BP, v, "bp.int3-vector");
  check_eq((ulong)bp_after, last_trap.ip, "bp.ip-after-int3");

  set_handler(0x40, h40);
  ulong ax = 0;
  __asm__ volatile("int $0x40\n int_after:" : "+a"(ax)::"memory");
  check_eq(1, handled, "int40.handler-ran");
  check_eq(0x4040, ax, "int40.iret-returns-handler-state");
  check_eq((ulong)int_after, last_trap.ip, "int40.frame-ip-after-int");
  check_eq(0, read_flags() & FLAGS_IF, "int40.if-still-clear");

  set_handler(VEC_SYSCALL, h80);
  user_flat_begin();
  v = trap_user((ulong)user_int, USER_STACK_TOP, 0, 41, 0);
  check_eq(2, handled, "int80-from-cpl3.handler-ran");
  check_eq(GP, v, "int40-from-cpl3.dpl0-gate-gp");
  check_eq(0x40 * 8 + 2, last_trap.error_code, "int40-from-cpl3.error-code");
  check_eq((ulong)user_int_gp, last_trap.ip, "int40-from-cpl3.ip-is-int");
  check_eq(42, last_trap.cx, "int80-from-cpl3.iret-back-to-cpl3-with-result");
  check_eq(3, last_trap.cs & 3, "int40-from-cpl3.from-cpl3");
  pg_disable();
#ifndef __x86_64__
  /* INTO with OF set: #OF, a trap (IP after INTO); with OF clear nothing. Invalid in 64-bit. */
  v = trap_call(do_into, 0x7fffffff);
  check_eq(OF, v, "into.of-set-traps");
  check_eq((ulong)into_after, last_trap.ip, "into.ip-after-into");
  v = trap_call(do_into, 1);
  check_eq(TRAP_NONE, v, "into.of-clear-no-trap");
#else
  /* INTO is #UD in 64-bit mode. */
  static const u8 into[] = {0xce, 0xc3};
  static u8 code[4];
  memcpy(code, into, 2);
  v = trap_call((void (*)(ulong))(void *)code, 0);
  check_eq(UD, v, "into.ud-in-64-bit-mode");
#endif
  return 0;
}
