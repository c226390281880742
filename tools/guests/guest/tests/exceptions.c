/* Exceptions (SDM Vol. 3 6): #DE, #UD, #GP and #NP with their error codes, #PF, faults that
 * report the faulting instruction's address, and IRET across privilege levels (CPL 0 -> 3 by
 * IRET, back by an exception, with the stack switch from the TSS). Software interrupts (INT n,
 * INT3) are in the softint guest. */
#include "lib.h"

extern char de_insn[], ud_insn[], gp_insn[], np_insn[], pf_insn[], user_code[], user_code_done[];

static void do_de(ulong a) {
  __asm__ volatile("xor %%edx, %%edx\n de_insn: divl %0" ::"r"(0), "a"(7) : "edx");
}
static void do_ud(ulong a) { __asm__ volatile("ud_insn: ud2"); }
/* A selector past the GDT limit: #GP with the selector (RPL cleared) as error code (6.13). */
static void do_gp(ulong sel) { __asm__ volatile("gp_insn: mov %0, %%fs" ::"r"((u16)sel)); }
/* A not-present data segment: #NP(selector). */
static void do_np(ulong sel) { __asm__ volatile("np_insn: mov %0, %%fs" ::"r"((u16)sel)); }
static void do_pf(ulong va) { __asm__ volatile("pf_insn: movl $1, (%0)" ::"r"(va) : "memory"); }
static void do_div_overflow(ulong a) {
  /* 0x100000000 / 1 does not fit in 32 bits: #DE too (SDM DIV: quotient too large). */
  __asm__ volatile("divl %0" ::"r"(1), "a"(0), "d"(1));
}

/* CPL 3 code: reads CS and SS into eax/ebx, then ud2. Copied nowhere: flat segments (32-bit)
 * or a U=1 identity map (64-bit, below) make it reachable. */
__asm__(".text\n user_code: mov %cs, %eax\n mov %ss, %ebx\n mov %esp, %ecx\n user_code_done: ud2\n");

static void user_tests(void) {
  ulong sp = USER_STACK_TOP;
  int v = trap_user((ulong)user_code, sp, 0, 0, 0);
  check_eq(UD, v, "iret-to-cpl3.ends-in-ud");
  check_eq((ulong)user_code_done, last_trap.ip, "iret-to-cpl3.ud-ip");
  check_eq(3, last_trap.cs & 3, "iret-to-cpl3.trap-frame-cs-rpl3");
#ifdef __x86_64__
  check_eq(SEL_UCODE64, last_trap.ax & 0xffff, "iret-to-cpl3.cs");
#else
  check_eq(SEL_UCODE32, last_trap.ax & 0xffff, "iret-to-cpl3.cs");
#endif
  check_eq(SEL_UDATA, last_trap.bx & 0xffff, "iret-to-cpl3.ss");
  check_eq(SEL_UDATA, last_trap.ss & 0xffff, "cpl3-trap.frame-ss");
  check_eq((u32)sp, (u32)last_trap.sp, "cpl3-trap.frame-sp-is-user-sp");
  check_eq((u32)sp, (u32)last_trap.cx, "iret-to-cpl3.sp");
  /* Privileged instructions at CPL 3: #GP(0). */
  static const u8 priv[][4] = {{0xfa, 0, 0, 0} /* cli */, {0xf4, 0, 0, 0} /* hlt */,
                               {0x0f, 0x20, 0xc0, 0} /* mov cr0,eax */, {0xe4, 0x80, 0, 0} /* in al,0x80 */};
  static const char *names[] = {"cli", "hlt", "mov-from-cr0", "in"};
  static u8 code[16] __attribute__((aligned(16)));
  for (unsigned i = 0; i < ARRAY_SIZE(priv); i++) {
    memcpy(code, priv[i], 4);
    v = trap_user((ulong)code, sp, 0, 0, 0);
    check_eq(GP, v, "cpl3.%s.gp", names[i]);
    check_eq(0, last_trap.error_code, "cpl3.%s.gp-error-code", names[i]);
    check_eq((ulong)code, last_trap.ip, "cpl3.%s.gp-ip", names[i]);
  }
}

int main(void) {
  report_begin("exceptions");
  int v = trap_call(do_de, 0);
  check_eq(DE, v, "de.divide-by-zero");
  check_eq((ulong)de_insn, last_trap.ip, "de.ip-is-faulting-insn");
  v = trap_call(do_div_overflow, 0);
  check_eq(DE, v, "de.quotient-overflow");
  v = trap_call(do_ud, 0);
  check_eq(UD, v, "ud.ud2");
  check_eq((ulong)ud_insn, last_trap.ip, "ud.ip-is-faulting-insn");
  check_eq(0, last_trap.error_code, "ud.no-error-code");

  v = trap_call(do_gp, 0x1233); /* index 0x246, far past the limit; RPL 3 */
  check_eq(GP, v, "gp.selector-past-gdt-limit");
  check_eq(0x1230, last_trap.error_code, "gp.selector-past-gdt-limit.error-code");
  check_eq((ulong)gp_insn, last_trap.ip, "gp.ip-is-faulting-insn");
  /* A code segment loaded into a data register is #GP(selector) too... only if not readable:
   * our code segments are readable, so use the TSS selector (a system descriptor). */
  v = trap_call(do_gp, SEL_TSS);
  check_eq(GP, v, "gp.system-descriptor-in-fs");
  check_eq(SEL_TSS, last_trap.error_code, "gp.system-descriptor-in-fs.error-code");
  gdt_set(SEL_SPARE, 0, 0xfffff, 0x13 /* data, writable, accessed, P=0 */, 0xc);
  v = trap_call(do_np, SEL_SPARE);
  check_eq(NP, v, "np.not-present-data-segment");
  check_eq(SEL_SPARE, last_trap.error_code, "np.not-present-data-segment.error-code");
  check_eq((ulong)np_insn, last_trap.ip, "np.ip-is-faulting-insn");
  gdt_set(SEL_SPARE, 0, 0xfffff, 0x93, 0xc);
  v = trap_call(do_np, SEL_SPARE);
  check_eq(TRAP_NONE, v, "np.present-data-segment-loads");
  __asm__ volatile("mov %0, %%fs" ::"r"((u16)SEL_DATA));

  /* #PF: a page that is not mapped (paging on). */
  static const enum pg_mode modes[] = TEST_MODES;
  enum pg_mode m = modes[ARRAY_SIZE(modes) - 1];
  ulong root = pg_test_root(m);
  pg_enable(m, root);
  v = trap_call(do_pf, TEST_VA + 0x10);
  check_eq(PF, v, "pf.not-present");
  check_eq(PFERR_W, last_trap.error_code, "pf.not-present.error-code");
  check_eq(TEST_VA + 0x10, last_trap.cr2, "pf.not-present.cr2");
  check_eq((ulong)pf_insn, last_trap.ip, "pf.ip-is-faulting-insn");
  pg_disable();
  user_flat_begin();
  user_tests();
  pg_disable();
  return 0;
}
