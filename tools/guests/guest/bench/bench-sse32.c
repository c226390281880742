/* Benchmark: an SSE2 loop for 32-bit protected mode (paging off), the kind of code compilers and
 * libc emit (issue 18's "SSE loop"). Each iteration: a 4-lane xorshift fills the inputs (PSLLD,
 * PSRLD, PXOR, PAND, CVTDQ2PS, and text bytes with PCMPEQB/PANDN/POR); packed single (MULPS,
 * ADDPS) and double (CVTPS2PD, MULPD, ADDPD) arithmetic; packed integer (MOVDQU, PADDD,
 * PMULUDQ); a strlen over the text (PCMPEQB, PMOVMSKB, BSF, as libc's); conversions (CVTTPS2DQ,
 * CVTSI2SD, CVTTSD2SI); MOVAPS/MOVDQA/MOVDQU loads and stores throughout. iterations=N on the
 * command line, like bench-int32.
 *
 * It enables SSE itself (CR0.EM = 0, CR0.MP = 1, CR4.OSFXSR and OSXMMEXCPT: SDM Vol. 3 13.1.3) and
 * checks every kernel's stored results each iteration against scalar code, over a sixteenth of
 * the data (a different sixteenth each iteration, so the checks cost the same every iteration
 * and cover everything every 16): the float and double values are small integers and halves,
 * exact in IEEE arithmetic, so integer code computes the same numbers; the inexact lanes (a scale
 * by 0.1f) against scalar SSE (MULSS/ADDSS must round each lane the same); the integer lanes, the
 * fill and the string lengths against 32-bit integer and byte loops. A mismatch prints FAIL and
 * leaves with debug-exit status 1, so a wrong engine fails the bench instead of giving a number;
 * the checksum printed at the end (of the horizontal sums) is compared across engines, and for
 * iterations=4 with the host CPU's (test/bench-sse32.test.ts).
 *
 * Built with -msse2 -fno-tree-vectorize: the SSE code is the intrinsics' (gcc picks the moves),
 * the scalar checks stay scalar. Kernel-side code (enabling SSE, printing) is general-regs-only. */
#define _MM_MALLOC_H_INCLUDED /* emmintrin.h's mm_malloc.h wants a hosted <stdlib.h> */
#include <emmintrin.h>
#include "lib.h"

#define KERNEL __attribute__((target("general-regs-only")))
#define CR0_EM (1u << 2)
#define CR0_MP (1u << 1)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)

#define ITERATIONS_DEFAULT 4
#define N 1024            /* elements of each array: 32-bit lanes, floats */
#define ND (N / 2)        /* doubles */
#define NTEXT (N * 4)     /* the scanned bytes: the fill's words as bytes */
#define SLICES 16         /* the checks cover N / SLICES elements an iteration */
#define MUL 2654435761u   /* the PMULUDQ multiplier */

static u32 ia[N + 4] __attribute__((aligned(16)));  /* the xorshift stream (4 lanes) */
static float fa[N] __attribute__((aligned(16)));    /* ia & 255 */
static float fb[N] __attribute__((aligned(16)));    /* (ia >> 8) & 15 */
static float fp[N] __attribute__((aligned(16)));    /* fa * fb */
static float fs[N] __attribute__((aligned(16)));    /* fa * 0.1f + fb */
static double da[ND] __attribute__((aligned(16)));  /* fa * 0.5 + fb */
static u32 ib[N] __attribute__((aligned(16)));      /* x = xorshift-ish of ia and ia + 1 */
static u32 ic[N] __attribute__((aligned(16)));      /* x + PMULUDQ's product halves */
static u8 text[NTEXT + 16] __attribute__((aligned(16)));
static u16 starts[NTEXT], lens[NTEXT];
static volatile float v_tenth = 0.1f; /* not folded */

static int failures;
static KERNEL void mismatch(const char *part, int it, int at, u32 got, u32 want) {
  if (failures++ < 8)
    printf("FAIL bench-sse32: %s, iteration %d, element %d: 0x%08x, expected 0x%08x\n", part, it, at, got, want);
}

/* The bits of a single (a register move: -ffreestanding makes a plain memcpy a call). */
static u32 fbits(float f) {
  u32 b;
  __builtin_memcpy(&b, &f, 4);
  return b;
}
static u32 xorshift(u32 x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/* The inputs: four xorshift streams side by side, the floats from their low bits (CVTDQ2PS), and
 * the text from their bytes: a byte whose low 6 bits are 0 is a NUL, any other is made odd. */
static __attribute__((noinline)) void fill(u32 seed) {
  __m128i x = _mm_set_epi32((int)(seed * 4 + 3), (int)(seed * 4 + 2), (int)(seed * 4 + 1), (int)(seed * 4 + 4));
  const __m128i m255 = _mm_set1_epi32(255), m15 = _mm_set1_epi32(15);
  for (int i = 0; i < N; i += 4) {
    x = _mm_xor_si128(x, _mm_slli_epi32(x, 13));
    x = _mm_xor_si128(x, _mm_srli_epi32(x, 17));
    x = _mm_xor_si128(x, _mm_slli_epi32(x, 5));
    _mm_store_si128((__m128i *)&ia[i], x);
    _mm_store_ps(&fa[i], _mm_cvtepi32_ps(_mm_and_si128(x, m255)));
    _mm_store_ps(&fb[i], _mm_cvtepi32_ps(_mm_and_si128(_mm_srli_epi32(x, 8), m15)));
  }
  const __m128i low6 = _mm_set1_epi8(63), one = _mm_set1_epi8(1), zero = _mm_setzero_si128();
  for (int i = 0; i < NTEXT; i += 16) {
    __m128i t = _mm_load_si128((const __m128i *)&ia[i / 4]);
    __m128i nul = _mm_cmpeq_epi8(_mm_and_si128(t, low6), zero);
    _mm_store_si128((__m128i *)&text[i], _mm_andnot_si128(nul, _mm_or_si128(t, one)));
  }
  text[NTEXT - 1] = 0;
}

/* Packed single: fp = fa * fb (exact: < 2^12), fs = fa * 0.1f + fb; returns the products' sum
 * (exact: < 2^24 a lane) through CVTTPS2DQ. */
static __attribute__((noinline)) u32 packed_single(void) {
  __m128 acc = _mm_setzero_ps();
  const __m128 tenth = _mm_set1_ps(v_tenth);
  for (int i = 0; i < N; i += 4) {
    __m128 a = _mm_load_ps(&fa[i]);
    __m128 b = _mm_load_ps(&fb[i]);
    __m128 p = _mm_mul_ps(a, b);
    _mm_store_ps(&fp[i], p);
    acc = _mm_add_ps(acc, p);
    _mm_store_ps(&fs[i], _mm_add_ps(_mm_mul_ps(a, tenth), b));
  }
  __m128i l = _mm_cvttps_epi32(acc);
  l = _mm_add_epi32(l, _mm_shuffle_epi32(l, 0x4e));
  l = _mm_add_epi32(l, _mm_shuffle_epi32(l, 0xb1));
  return (u32)_mm_cvtsi128_si32(l);
}

/* Packed double: da = fa * 0.5 + fb (exact) through CVTPS2PD; returns 2 * their sum (CVTTSD2SI)
 * and the sum of 64 signed 20-bit integers converted by CVTSI2SD (exact). */
static __attribute__((noinline)) u32 packed_double(void) {
  const __m128d half = _mm_set1_pd(0.5);
  __m128d acc = _mm_setzero_pd();
  for (int i = 0; i < ND; i += 2) {
    __m128d a = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)&fa[i])));
    __m128d b = _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)&fb[i])));
    __m128d d = _mm_add_pd(_mm_mul_pd(a, half), b);
    _mm_store_pd(&da[i], d);
    acc = _mm_add_pd(acc, d);
  }
  acc = _mm_add_sd(acc, _mm_unpackhi_pd(acc, acc));
  u32 r = (u32)_mm_cvttsd_si32(_mm_mul_sd(acc, _mm_set_sd(2.0)));
  double s = 0;
  for (int i = 0; i < 64; i++) s += (double)((int)(ia[i] << 12) >> 12);
  return r ^ ((u32)_mm_cvttsd_si32(_mm_set_sd(s)) << 1);
}

/* Packed integer: ib = (ia ^ ia << 13) ^ … >> 17, plus ia one element on (MOVDQU); ic = ib plus
 * PMULUDQ's 64-bit products of the even lanes by MUL (low half in the even lane, high half in the
 * odd one); returns the XOR of ic's lanes. */
static __attribute__((noinline)) u32 packed_int(void) {
  __m128i acc = _mm_setzero_si128();
  const __m128i mul = _mm_set1_epi32((int)MUL);
  for (int i = 0; i < N; i += 4) {
    __m128i x = _mm_load_si128((const __m128i *)&ia[i]);
    __m128i y = _mm_loadu_si128((const __m128i *)&ia[i + 1]);
    x = _mm_xor_si128(x, _mm_slli_epi32(x, 13));
    x = _mm_xor_si128(x, _mm_srli_epi32(x, 17));
    x = _mm_add_epi32(x, y);
    _mm_store_si128((__m128i *)&ib[i], x);
    __m128i c = _mm_add_epi32(x, _mm_mul_epu32(x, mul));
    _mm_store_si128((__m128i *)&ic[i], c);
    acc = _mm_xor_si128(acc, c);
  }
  acc = _mm_xor_si128(acc, _mm_shuffle_epi32(acc, 0x4e));
  acc = _mm_xor_si128(acc, _mm_shuffle_epi32(acc, 0xb1));
  return (u32)_mm_cvtsi128_si32(acc);
}

/* strlen with SSE2 (PCMPEQB against zero, PMOVMSKB, BSF), the first 16 bytes unaligned (MOVDQU),
 * then 16 aligned bytes at a time (MOVDQA), as libc's; each string's start and length recorded.
 * Returns the number of strings and the sum of length times index. */
static __attribute__((noinline)) u32 scan(u32 *count) {
  const __m128i zero = _mm_setzero_si128();
  u32 sum = 0, n = 0;
  const u8 *p = text, *end = text + NTEXT;
  while (p < end) {
    const u8 *q = p;
    u32 m = (u32)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)q), zero));
    if (m == 0) {
      q = (const u8 *)((ulong)(q + 16) & ~(ulong)15);
      for (;;) {
        m = (u32)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128((const __m128i *)q), zero));
        if (m) break;
        q += 16;
      }
    }
    const u8 *z = q + __builtin_ctz(m);
    starts[n] = (u16)(p - text);
    lens[n] = (u16)(z - p);
    sum += (u32)(z - p) * ++n;
    p = z + 1;
  }
  *count = n;
  return sum ^ (n << 20);
}

/* The scalar checks of slice `k` (of SLICES) of every kernel's results. */
static __attribute__((noinline)) void check(int it, int k, u32 strings) {
  const int n = N / SLICES, i0 = k * n;
  const float tenth = v_tenth;
  for (int i = i0; i < i0 + n; i++) {
    const u32 a = ia[i] & 255, b = (ia[i] >> 8) & 15;
    if (i >= 4 && ia[i] != xorshift(ia[i - 4])) mismatch("xorshift lanes (PSLLD/PSRLD/PXOR)", it, i, ia[i], xorshift(ia[i - 4]));
    if (fbits(fa[i]) != fbits((float)(int)a) || fbits(fb[i]) != fbits((float)(int)b))
      mismatch("CVTDQ2PS", it, i, fbits(fa[i]), fbits((float)(int)a));
    if (fbits(fp[i]) != fbits((float)(int)(a * b))) mismatch("MULPS", it, i, fbits(fp[i]), fbits((float)(int)(a * b)));
    const float sc = fa[i] * tenth + fb[i]; /* MULSS, ADDSS */
    if (fbits(fs[i]) != fbits(sc)) mismatch("MULPS/ADDPS by 0.1f", it, i, fbits(fs[i]), fbits(sc));
    const u32 x0 = ia[i] ^ (ia[i] << 13), x = (x0 ^ (x0 >> 17)) + ia[i + 1];
    if (ib[i] != x) mismatch("PADDD/MOVDQU", it, i, ib[i], x);
    const u32 c = (i & 1) ? x + (u32)(((u64)ib[i - 1] * MUL) >> 32) : x + x * MUL;
    if (ic[i] != c) mismatch("PMULUDQ", it, i, ic[i], c);
    for (int j = 4 * i; j < 4 * i + 4 && j < NTEXT - 1; j++) {
      const u8 t = (u8)(ia[j / 4] >> (8 * (j & 3)));
      const u8 want = (t & 63) == 0 ? 0 : (t | 1);
      if (text[j] != want) mismatch("text (PCMPEQB/PANDN/POR)", it, j, text[j], want);
    }
  }
  for (int i = i0 / 2; i < (i0 + n) / 2; i++) {
    const int twice = (int)(da[i] * 2.0); /* CVTTSD2SI */
    const int want = (int)(ia[i] & 255) + 2 * (int)((ia[i] >> 8) & 15);
    if (twice != want) mismatch("CVTPS2PD/MULPD/ADDPD", it, i, (u32)twice, (u32)want);
  }
  for (u32 s = (u32)k; s < strings; s += SLICES) {
    const u8 *p = text + starts[s];
    u32 len = 0;
    while (p[len]) len++;
    if (len != lens[s] || (s + 1 < strings && starts[s + 1] != starts[s] + len + 1))
      mismatch("PCMPEQB/PMOVMSKB strlen", it, (int)s, lens[s], len);
  }
}

static __attribute__((noinline)) u32 iteration(int it) {
  fill(0x9e3779b9u * (u32)(it + 1));
  u32 strings;
  u32 r = packed_single();
  r ^= packed_double() * 3;
  r ^= packed_int() * 5;
  r ^= scan(&strings) * 7;
  check(it, it % SLICES, strings);
  return r;
}

KERNEL int main(void) {
  write_cr0((read_cr0() & ~(ulong)CR0_EM) | CR0_MP);
  write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
  const int iterations = (int)cmdline_u32("iterations", ITERATIONS_DEFAULT);
  u32 acc = 0, crc = 0xffffffff;
  for (int it = 0; it < iterations; it++) {
    u32 r = iteration(it);
    acc += r;
    crc = (crc ^ r) * 2246822519u;
  }
  printf("bench-sse32: iterations=%d checksum=0x%08x%08x\n", iterations, acc, crc);
  debug_exit(failures ? 1 : 0);
}
