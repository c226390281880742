/*
 * Runs integer instructions on the host CPU and prints their results and flags, one line per
 * case: "name size a b cf eax edx flags" (hex). x86-64 executes 8/16/32-bit ALU forms with the
 * same semantics as 32-bit mode, so this is the oracle the emulator is compared against.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const uint32_t V[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
                             0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0x9abcdef0};
static const uint32_t N[] = {0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33};
#define NV (sizeof V / sizeof V[0])
#define NN (sizeof N / sizeof N[0])

#define RUN(text)                                                                                 \
  do {                                                                                            \
    uint64_t fl = FLAGS_IN, ra = a, rb = b, rc = b, rd = 0;                                       \
    __asm__ volatile("push %[f]\n\tpopfq\n\t" text "\n\tpushfq\n\tpop %[f]"                       \
                     : [f] "+r"(fl), "+a"(ra), "+b"(rb), "+c"(rc), "+d"(rd)                       \
                     :                                                                            \
                     : "cc");                                                                     \
    printf("%s %d %x %x %d %x %x %x %x\n", name, size, a, b, cf, (uint32_t)ra, (uint32_t)rd,      \
           (uint32_t)rc, (uint32_t)fl & 0x8d5);                                                   \
  } while (0)

#define FLAGS_IN (0x202 | cf)
#define SKIP 0
static uint32_t msk(int size, uint32_t v) { return size == 1 ? v & 0xff : size == 2 ? v & 0xffff : v; }
static uint32_t smin(int size) { return size == 1 ? 0x80 : size == 2 ? 0x8000 : 0x80000000u; }
#define BIN3(nm, t8, t16, t32, list, nlist)                                                       \
  for (int cf = 0; cf < 2; cf++)                                                                  \
    for (unsigned i = 0; i < NV; i++)                                                             \
      for (unsigned j = 0; j < nlist; j++) {                                                      \
        uint32_t a = V[i], b = list[j];                                                           \
        const char *name = nm;                                                                    \
        int size;                                                                                 \
        size = 1; if (!SKIP && strcmp(t8, "nop")) RUN(t8);                                       \
        size = 2; if (!SKIP && strcmp(t16, "nop")) RUN(t16);                                      \
        size = 4; if (!SKIP && strcmp(t32, "nop")) RUN(t32);                                      \
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
  BIN3("movzb", "nop", "movzbw %%bl,%%ax", "movzbl %%bl,%%eax", V, NV);
  BIN3("movzw", "nop", "nop", "movzwl %%bx,%%eax", V, NV);
  BIN3("movsb", "nop", "movsbw %%bl,%%ax", "movsbl %%bl,%%eax", V, NV);
  BIN3("movsw", "nop", "nop", "movswl %%bx,%%eax", V, NV);
  BIN3("bswap", "nop", "nop", "bswapl %%eax", V, 1);
  BIN3("cbw", "nop", "cbtw", "cwtl", V, 1);
  BIN3("cwd", "nop", "cwtd", "cltd", V, 1);
  BIN3("cmpxchg", "cmpxchgb %%bl,%%cl", "cmpxchgw %%bx,%%cx", "cmpxchgl %%ebx,%%ecx", V, NV);
#undef SKIP
#define SKIP (msk(size, b) == 0)
  BIN3("div", "movzbl %%al,%%eax\n\tdivb %%bl", "movzwl %%ax,%%eax\n\tdivw %%bx", "divl %%ebx", V, NV);
#undef SKIP
#define SKIP (msk(size, b) == 0 || (msk(size, a) == smin(size) && msk(size, b) == msk(size, 0xffffffffu)))
  BIN3("idiv", "cbtw\n\tidivb %%bl", "cwtd\n\tidivw %%bx", "cltd\n\tidivl %%ebx", V, NV);
#undef SKIP
#define SKIP 0
#undef FLAGS_IN
#define FLAGS_IN (0x202 | (b & 0x8d5))
  {
    static const uint32_t V2[] = {0x12345678, 0xfffffff0};
#undef NV
#define V V2
#define NV 2
    static const uint32_t F[] = {0, 0x1, 0x4, 0x10, 0x40, 0x80, 0x800, 0x41, 0x880, 0x8c0, 0x801, 0x8d5, 0x44, 0x81, 0x840, 0xc0};
#define NF (sizeof F / sizeof F[0])
#define CC(n) \
    BIN3("set" #n, "set" #n " %%al", "nop", "nop", F, NF); \
    BIN3("cmov" #n, "nop", "cmov" #n "w %%bx,%%ax", "cmov" #n "l %%ebx,%%eax", F, NF);
    CC(o) CC(no) CC(b) CC(ae) CC(e) CC(ne) CC(be) CC(a) CC(s) CC(ns) CC(p) CC(np) CC(l) CC(ge) CC(le) CC(g)
#undef V
#undef NV
#define NV (sizeof V / sizeof V[0])
    BIN3("sahf", "sahf", "nop", "nop", V, NV);
    BIN3("lahf", "lahf", "nop", "nop", F, NF);
  }
  return 0;
}
