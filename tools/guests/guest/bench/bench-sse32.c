/* Benchmark: an SSE2 loop for 32-bit protected mode (paging off), the kind of code compilers and
 * libc emit (issue 18's "SSE loop"): packed single and double arithmetic (MULPS/ADDPS,
 * MULPD/ADDPD), packed integer (PADDD, PSLLD/PSRLD, PXOR, PMULUDQ), a strlen-style scan (PCMPEQB,
 * PMOVMSKB, BSF), MOVAPS/MOVDQA/MOVDQU loads and stores, and conversions (CVTSI2SD, CVTTSD2SI,
 * CVTDQ2PS). iterations=N on the command line, like bench-int32.
 *
 * It enables SSE itself (CR0.EM = 0, CR0.MP = 1, CR4.OSFXSR and OSXMMEXCPT: SDM Vol. 3 13.1.3) and
 * checks every part against a scalar version each iteration: the packed float and double sums
 * hold small integers and halves (exact in IEEE arithmetic, so the integer code computes the same
 * numbers), the inexact part (a scale by 0.1f) against scalar SSE (MULSS/ADDSS, which must round
 * each lane the same), the integer lanes against 32-bit integer code, the scan against a byte
 * loop. A mismatch prints FAIL and leaves with debug-exit status 1, so a wrong engine fails the
 * bench instead of giving a number; the checksum printed at the end is compared across engines.
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
#define NF 1024   /* floats in each packed-single array */
#define ND 512    /* doubles */
#define NI 1024   /* 32-bit integer lanes */
#define NTEXT 4096 /* the scanned bytes */

static float fa[NF] __attribute__((aligned(16)));
static float fb[NF] __attribute__((aligned(16)));
static float fs[NF] __attribute__((aligned(16))); /* packed 0.1f scale results */
static double da[ND] __attribute__((aligned(16)));
static u32 ia[NI + 4] __attribute__((aligned(16)));
static u8 text[NTEXT + 32] __attribute__((aligned(16)));
static volatile float v_tenth = 0.1f; /* not folded */

static int failures;
static KERNEL void mismatch(const char *part, int it, u32 got, u32 want) {
  if (failures++ < 8) printf("FAIL bench-sse32: %s iteration %d: 0x%08x, expected 0x%08x\n", part, it, got, want);
}

static u32 fbits(float f) {
  u32 b;
  memcpy(&b, &f, 4);
  return b;
}

/* The inputs of one iteration: small integers (exact as floats) from an xorshift. */
static __attribute__((noinline)) void fill(u32 seed) {
  u32 x = seed | 1;
  for (int i = 0; i < NF; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    fa[i] = (float)(int)(x & 255);
    fb[i] = (float)(int)((x >> 8) & 15);
  }
  for (int i = 0; i < NI; i++) ia[i] = x = x * 1664525u + 1013904223u;
  /* Text: printable bytes with a NUL every 1..64 bytes (the scan finds each string's length). */
  for (int i = 0; i < NTEXT; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    text[i] = (x & 63) == 0 ? 0 : (u8)(0x20 + (x >> 24) % 95);
  }
  text[NTEXT - 1] = 0;
}

/* Packed single: sum of fa*fb (exact: products < 2^12, sums < 2^24) and fs = fa*0.1f + fb. */
static __attribute__((noinline)) u32 packed_single(void) {
  __m128 acc = _mm_setzero_ps();
  const __m128 tenth = _mm_set1_ps(v_tenth);
  for (int i = 0; i < NF; i += 4) {
    __m128 a = _mm_load_ps(&fa[i]);
    __m128 b = _mm_load_ps(&fb[i]);
    acc = _mm_add_ps(acc, _mm_mul_ps(a, b));
    _mm_store_ps(&fs[i], _mm_add_ps(_mm_mul_ps(a, tenth), b));
  }
  /* The four lanes' sum as an integer (CVTTPS2DQ), each lane < 2^22. */
  __m128i l = _mm_cvttps_epi32(acc);
  l = _mm_add_epi32(l, _mm_shuffle_epi32(l, 0x4e));
  l = _mm_add_epi32(l, _mm_shuffle_epi32(l, 0xb1));
  return (u32)_mm_cvtsi128_si32(l);
}

/* Packed double: da = fa*0.5 + fb (halves: exact) via CVTPS2PD, then sum da*2 back as an integer
 * (CVTTSD2SI); and CVTSI2SD of integer lanes summed. */
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
  /* CVTSI2SD of 64 signed integers (their low 20 bits, signed), summed in double: exact. */
  double s = 0;
  for (int i = 0; i < 64; i++) s += (double)((int)(ia[i] << 12) >> 12);
  return r ^ ((u32)_mm_cvttsd_si32(_mm_set_sd(s)) << 1);
}

/* Packed integer: an xorshift on four lanes at a time over ia (PSLLD, PSRLD, PXOR, PADDD) and a
 * PMULUDQ mix of even lanes; unaligned loads (MOVDQU) at ia + 1. Returns the lanes' XOR. */
static __attribute__((noinline)) u32 packed_int(void) {
  __m128i acc = _mm_setzero_si128();
  __m128i mul = _mm_set1_epi32((int)2654435761u);
  for (int i = 0; i < NI; i += 4) {
    __m128i x = _mm_load_si128((const __m128i *)&ia[i]);
    __m128i y = _mm_loadu_si128((const __m128i *)&ia[i + 1]);
    x = _mm_xor_si128(x, _mm_slli_epi32(x, 13));
    x = _mm_xor_si128(x, _mm_srli_epi32(x, 17));
    x = _mm_add_epi32(x, y);
    __m128i p = _mm_mul_epu32(x, mul); /* lanes 0 and 2: 64-bit products */
    acc = _mm_xor_si128(acc, _mm_add_epi32(x, p));
    _mm_storeu_si128((__m128i *)&ia[i], x);
  }
  acc = _mm_xor_si128(acc, _mm_shuffle_epi32(acc, 0x4e));
  acc = _mm_xor_si128(acc, _mm_shuffle_epi32(acc, 0xb1));
  return (u32)_mm_cvtsi128_si32(acc);
}

/* strlen with SSE2 (PCMPEQB against zero, PMOVMSKB, BSF), 16 aligned bytes at a time after the
 * first, as libc's; summed over every string in text: sum of lengths times position parity. */
static __attribute__((noinline)) u32 scan(void) {
  const __m128i zero = _mm_setzero_si128();
  u32 sum = 0, strings = 0;
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
    sum += (u32)(z - p) * (++strings);
    p = z + 1;
  }
  return sum ^ (strings << 20);
}

/* The scalar references. */
static __attribute__((noinline)) u32 ref_single(void) {
  int s[4] = {0, 0, 0, 0};
  for (int i = 0; i < NF; i++) s[i & 3] += (int)fa[i] * (int)fb[i];
  return (u32)(s[0] + s[1] + s[2] + s[3]);
}
static __attribute__((noinline)) u32 ref_scale(int *bad) {
  /* Scalar SSE (MULSS, ADDSS): the same rounding per lane as the packed forms. */
  u32 h = 0;
  for (int i = 0; i < NF; i++) {
    float r = fa[i] * v_tenth + fb[i];
    if (fbits(r) != fbits(fs[i])) *bad = i + 1;
    h = (h ^ fbits(r)) * 16777619u;
  }
  return h;
}
static __attribute__((noinline)) u32 ref_double(void) {
  int twice = 0; /* 2 * (fa*0.5 + fb) = fa + 2*fb */
  for (int i = 0; i < ND; i++) twice += (int)fa[i] + 2 * (int)fb[i];
  int s = 0;
  for (int i = 0; i < 64; i++) s += (int)(ia[i] << 12) >> 12;
  return (u32)twice ^ ((u32)s << 1);
}
static __attribute__((noinline)) u32 ref_int(u32 *out) {
  u32 acc[4] = {0, 0, 0, 0};
  for (int i = 0; i < NI; i += 4) {
    for (int l = 0; l < 4; l++) {
      u32 x = ia[i + l];
      x ^= x << 13;
      x ^= x >> 17;
      x += ia[i + l + 1];
      u32 p = (l & 1) ? 0 : (u32)((u64)x * 2654435761u);
      u32 ph = (l & 1) ? (u32)(((u64)out[l - 1] * 2654435761u) >> 32) : 0;
      out[l] = x;
      acc[l] ^= x + (l & 1 ? ph : p);
    }
    for (int l = 0; l < 4; l++) ia[i + l] = out[l];
  }
  return acc[0] ^ acc[1] ^ acc[2] ^ acc[3];
}
static __attribute__((noinline)) u32 ref_scan(void) {
  u32 sum = 0, strings = 0;
  const u8 *p = text, *end = text + NTEXT;
  while (p < end) {
    const u8 *z = p;
    while (*z) z++;
    sum += (u32)(z - p) * (++strings);
    p = z + 1;
  }
  return sum ^ (strings << 20);
}

static u32 ia_copy[NI + 4], ia_simd[NI + 4];

static __attribute__((noinline)) u32 iteration(int it) {
  fill(0x9e3779b9u * (u32)(it + 1));
  u32 s = packed_single();
  if (s != ref_single()) mismatch("ADDPS/MULPS sum", it, s, ref_single());
  int bad = 0;
  u32 h = ref_scale(&bad);
  if (bad) mismatch("MULPS by 0.1f, lane", it, fbits(fs[bad - 1]), bad - 1);
  u32 d = packed_double();
  if (d != ref_double()) mismatch("ADDPD/MULPD/CVT sum", it, d, ref_double());
  memcpy(ia_copy, ia, sizeof ia);
  u32 v = packed_int();
  /* The reference runs on the copy taken before packed_int rewrote ia, and must leave the same. */
  u32 lanes[4];
  memcpy(ia_simd, ia, sizeof ia);
  memcpy(ia, ia_copy, sizeof ia);
  u32 w = ref_int(lanes);
  if (memcmp(ia_simd, ia, sizeof ia) != 0) mismatch("PADDD/PXOR/shift lanes", it, ia_simd[0], ia[0]);
  if (v != w) mismatch("PMULUDQ mix", it, v, w);
  u32 t = scan();
  if (t != ref_scan()) mismatch("PCMPEQB/PMOVMSKB scan", it, t, ref_scan());
  return s ^ (h * 3) ^ (d * 5) ^ (v * 7) ^ (t * 11);
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
