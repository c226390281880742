/*
 * The referee for the SSE floating-point instructions (test/sse-fp*.test.ts): runs one
 * instruction, given as its bytes, natively on the host CPU and prints what it did.
 *
 * Input, one case a line, hex:  BYTES MXCSR X0 X0 X0 X0 X1 X1 X1 X1 X2 X2 X2 X2 RAXLO RAXHI
 *   BYTES is the instruction (e.g. 0f58ca = addps xmm1, xmm2); it runs with XMM0..XMM2 and RAX
 *   loaded (each XMM as four little-endian words) and MXCSR set, RFLAGS = 0x202.
 * Output, one line a case:      X1 X1 X1 X1 X0 X0 X0 X0 RAXLO RAXHI MXCSR EFLAGS&0x8d5 FAULT
 *   FAULT: 0, or the vector taken: 19 (#XM, SIGFPE: MXCSR read from the signal frame), 6 (#UD),
 *   13 (#GP/#PF, SIGSEGV), 12 (#SS, SIGBUS). XMM0, XMM1 and RAX are printed as the fault left
 *   them. RSP is 8 modulo 16 at the instruction (the CALL into the page pushed 8 bytes).
 * The instruction is copied into an executable page between a load and a store sequence, so
 * any encoding can be tested without recompiling this program.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

struct ctx {
  uint32_t x[3][4]; /* 0, 16, 32 */
  uint32_t mxcsr;   /* 48 */
  uint32_t pad;     /* 52 */
  uint64_t rax;     /* 56 */
  uint64_t rflags;  /* 64 */
} __attribute__((aligned(16)));

static sigjmp_buf jb;
static volatile uint32_t fault_mxcsr;
static volatile int fault_vec;
static struct ctx c;

static void onsig(int sig, siginfo_t *si, void *vctx) {
  (void)si;
  ucontext_t *uc = vctx;
  fault_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
  fault_vec = sig == SIGFPE ? 19 : sig == SIGILL ? 6 : sig == SIGBUS ? 12 : 13;
  /* The registers as the fault left them (the destination must be untouched). */
  for (int r = 0; r < 2; r++) memcpy(c.x[r], uc->uc_mcontext.fpregs->_xmm[r].element, 16);
  c.rax = (uint64_t)uc->uc_mcontext.gregs[REG_RAX];
  /* The kernel restores MXCSR from the frame on return; siglongjmp does not: reset it here. */
  uint32_t m = 0x1f80;
  __asm__ volatile("ldmxcsr %0" ::"m"(m));
  siglongjmp(jb, 1);
}

/* rdi = struct ctx *: load, instruction, store, ret. */
static const uint8_t PRE[] = {
    0xf3, 0x0f, 0x6f, 0x07,       /* movdqu xmm0, [rdi] */
    0xf3, 0x0f, 0x6f, 0x4f, 0x10, /* movdqu xmm1, [rdi+16] */
    0xf3, 0x0f, 0x6f, 0x57, 0x20, /* movdqu xmm2, [rdi+32] */
    0x48, 0x8b, 0x47, 0x38,       /* mov rax, [rdi+56] */
    0x0f, 0xae, 0x57, 0x30,       /* ldmxcsr [rdi+48] */
    0x68, 0x02, 0x02, 0x00, 0x00, /* push 0x202 */
    0x9d,                         /* popfq */
};
static const uint8_t POST[] = {
    0x9c,                         /* pushfq */
    0x8f, 0x47, 0x40,             /* pop qword [rdi+64] */
    0x0f, 0xae, 0x5f, 0x30,       /* stmxcsr [rdi+48] */
    0xf3, 0x0f, 0x7f, 0x07,       /* movdqu [rdi], xmm0 */
    0xf3, 0x0f, 0x7f, 0x4f, 0x10, /* movdqu [rdi+16], xmm1 */
    0x48, 0x89, 0x47, 0x38,       /* mov [rdi+56], rax */
    0xc3,                         /* ret */
};

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onsig;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, 0);
  sigaction(SIGILL, &sa, 0);
  sigaction(SIGSEGV, &sa, 0);
  sigaction(SIGBUS, &sa, 0);
  uint8_t *page = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  char hexbytes[64];
  static char line[512];
  while (fgets(line, sizeof line, stdin)) {
    unsigned w[15];
    if (sscanf(line, "%63s %x %x %x %x %x %x %x %x %x %x %x %x %x %x %x", hexbytes, &w[0], &w[1],
               &w[2], &w[3], &w[4], &w[5], &w[6], &w[7], &w[8], &w[9], &w[10], &w[11], &w[12],
               &w[13], &w[14]) != 16) {
      fprintf(stderr, "bad line: %s", line);
      return 1;
    }
    size_t n = strlen(hexbytes) / 2, p = 0;
    memcpy(page, PRE, sizeof PRE);
    p = sizeof PRE;
    for (size_t k = 0; k < n; k++) {
      unsigned b;
      sscanf(hexbytes + 2 * k, "%2x", &b);
      page[p++] = (uint8_t)b;
    }
    memcpy(page + p, POST, sizeof POST);
    __builtin___clear_cache((char *)page, (char *)page + 4096);
    memset(&c, 0, sizeof c);
    c.mxcsr = w[0];
    for (int r = 0; r < 3; r++)
      for (int k = 0; k < 4; k++) c.x[r][k] = w[1 + r * 4 + k];
    c.rax = ((uint64_t)w[14] << 32) | w[13];
    int fault = 0;
    uint32_t mx;
    fault_vec = 0;
    if (sigsetjmp(jb, 1) == 0) {
      __asm__ volatile("call *%1" ::"D"(&c), "r"(page) : "rax", "xmm0", "xmm1", "xmm2", "memory", "cc");
      mx = c.mxcsr;
    } else {
      fault = fault_vec;
      mx = fault_mxcsr;
      c.rflags = 0;
    }
    printf("%x %x %x %x %x %x %x %x %x %x %x %x %x\n", c.x[1][0], c.x[1][1], c.x[1][2], c.x[1][3],
           c.x[0][0], c.x[0][1], c.x[0][2], c.x[0][3], (uint32_t)c.rax, (uint32_t)(c.rax >> 32), mx,
           (uint32_t)c.rflags & 0x8d5, fault);
  }
  return 0;
}
