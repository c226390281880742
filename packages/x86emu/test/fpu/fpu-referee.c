/*
 * The referee for src/fpu: runs one x87 or SSE operation per input line on the host CPU and
 * prints the result bits and the status flags it produced.
 *
 * Input, one case a line, all numbers hex:   OP CTL W0 W1 W2 W3 W4 W5
 *   x87 ops: CTL is the control word; an 80-bit operand is three words (sign+exponent, high and
 *            low halves of the significand): a = W0..W2 (ST0), b = W3..W5 (ST1).
 *            Loads take the memory operand in W0.. (low word first for 64-bit integers:
 *            W0 = low, W1 = high; 64-bit reals as W0 = high, W1 = low; BCD as W0 = bits 79..64,
 *            W1 = 63..32, W2 = 31..0).
 *   SSE ops: CTL is MXCSR; float32 operands are one word each (a = W0, b = W1), float64 operands
 *            two (a = W0:W1, b = W2:W3, high first); integers as for loads.
 * Output, one line a case:
 *   x87: ST0 (3 words), ST1 (3 words), memory result (3 words), status word
 *   SSE: result (2 words: high, low), MXCSR after, EFLAGS & 0x8d5, fault (1 = #XM was raised)
 * Exceptions are taken unmasked if CTL says so: the x87 records them without waiting (FNSTSW,
 * FNSAVE); SSE raises #XM, caught as SIGFPE, and MXCSR is read from the signal frame.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

typedef struct {
  uint64_t sig;
  uint16_t se;
} __attribute__((packed)) f80;

static sigjmp_buf jb;
static volatile uint32_t fault_mxcsr;

static void onfpe(int sig, siginfo_t *si, void *vctx) {
  (void)sig;
  (void)si;
  ucontext_t *uc = vctx;
  fault_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
  siglongjmp(jb, 1);
}

static f80 mk(uint32_t se, uint32_t hi, uint32_t lo) {
  f80 v;
  v.sig = ((uint64_t)hi << 32) | lo;
  v.se = (uint16_t)se;
  return v;
}

static void put80(const uint8_t *p) {
  uint64_t sig;
  uint16_t se;
  memcpy(&sig, p, 8);
  memcpy(&se, p + 8, 2);
  printf("%x %x %x ", se, (uint32_t)(sig >> 32), (uint32_t)sig);
}

/* x87: ST1 = b, ST0 = a, control word set, `text` runs, status word and registers read back. */
#define X87(text)                                                                                  \
  do {                                                                                             \
    f80 A = mk(w[0], w[1], w[2]), B = mk(w[3], w[4], w[5]);                                        \
    uint16_t cw = (uint16_t)ctl, sw;                                                               \
    __asm__ volatile("fninit\n\tfldt %[b]\n\tfldt %[a]\n\tfldcw %[cw]\n\t" text                    \
                     "\n\tfnstsw %[sw]\n\tfnsave %[save]"                                          \
                     : [sw] "=m"(sw), [save] "=m"(save), [mem] "+m"(mem)                           \
                     : [a] "m"(A), [b] "m"(B), [cw] "m"(cw)                                        \
                     : "memory");                                                                  \
    put80(save + 28);                                                                              \
    put80(save + 38);                                                                              \
    printf("%x %x %x %x\n", mem[2], mem[1], mem[0], sw);                                           \
  } while (0)

/* Loads: the memory operand from W0.., nothing else on the stack. */
#define X87LOAD(text)                                                                              \
  do {                                                                                             \
    uint16_t cw = (uint16_t)ctl, sw;                                                               \
    __asm__ volatile("fninit\n\tfldcw %[cw]\n\t" text "\n\tfnstsw %[sw]\n\tfnsave %[save]"         \
                     : [sw] "=m"(sw), [save] "=m"(save)                                            \
                     : [mem] "m"(mem), [cw] "m"(cw)                                                \
                     : "memory");                                                                  \
    put80(save + 28);                                                                              \
    put80(save + 38);                                                                              \
    printf("0 0 0 %x\n", sw);                                                                      \
  } while (0)

#define SSE(text)                                                                                  \
  do {                                                                                             \
    uint32_t m = ctl, mout = 0;                                                                    \
    uint64_t fl = 0x202, r = 0;                                                                    \
    int faulted = 0;                                                                               \
    if (sigsetjmp(jb, 1) == 0) {                                                                   \
      __asm__ volatile("movq %[x], %%xmm0\n\tmovq %[y], %%xmm1\n\tmov %[x], %%rax\n\t"             \
                       "ldmxcsr %[m]\n\tpush %[fl]\n\tpopfq\n\t" text                              \
                       "\n\tpushfq\n\tpop %[fl]\n\tstmxcsr %[mo]\n\tmovq %%xmm0, %[r]\n\t"         \
                       "mov $0x1f80, %%ecx\n\tmov %%ecx, %[m]\n\tldmxcsr %[m]"                     \
                       : [r] "=r"(r), [mo] "=m"(mout), [m] "+m"(m), [fl] "+r"(fl)                  \
                       : [x] "r"(x), [y] "r"(y)                                                    \
                       : "rax", "rcx", "xmm0", "xmm1", "memory", "cc");                            \
    } else {                                                                                       \
      faulted = 1;                                                                                 \
      mout = fault_mxcsr;                                                                          \
      r = 0;                                                                                       \
      fl = 0;                                                                                      \
    }                                                                                              \
    printf("%x %x %x %x %d\n", (uint32_t)(r >> 32), (uint32_t)r, mout, (uint32_t)fl & 0x8d5,       \
           faulted);                                                                               \
  } while (0)

/* Packed: a = W0..W3, b = W4..W7 as 128-bit little-endian words; prints 4 words, MXCSR, fault. */
#define PACKED(text)                                                                               \
  do {                                                                                             \
    uint32_t m = ctl, mout = 0, res[4] = {0, 0, 0, 0};                                             \
    int faulted = 0;                                                                               \
    if (sigsetjmp(jb, 1) == 0) {                                                                   \
      __asm__ volatile("movdqu %[a], %%xmm0\n\tmovdqu %[b], %%xmm1\n\tldmxcsr %[m]\n\t" text    \
                       "\n\tstmxcsr %[mo]\n\tmovdqu %%xmm0, %[r]\n\t"                              \
                       "mov $0x1f80, %%ecx\n\tmov %%ecx, %[m]\n\tldmxcsr %[m]"                       \
                       : [r] "=m"(res), [mo] "=m"(mout), [m] "+m"(m)                               \
                       : [a] "m"(w[0]), [b] "m"(w[4])                                              \
                       : "rcx", "xmm0", "xmm1", "memory");                                         \
    } else {                                                                                       \
      faulted = 1;                                                                                 \
      mout = fault_mxcsr;                                                                          \
    }                                                                                              \
    printf("%x %x %x %x %x %d\n", res[0], res[1], res[2], res[3], mout, faulted);                  \
  } while (0)

#define ROUNDX(sfx, i)                                                                             \
  else if (!strcmp(op, "round" #sfx #i)) SSE("round" #sfx " $" #i ", %%xmm1, %%xmm0");
#define CMPSX(sfx, i)                                                                              \
  else if (!strcmp(op, "cmp" #sfx #i)) SSE("cmp" #sfx " $" #i ", %%xmm1, %%xmm0");

int main(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onfpe;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, NULL);
  setvbuf(stdout, NULL, _IOFBF, 1 << 20);

  char line[512], op[32];
  while (fgets(line, sizeof line, stdin)) {
    uint32_t ctl = 0;
    static uint32_t w[8];
    memset(w, 0, sizeof w);
    int n = sscanf(line, "%31s %x %x %x %x %x %x %x %x %x", op, &ctl, &w[0], &w[1], &w[2], &w[3],
                   &w[4], &w[5], &w[6], &w[7]);
    if (n < 2) continue;
    uint8_t save[108];
    uint32_t mem[3] = {0xdeadbeef, 0xdeadbeef, 0xdeadbeef};
    /* SSE operands: float32 in W0/W1, float64 as W0:W1 and W2:W3, integers like loads. */
    int dbl = strstr(op, "sd") != NULL && strncmp(op, "cvtss2sd", 8) != 0 && strncmp(op, "cvtsi2sd", 8) != 0;
    uint64_t x = w[0], y = w[1];
    if (dbl) {
      x = ((uint64_t)w[0] << 32) | w[1];
      y = ((uint64_t)w[2] << 32) | w[3];
    }
    if (!strcmp(op, "cvtsi2ssq") || !strcmp(op, "cvtsi2sdq")) x = ((uint64_t)w[1] << 32) | w[0];

    if (!strcmp(op, "fadd")) X87(".byte 0xd8, 0xc1");
    else if (!strcmp(op, "fsub")) X87(".byte 0xd8, 0xe1");
    else if (!strcmp(op, "fmul")) X87(".byte 0xd8, 0xc9");
    else if (!strcmp(op, "fdiv")) X87(".byte 0xd8, 0xf1");
    else if (!strcmp(op, "fsqrt")) X87("fsqrt");
    else if (!strcmp(op, "fprem")) X87("fprem");
    else if (!strcmp(op, "fprem1")) X87("fprem1");
    else if (!strcmp(op, "frndint")) X87("frndint");
    else if (!strcmp(op, "fscale")) X87("fscale");
    else if (!strcmp(op, "fxtract")) X87("fxtract");
    else if (!strcmp(op, "f2xm1")) X87("f2xm1");
    else if (!strcmp(op, "fyl2x")) X87("fyl2x");
    else if (!strcmp(op, "fyl2xp1")) X87("fyl2xp1");
    else if (!strcmp(op, "fpatan")) X87("fpatan");
    else if (!strcmp(op, "fsin")) X87("fsin");
    else if (!strcmp(op, "fcos")) X87("fcos");
    else if (!strcmp(op, "fsincos")) X87("fsincos");
    else if (!strcmp(op, "fptan")) X87("fptan");
    else if (!strcmp(op, "fcom")) X87(".byte 0xd8, 0xd1");
    else if (!strcmp(op, "fucom")) X87(".byte 0xdd, 0xe1");
    else if (!strcmp(op, "ftst")) X87("ftst");
    else if (!strcmp(op, "fxam")) X87("fxam");
    else if (!strcmp(op, "fsts")) X87("fsts %[mem]");
    else if (!strcmp(op, "fstl")) X87("fstl %[mem]");
    else if (!strcmp(op, "fists")) X87("fists %[mem]");
    else if (!strcmp(op, "fistl")) X87("fistl %[mem]");
    else if (!strcmp(op, "fistll")) X87("fld %%st(0)\n\tfistpll %[mem]");
    else if (!strcmp(op, "fisttps")) X87("fld %%st(0)\n\tfisttps %[mem]");
    else if (!strcmp(op, "fisttpl")) X87("fld %%st(0)\n\tfisttpl %[mem]");
    else if (!strcmp(op, "fisttpll")) X87("fld %%st(0)\n\tfisttpll %[mem]");
    else if (!strcmp(op, "fbstp")) X87("fld %%st(0)\n\tfbstp %[mem]");
    else if (!strcmp(op, "fld1")) X87LOAD("fld1");
    else if (!strcmp(op, "fldl2t")) X87LOAD("fldl2t");
    else if (!strcmp(op, "fldl2e")) X87LOAD("fldl2e");
    else if (!strcmp(op, "fldpi")) X87LOAD("fldpi");
    else if (!strcmp(op, "fldlg2")) X87LOAD("fldlg2");
    else if (!strcmp(op, "fldln2")) X87LOAD("fldln2");
    else if (!strcmp(op, "fldz")) X87LOAD("fldz");
    else if (!strcmp(op, "flds")) { mem[0] = w[0]; X87LOAD("flds %[mem]"); }
    else if (!strcmp(op, "fldl")) { mem[0] = w[1]; mem[1] = w[0]; X87LOAD("fldl %[mem]"); }
    else if (!strcmp(op, "filds")) { mem[0] = w[0]; X87LOAD("filds %[mem]"); }
    else if (!strcmp(op, "fildl")) { mem[0] = w[0]; X87LOAD("fildl %[mem]"); }
    else if (!strcmp(op, "fildll")) { mem[0] = w[0]; mem[1] = w[1]; X87LOAD("fildll %[mem]"); }
    else if (!strcmp(op, "fbld")) { mem[2] = w[0]; mem[1] = w[1]; mem[0] = w[2]; X87LOAD("fbld %[mem]"); }
    else if (!strcmp(op, "addps")) PACKED("addps %%xmm1, %%xmm0");
    else if (!strcmp(op, "subps")) PACKED("subps %%xmm1, %%xmm0");
    else if (!strcmp(op, "mulps")) PACKED("mulps %%xmm1, %%xmm0");
    else if (!strcmp(op, "divps")) PACKED("divps %%xmm1, %%xmm0");
    else if (!strcmp(op, "sqrtps")) PACKED("sqrtps %%xmm1, %%xmm0");
    else if (!strcmp(op, "minps")) PACKED("minps %%xmm1, %%xmm0");
    else if (!strcmp(op, "maxps")) PACKED("maxps %%xmm1, %%xmm0");
    else if (!strcmp(op, "addpd")) PACKED("addpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "subpd")) PACKED("subpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "mulpd")) PACKED("mulpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "divpd")) PACKED("divpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "sqrtpd")) PACKED("sqrtpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "minpd")) PACKED("minpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "maxpd")) PACKED("maxpd %%xmm1, %%xmm0");
    else if (!strcmp(op, "addss")) SSE("addss %%xmm1, %%xmm0");
    else if (!strcmp(op, "subss")) SSE("subss %%xmm1, %%xmm0");
    else if (!strcmp(op, "mulss")) SSE("mulss %%xmm1, %%xmm0");
    else if (!strcmp(op, "divss")) SSE("divss %%xmm1, %%xmm0");
    else if (!strcmp(op, "sqrtss")) SSE("sqrtss %%xmm1, %%xmm0");
    else if (!strcmp(op, "minss")) SSE("minss %%xmm1, %%xmm0");
    else if (!strcmp(op, "maxss")) SSE("maxss %%xmm1, %%xmm0");
    else if (!strcmp(op, "comiss")) SSE("comiss %%xmm1, %%xmm0");
    else if (!strcmp(op, "ucomiss")) SSE("ucomiss %%xmm1, %%xmm0");
    else if (!strcmp(op, "addsd")) SSE("addsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "subsd")) SSE("subsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "mulsd")) SSE("mulsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "divsd")) SSE("divsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "sqrtsd")) SSE("sqrtsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "minsd")) SSE("minsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "maxsd")) SSE("maxsd %%xmm1, %%xmm0");
    else if (!strcmp(op, "comisd")) SSE("comisd %%xmm1, %%xmm0");
    else if (!strcmp(op, "ucomisd")) SSE("ucomisd %%xmm1, %%xmm0");
    CMPSX(ss, 0) CMPSX(ss, 1) CMPSX(ss, 2) CMPSX(ss, 3) CMPSX(ss, 4) CMPSX(ss, 5) CMPSX(ss, 6) CMPSX(ss, 7)
    CMPSX(sd, 0) CMPSX(sd, 1) CMPSX(sd, 2) CMPSX(sd, 3) CMPSX(sd, 4) CMPSX(sd, 5) CMPSX(sd, 6) CMPSX(sd, 7)
    ROUNDX(ss, 0) ROUNDX(ss, 1) ROUNDX(ss, 2) ROUNDX(ss, 3) ROUNDX(ss, 4) ROUNDX(ss, 5) ROUNDX(ss, 6) ROUNDX(ss, 7)
    ROUNDX(ss, 8) ROUNDX(ss, 9) ROUNDX(ss, 10) ROUNDX(ss, 11) ROUNDX(ss, 12) ROUNDX(ss, 13) ROUNDX(ss, 14) ROUNDX(ss, 15)
    ROUNDX(sd, 0) ROUNDX(sd, 1) ROUNDX(sd, 2) ROUNDX(sd, 3) ROUNDX(sd, 4) ROUNDX(sd, 5) ROUNDX(sd, 6) ROUNDX(sd, 7)
    ROUNDX(sd, 8) ROUNDX(sd, 9) ROUNDX(sd, 10) ROUNDX(sd, 11) ROUNDX(sd, 12) ROUNDX(sd, 13) ROUNDX(sd, 14) ROUNDX(sd, 15)
    else if (!strcmp(op, "cvtss2sd")) SSE("cvtss2sd %%xmm0, %%xmm0");
    else if (!strcmp(op, "cvtsd2ss")) SSE("cvtsd2ss %%xmm0, %%xmm0");
    else if (!strcmp(op, "cvtsi2ssl")) SSE("xorps %%xmm0, %%xmm0\n\tcvtsi2ssl %%eax, %%xmm0");
    else if (!strcmp(op, "cvtsi2ssq")) SSE("xorps %%xmm0, %%xmm0\n\tcvtsi2ssq %%rax, %%xmm0");
    else if (!strcmp(op, "cvtsi2sdl")) SSE("cvtsi2sdl %%eax, %%xmm0");
    else if (!strcmp(op, "cvtsi2sdq")) SSE("cvtsi2sdq %%rax, %%xmm0");
    else if (!strcmp(op, "cvtss2sil")) SSE("cvtss2si %%xmm0, %%eax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvtss2siq")) SSE("cvtss2si %%xmm0, %%rax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvttss2sil")) SSE("cvttss2si %%xmm0, %%eax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvttss2siq")) SSE("cvttss2si %%xmm0, %%rax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvtsd2sil")) SSE("cvtsd2si %%xmm0, %%eax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvtsd2siq")) SSE("cvtsd2si %%xmm0, %%rax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvttsd2sil")) SSE("cvttsd2si %%xmm0, %%eax\n\tmovq %%rax, %%xmm0");
    else if (!strcmp(op, "cvttsd2siq")) SSE("cvttsd2si %%xmm0, %%rax\n\tmovq %%rax, %%xmm0");
    else {
      fprintf(stderr, "unknown op %s\n", op);
      return 2;
    }
  }
  return 0;
}
