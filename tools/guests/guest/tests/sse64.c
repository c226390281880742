/* SSE through SSE4.2 as compiled code uses it (issue 11): this file is built with -O2 -msse4.2,
 * so gcc itself picks SSE2 arithmetic, conversions and moves; intrinsics add SSE3/SSE4.1
 * (HADDPD, ROUNDSD, DPPS, BLENDVPS) and SSE4.2 (PCMPISTRI, CRC32). The work runs at CPL 3 (on
 * kvm-pvm that is the real CPU; CPL 0 would be KVM's instruction emulator) and writes its text
 * and its checks to memory; CPL 0 prints them. Every engine must print the same bytes: doubles
 * are formatted here digit by digit with SSE arithmetic, so a wrong last bit shows. Checks
 * compare with values gcc folded at compile time (correctly rounded, as the hardware must be).
 * Kernel-side functions are general-regs-only: no SSE at CPL 0. */
#include <nmmintrin.h>
#include "lib.h"

#define KERNEL __attribute__((target("general-regs-only")))
#define CR0_EM (1u << 2)
#define CR0_MP (1u << 1)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define XM 19

static char text[8192];
static unsigned textn;
static struct {
  const char *name;
  u64 expected, got;
} res[96];
static unsigned nres;
static u8 ustack[16384] __attribute__((aligned(16)));
/* Inputs the compiler cannot fold (it would compute the results itself otherwise). */
static volatile double v_two = 2.0, v_three = 3.0, v_one = 1.0, v_tiny = 0x1p-1000, v_neg = -2.5;
static volatile float vf_two = 2.0f, vf_ten = 10.0f;
static volatile u32 v_mxcsr;

static u64 bits(double d) {
  u64 b;
  memcpy(&b, &d, 8);
  return b;
}
static u32 fbits(float f) {
  u32 b;
  memcpy(&b, &f, 4);
  return b;
}
static void put(const char *s) {
  while (*s && textn < sizeof text - 1) text[textn++] = *s++;
}
static void check(const char *name, u64 expected, u64 got) {
  if (nres < ARRAY_SIZE(res)) res[nres++] = (typeof(res[0])){name, expected, got};
}

/* A double in decimal with `digits` fraction digits, by SSE arithmetic (truncating, so every
 * digit depends on every bit), plus its bit pattern. */
static void put_double(const char *label, double d, int digits) {
  char buf[96];
  unsigned n = 0;
  u64 b = bits(d);
  if (d != d) {
    put(label);
    snprintf(buf, sizeof buf, " = nan (%llx)\n", (unsigned long long)b);
    put(buf);
    return;
  }
  if (d < 0) {
    buf[n++] = '-';
    d = -d;
  }
  double ip = __builtin_floor(d); /* ROUNDSD (SSE4.1) */
  u64 i = (u64)ip;                /* CVTTSD2SI with REX.W (and the 2^63 fix-up) */
  char tmp[24];
  int t = 0;
  do tmp[t++] = (char)('0' + i % 10), i /= 10;
  while (i);
  while (t) buf[n++] = tmp[--t];
  buf[n++] = '.';
  double f = d - ip;
  for (int k = 0; k < digits; k++) {
    f *= 10.0;
    int dgt = (int)f; /* CVTTSD2SI */
    buf[n++] = (char)('0' + dgt);
    f -= dgt; /* CVTSI2SD, SUBSD */
  }
  buf[n] = 0;
  put(label);
  put(" = ");
  put(buf);
  snprintf(buf, sizeof buf, " (%llx)\n", (unsigned long long)b);
  put(buf);
}

/* LDMXCSR as a volatile asm: gcc's _mm_setcsr lets it move arithmetic across the write. */
static void set_mxcsr(u32 m) { __asm__ volatile("ldmxcsr %0" ::"m"(m) : "memory"); }
/* Forces `d` to be computed here, before the next volatile asm (the next MXCSR write). */
#define DONE(d) __asm__ volatile("" : "+x"(d))

/* Text: PCMPISTRI for strlen and strchr, CRC32C over bytes, dwords and quadwords. */
static void strings(void) {
  static const char msg[64] __attribute__((aligned(16))) = "The quick brown fox jumps over the lazy dog";
  unsigned len = 0;
  /* c against itself, EQUAL_EACH with masked negative polarity: 0 for every byte before the
   * NUL, 1 from it on (both invalid compare equal), so the index is the length in this chunk. */
  for (;; len += 16) {
    __m128i c = _mm_load_si128((const __m128i *)(msg + len));
    int k = _mm_cmpistri(c, c, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_EACH | _SIDD_MASKED_NEGATIVE_POLARITY);
    if (k < 16) {
      len += (unsigned)k;
      break;
    }
  }
  check("pcmpistri.strlen", 43, len);
  const __m128i set = _mm_setr_epi8('x', 'z', 'y', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  int at = -1;
  for (unsigned o = 0; o < 48 && at < 0; o += 16) {
    int k = _mm_cmpistri(set, _mm_load_si128((const __m128i *)(msg + o)), _SIDD_CMP_EQUAL_ANY);
    if (k < 16) at = (int)(o + (unsigned)k);
  }
  check("pcmpistri.strpbrk-xyz", 18, (u64)at); /* the 'x' of "fox" */
  u32 c8 = ~0u;
  for (const char *p = "123456789"; *p; p++) c8 = _mm_crc32_u8(c8, (u8)*p);
  check("crc32c.bytes", 0xe3069283, ~c8);
  u64 c64 = ~0u;
  u64 q;
  for (unsigned o = 0; o < 40; o += 8) {
    memcpy(&q, msg + o, 8);
    c64 = _mm_crc32_u64(c64, q);
  }
  u32 c32 = ~0u, dw;
  for (unsigned o = 0; o < 40; o += 4) {
    memcpy(&dw, msg + o, 4);
    c32 = _mm_crc32_u32(c32, dw);
  }
  check("crc32c.quadwords-equal-dwords", c32, (u32)c64);
  char buf[64];
  snprintf(buf, sizeof buf, "strlen %u, crc32c %x\n", len, ~c32);
  put(buf);
}

/* Scalar and packed double/float arithmetic, as gcc compiles C. */
static void arithmetic(void) {
  double third = v_one / v_three;
  check("divsd.one-third", bits(1.0 / 3.0), bits(third));
  check("sqrtsd.two", bits(1.4142135623730951), bits(__builtin_sqrt(v_two)));
  check("sqrtss.two", fbits(1.41421356f), fbits(__builtin_sqrtf(vf_two)));
  check("divss.one-tenth", fbits(0.1f), fbits(1.0f / vf_ten));
  check("cvtss2sd.one-tenth", bits((double)0.1f), bits((double)(1.0f / vf_ten)));
  check("cvtsd2ss.one-third", fbits((float)(1.0 / 3.0)), fbits((float)third));
  check("cvttsd2si.neg-2.5", (u64)-2, (u64)(long)v_neg);
  check("cvtsd2si.neg-2.5-ties-even", (u64)-2, (u64)_mm_cvtsd_si64(_mm_set_sd(v_neg)));
  check("cvtsi2sd.2^53+1", bits(9007199254740992.0), bits((double)(long)(v_two * 4503599627370496.0 + v_one)));
  check("roundsd.floor", bits(-3.0), bits(__builtin_floor(v_neg)));
  check("roundsd.ceil", bits(-2.0), bits(__builtin_ceil(v_neg)));
  check("mulsd.underflow-to-zero", 0, bits(v_tiny * v_tiny));
  check("divsd.zero-by-zero-default-nan", 0xfff8000000000000ull, bits((v_one - v_one) / (v_one - v_one)));
  double h = 0, e = 1, fact = 1, pi = 0;
  for (int k = 1; k <= 1000; k++) h += v_one / k;
  for (int k = 1; k < 20; k++) {
    fact *= k;
    e += v_one / fact;
  }
  /* Machin: pi = 16 atan(1/5) - 4 atan(1/239). */
  for (int k = 0; k < 30; k++) {
    double s = (k & 1) ? -1.0 : 1.0;
    double p5 = 1, p239 = 1;
    for (int j = 0; j < 2 * k + 1; j++) p5 *= 5.0, p239 *= 239.0;
    pi += s * (16.0 / ((2 * k + 1) * p5) - 4.0 / ((2 * k + 1) * p239));
  }
  put_double("harmonic(1000)", h, 16);
  put_double("e", e, 16);
  put_double("pi", pi, 16);
  put_double("sqrt(3)", __builtin_sqrt(v_three), 17);
  put_double("1/3", third, 17);
  put_double("2^-1000", v_tiny, 3);
  put_double("0/0", (v_one - v_one) / (v_one - v_one), 0);
  float sf = 0;
  for (int k = 1; k <= 100; k++) sf += 1.0f / (float)(k * k);
  put_double("sum 1/k^2 (float)", sf, 9);
}

/* SSE3 and SSE4.1 through intrinsics: HADDPD, ADDSUBPS, DPPS, BLENDVPS, ROUNDPS. */
static void vectors(void) {
  __m128d a = _mm_set_pd(v_three, v_one);
  __m128d s = _mm_hadd_pd(a, a);
  check("haddpd", bits(4.0), bits(_mm_cvtsd_f64(s)));
  __m128 x = _mm_set_ps(4.0f, 3.0f, vf_two, 1.0f);
  __m128 y = _mm_set_ps(0.5f, 0.25f, vf_ten, 8.0f);
  check("dpps.all", fbits(8.0f + 20.0f + 0.75f + 2.0f), fbits(_mm_cvtss_f32(_mm_dp_ps(x, y, 0xf1))));
  __m128 as = _mm_addsub_ps(x, y);
  check("addsubps.lane0", fbits(1.0f - 8.0f), fbits(_mm_cvtss_f32(as)));
  __m128 b = _mm_blendv_ps(x, y, _mm_set_ps(-1.0f, 1.0f, -1.0f, 1.0f));
  check("blendvps.lane1", fbits(10.0f), fbits(_mm_cvtss_f32(_mm_shuffle_ps(b, b, 1))));
  __m128 r = _mm_round_ps(_mm_set_ps(-1.5f, 2.5f, -0.5f, 0.5f), _MM_FROUND_TO_NEAREST_INT);
  float rv[4];
  _mm_storeu_ps(rv, r);
  check("roundps.ties-even", 0x80000000u | 0x40000000u, fbits(rv[1]) | fbits(rv[2]));
  float m = 0;
  for (int k = 0; k < 64; k++) m += rv[k & 3] * (float)k;
  put_double("roundps sum", m, 2);
}

/* Rounding modes, FTZ and DAZ through MXCSR. */
static void modes(void) {
  static const char *names[] = {"nearest", "down", "up", "zero"};
  static const char *checks[] = {"mxcsr.rc-nearest.1/3", "mxcsr.rc-down.1/3", "mxcsr.rc-up.1/3",
                                 "mxcsr.rc-zero.1/3"};
  static const u64 expect[] = {0x3fd5555555555555ull, 0x3fd5555555555555ull, 0x3fd5555555555556ull,
                               0x3fd5555555555555ull};
  for (u32 rc = 0; rc < 4; rc++) {
    set_mxcsr(0x1f80 | (rc << 13));
    double q = v_one / v_three;
    double n = -v_one / v_three;
    DONE(q);
    DONE(n);
    set_mxcsr(0x1f80);
    char name[40];
    snprintf(name, sizeof name, "mxcsr.rc-%s", names[rc]);
    check(checks[rc], expect[rc], bits(q));
    put_double(name, n, 17);
  }
  volatile double denorm = 0x1p-1060;
  set_mxcsr(0x1f80 | 0x8000); /* FTZ */
  double ftz = denorm * v_two;
  DONE(ftz);
  set_mxcsr(0x1f80 | 0x40); /* DAZ */
  double daz = denorm + v_one * 0.0;
  DONE(daz);
  set_mxcsr(0x1f80);
  check("mxcsr.ftz-flushes", 0, bits(ftz));
  check("mxcsr.daz-reads-zero", 0, bits(daz));
  double keep = denorm * v_two;
  DONE(keep);
  u32 m;
  __asm__ volatile("stmxcsr %0" : "=m"(m)::"memory");
  v_mxcsr = m;
  check("mxcsr.no-ftz-keeps-denormal", bits(0x1p-1059), bits(keep));
}

void sse_user_main(void) {
  set_mxcsr(0x1f80);
  strings();
  arithmetic();
  vectors();
  modes();
}

/* With ZE unmasked, 1/0 takes #XM: the destination keeps its value, MXCSR records ZE. */
static volatile double xm_result = 7.0;
void sse_user_xm(void) {
  set_mxcsr(0x1f80 & ~(1u << 9));
  double r = v_one / (v_one - v_one);
  DONE(r);
  xm_result = r;
}

/* The CPL-3 parts end in UD2 (as the exceptions guest's do): kvm-pvm turns INT n from CPL 3
 * into #UD, so trap_user's `int $0x81` ending is not portable. */
__asm__(".text\n sse_user_entry: call sse_user_main\n sse_user_done: ud2\n"
        " sse_user_xm_entry: call sse_user_xm\n ud2\n");
extern char sse_user_entry[], sse_user_done[], sse_user_xm_entry[];

KERNEL int main(void) {
  report_begin("sse64");
  write_cr0((read_cr0() & ~(ulong)CR0_EM) | CR0_MP);
  write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
  user_flat_begin();
  int v = trap_user((ulong)sse_user_entry, (ulong)ustack + sizeof ustack, 0, 0, 0);
  if (!check_eq(UD, v, "cpl3.sse-code-runs") || !check_eq((ulong)sse_user_done, last_trap.ip, "cpl3.sse-code-ends"))
    printf("trap %d at %lx, error %lx\n", v, last_trap.ip, last_trap.error_code);
  puts_raw(text);
  for (unsigned k = 0; k < nres; k++) check_eq(res[k].expected, res[k].got, "%s", res[k].name);
  /* The last computation, a denormal times 2 (exact), raised DE only. */
  check_eq(0x1f82, v_mxcsr & 0xffff, "mxcsr.sticky-flags-after-modes");
  v = trap_user((ulong)sse_user_xm_entry, (ulong)ustack + sizeof ustack, 0, 0, 0);
  check_eq(XM, v, "xm.unmasked-divide-by-zero");
  u64 xr;
  memcpy(&xr, (const void *)&xm_result, 8);
  check_eq(0x401c000000000000ull, xr, "xm.destination-untouched");
  pg_disable();
  report_end();
}
