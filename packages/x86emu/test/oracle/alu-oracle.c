/*
 * Runs integer instructions on the host CPU and prints their results and flags, one line per
 * case: "name size a b cf eax edx flags" (hex). x86-64 executes 8/16/32-bit ALU forms with the
 * same semantics as 32-bit mode, so this is the oracle the emulator is compared against.
 */
#include <stdint.h>
#include <stdio.h>

static const uint32_t V[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
                             0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0x9abcdef0};
static const uint32_t N[] = {0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33};
#define NV (sizeof V / sizeof V[0])
#define NN (sizeof N / sizeof N[0])

#define RUN(text)                                                                                 \
  do {                                                                                            \
    uint64_t fl = 0x202 | cf, ra = a, rb = b, rc = b, rd = 0;                                     \
    __asm__ volatile("push %[f]\n\tpopfq\n\t" text "\n\tpushfq\n\tpop %[f]"                       \
                     : [f] "+r"(fl), "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd)                       \
                     :                                                                            \
                     : "cc");                                                                     \
    printf("%s %d %x %x %d %x %x %x\n", name, size, a, b, cf, (uint32_t)ra, (uint32_t)rd,         \
           (uint32_t)fl & 0x8d5);                                                                 \
  } while (0)

#define BIN3(nm, t8, t16, t32, list, nlist)                                                       \
  for (int cf = 0; cf < 2; cf++)                                                                  \
    for (unsigned i = 0; i < NV; i++)                                                             \
      for (unsigned j = 0; j < nlist; j++) {                                                      \
        uint32_t a = V[i], b = list[j];                                                           \
        const char *name = nm;                                                                    \
        int size;                                                                                 \
        size = 1; RUN(t8);                                                                        \
        size = 2; RUN(t16);                                                                       \
        size = 4; RUN(t32);                                                                       \
      }

int main(void) {
  BIN3("add", "addb %%bl,%%al", "addw %%bx,%%ax", "addl %%ebx,%%eax", V, NV);
  BIN3("or", "orb %%bl,%%al", "orw %%bx,%%ax", "orl %%ebx,%%eax", V, NV);
  BIN3("adc", "adcb %%bl,%%al", "adcw %%bx,%%ax", "adcl %%ebx,%%eax", V, NV);
  BIN3("sbb", "sbbb %%bl,%%al", "sbbw %%bx,%%ax", "sbbl %%ebx,%%eax", V, NV);
  BIN3("and", "andb %%bl,%%al", "andw %%bx,%%ax", "andl %%ebx,%%eax", V, NV);
  BIN3("sub", "subb %%bl,%%al", "subw %%bx,%%ax", "subl %%ebx,%%eax", V, NV);
  BIN3("xor", "xorb %%bl,%%al", "xorw %%bx,%%ax", "xorl %%ebx,%%eax", V, NV);
  BIN3("cmp", "cmpb %%bl,%%al", "cmpw %%bx,%%ax", "cmpl %%ebx,%%eax", V, NV);
  BIN3("test", "testb %%bl,%%al", "testw %%bx,%%ax", "testl %%ebx,%%eax", V, NV);
  BIN3("inc", "incb %%al", "incw %%ax", "incl %%eax", V, 1);
  BIN3("dec", "decb %%al", "decw %%ax", "decl %%eax", V, 1);
  BIN3("neg", "negb %%al", "negw %%ax", "negl %%eax", V, 1);
  BIN3("not", "notb %%al", "notw %%ax", "notl %%eax", V, 1);
  BIN3("rol", "rolb %%cl,%%al", "rolw %%cl,%%ax", "roll %%cl,%%eax", N, NN);
  BIN3("ror", "rorb %%cl,%%al", "rorw %%cl,%%ax", "rorl %%cl,%%eax", N, NN);
  BIN3("rcl", "rclb %%cl,%%al", "rclw %%cl,%%ax", "rcll %%cl,%%eax", N, NN);
  BIN3("rcr", "rcrb %%cl,%%al", "rcrw %%cl,%%ax", "rcrl %%cl,%%eax", N, NN);
  BIN3("shl", "shlb %%cl,%%al", "shlw %%cl,%%ax", "shll %%cl,%%eax", N, NN);
  BIN3("shr", "shrb %%cl,%%al", "shrw %%cl,%%ax", "shrl %%cl,%%eax", N, NN);
  BIN3("sar", "sarb %%cl,%%al", "sarw %%cl,%%ax", "sarl %%cl,%%eax", N, NN);
  BIN3("mul", "mulb %%bl", "mulw %%bx", "mull %%ebx", V, NV);
  BIN3("imul", "imulb %%bl", "imulw %%bx", "imull %%ebx", V, NV);
  BIN3("imul2", "nop", "imulw %%bx,%%ax", "imull %%ebx,%%eax", V, NV);
  BIN3("bsf", "nop", "bsfw %%bx,%%ax", "bsfl %%ebx,%%eax", V, NV);
  BIN3("bsr", "nop", "bsrw %%bx,%%ax", "bsrl %%ebx,%%eax", V, NV);
  BIN3("bt", "nop", "btw %%bx,%%ax", "btl %%ebx,%%eax", N, NN);
  BIN3("bts", "nop", "btsw %%bx,%%ax", "btsl %%ebx,%%eax", N, NN);
  BIN3("btr", "nop", "btrw %%bx,%%ax", "btrl %%ebx,%%eax", N, NN);
  BIN3("btc", "nop", "btcw %%bx,%%ax", "btcl %%ebx,%%eax", N, NN);
  BIN3("shld", "nop", "shldw %%cl,%%bx,%%ax", "shldl %%cl,%%ebx,%%eax", N, NN);
  BIN3("shrd", "nop", "shrdw %%cl,%%bx,%%ax", "shrdl %%cl,%%ebx,%%eax", N, NN);
  BIN3("xadd", "xaddb %%bl,%%al", "xaddw %%bx,%%ax", "xaddl %%ebx,%%eax", V, NV);
  return 0;
}
