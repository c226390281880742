/*
 * Native probe: which prefixed forms the host's own CPU refuses (#UD, seen as SIGILL) when run
 * directly by a process, outside any guest. The differential tester cites it where a guest on
 * kvm-pvm completes an instruction that the CPU gives #UD for (KNOWN-MISMATCHES.md: LOCK
 * fences, LOCK FXSAVE, LOCK hint NOPs, 66/F2/F3 FXSAVE/FXRSTOR).
 *
 *   gcc -O1 -o /tmp/native-ud native-ud.c && /tmp/native-ud
 *
 * Each line: the form, `#UD` or `runs`. Measured on this project's AMD EPYC and on an Intel Xeon:
 * every form below #UD but the two controls (the lines from MOVNTI on, on the Xeon only).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>

static sigjmp_buf jb;
static volatile sig_atomic_t sig;
static void on_signal(int s) {
  sig = s;
  siglongjmp(jb, 1);
}
static unsigned char area[1024] __attribute__((aligned(64)));

#define PROBE(name, bytes)                                                                 \
  do {                                                                                     \
    sig = 0;                                                                               \
    if (!sigsetjmp(jb, 1)) {                                                               \
      void *p = area;                                                                      \
      long zero = 0;                                                                       \
      __asm__ volatile(".byte " bytes ::"a"(p), "c"(zero) : "memory");                     \
    }                                                                                      \
    printf("%-24s %s\n", name, sig == SIGILL ? "#UD" : sig ? "other signal" : "runs");     \
  } while (0)

int main(void) {
  signal(SIGILL, on_signal);
  signal(SIGSEGV, on_signal);
  PROBE("fxsave [rax]", "0x0f,0xae,0x00"); /* the control: runs */
  PROBE("lock mfence", "0xf0,0x0f,0xae,0xf0");
  PROBE("lock sfence", "0xf0,0x0f,0xae,0xf8");
  PROBE("lock fxsave [rax]", "0xf0,0x0f,0xae,0x00");
  PROBE("lock nop [rax] (0f 1f)", "0xf0,0x0f,0x1f,0x00");
  PROBE("66 fxsave [rax]", "0x66,0x0f,0xae,0x00");
  PROBE("66 fxsave [rax+rcx]", "0x66,0x0f,0xae,0x04,0x08");
  PROBE("f2 fxsave [rax]", "0xf2,0x0f,0xae,0x00");
  PROBE("f3 fxsave [rax]", "0xf3,0x0f,0xae,0x00");
  PROBE("66 fxrstor [rax]", "0x66,0x0f,0xae,0x08"); /* area holds the control's image */
  PROBE("movnti [rax], eax", "0x0f,0xc3,0x00"); /* the control: runs */
  PROBE("66 movnti [rax], eax", "0x66,0x0f,0xc3,0x00");
  PROBE("f2 movnti [rax], eax", "0xf2,0x0f,0xc3,0x00");
  PROBE("f3 movnti [rax], eax", "0xf3,0x0f,0xc3,0x00");
  PROBE("lock serialize", "0xf0,0x0f,0x01,0xe8"); /* where the CPU has SERIALIZE */
  PROBE("66 movntdq xmm1, xmm2 (reg)", "0x66,0x0f,0xe7,0xd1");
  PROBE("clgi", "0x0f,0x01,0xdd"); /* where the CPU has no SVM */
  return 0;
}
