/*
 * The referee of the SIMD integer tests: runs ONE instruction natively on this machine's CPU
 * with a given register and memory state and prints the state after it. Each input line:
 *   <instruction bytes hex> <xmm0> <xmm1> <xmm2> <xmm3> <xmm8> <mm0> <mm1> <rax> <rcx> <rdx>
 *   <rflags> <mem: 64 bytes hex>
 * (xmm as 32 hex digits, byte 0 first; mm/gprs/rflags as 16 hex digits, most significant first).
 * rbx and rdi point at the 64-byte memory block (16-byte aligned). The output line has the same
 * fields after the instruction, without the instruction bytes. The instruction must not touch
 * rsp, r13–r15 or fault. Built by sse-int-referee.ts with the machine's gcc.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

struct st {
  uint8_t xmm[5][16]; /* 0: xmm0..xmm3, xmm8 */
  uint64_t mm[2];     /* 80 */
  uint64_t rax, rcx, rdx, rflags; /* 96, 104, 112, 120 */
  uint8_t mem[64];    /* 128 */
} __attribute__((aligned(64)));

void run(struct st *s, void *code);
__asm__(".text\n.globl run\nrun:\n"
        " push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        " mov %rdi, %r15\n mov %rsi, %r14\n"
        " movdqu 0(%r15), %xmm0\n movdqu 16(%r15), %xmm1\n movdqu 32(%r15), %xmm2\n"
        " movdqu 48(%r15), %xmm3\n movdqu 64(%r15), %xmm8\n"
        " movq 80(%r15), %mm0\n movq 88(%r15), %mm1\n"
        " mov 96(%r15), %rax\n mov 104(%r15), %rcx\n mov 112(%r15), %rdx\n"
        " lea 128(%r15), %rbx\n mov %rbx, %rdi\n"
        " push 120(%r15)\n popfq\n"
        " call *%r14\n"
        " pushfq\n pop 120(%r15)\n"
        " movdqu %xmm0, 0(%r15)\n movdqu %xmm1, 16(%r15)\n movdqu %xmm2, 32(%r15)\n"
        " movdqu %xmm3, 48(%r15)\n movdqu %xmm8, 64(%r15)\n"
        " movq %mm0, 80(%r15)\n movq %mm1, 88(%r15)\n emms\n"
        " mov %rax, 96(%r15)\n mov %rcx, 104(%r15)\n mov %rdx, 112(%r15)\n"
        " pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n");

static int hexbytes(const char *h, uint8_t *out, int max) {
  int n = 0;
  while (h[0] && h[1] && n < max) {
    unsigned v;
    sscanf(h, "%2x", &v);
    out[n++] = (uint8_t)v;
    h += 2;
  }
  return n;
}

int main(void) {
  uint8_t *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) return 2;
  static char line[4096];
  static struct st s;
  char f[13][200];
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%199s %199s %199s %199s %199s %199s %199s %199s %199s %199s %199s %199s %199s",
               f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12]) != 13)
      return 3;
    int n = hexbytes(f[0], code, 64);
    code[n] = 0xc3; /* ret */
    for (int k = 0; k < 5; k++) hexbytes(f[1 + k], s.xmm[k], 16);
    uint64_t *q[6] = {&s.mm[0], &s.mm[1], &s.rax, &s.rcx, &s.rdx, &s.rflags};
    for (int k = 0; k < 6; k++) sscanf(f[6 + k], "%lx", q[k]);
    hexbytes(f[12], s.mem, 64);
    run(&s, code);
    for (int k = 0; k < 5; k++) {
      for (int b = 0; b < 16; b++) printf("%02x", s.xmm[k][b]);
      putchar(' ');
    }
    for (int k = 0; k < 6; k++) printf("%016lx ", *q[k]);
    for (int b = 0; b < 64; b++) printf("%02x", s.mem[b]);
    putchar('\n');
  }
  return 0;
}
