/*
 * Compiled SIMD code for the x86emu tests: the same functions run natively (main below, with
 * -DNATIVE) and on x86emu (entry stub, freestanding). gcc -O2 -msse4.2 vectorizes the loops
 * (PADD*, PMIN/PMAX, PSADBW, PCMPEQ, PMOVMSKB, PSHUFB, PACK/UNPCK…) and the intrinsics name
 * the SSE4.2 string compares, CRC32 and POPCNT. Built by sse-int-compiled.test.ts.
 */
#include <nmmintrin.h>
#include <stdint.h>

#define N 1024

static uint8_t a[N] __attribute__((aligned(16)));
static uint8_t b[N] __attribute__((aligned(16)));
static int16_t w[N] __attribute__((aligned(16)));
static int32_t d[N] __attribute__((aligned(16)));

static uint32_t rng = 12345;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* out[0..k): the results, as 64-bit words. */
void run(uint64_t *out) {
  for (int i = 0; i < N; i++) {
    uint32_t r = next();
    a[i] = (uint8_t)r;
    b[i] = (uint8_t)(r >> 8);
    w[i] = (int16_t)(r >> 12);
    d[i] = (int32_t)next();
  }
  int k = 0;
  /* Vectorized loops. */
  uint32_t sum = 0;
  for (int i = 0; i < N; i++) sum += a[i];
  out[k++] = sum;
  uint32_t sad = 0;
  for (int i = 0; i < N; i++) sad += (uint32_t)(a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]);
  out[k++] = sad;
  uint8_t mn = 255, mx = 0;
  for (int i = 0; i < N; i++) {
    mn = a[i] < mn ? a[i] : mn;
    mx = b[i] > mx ? b[i] : mx;
  }
  out[k++] = mn | (mx << 8);
  int32_t smin = 0x7fffffff, smax = -0x7fffffff - 1;
  for (int i = 0; i < N; i++) {
    smin = d[i] < smin ? d[i] : smin;
    smax = d[i] > smax ? d[i] : smax;
  }
  out[k++] = (uint32_t)smin | ((uint64_t)(uint32_t)smax << 32);
  int64_t dot = 0;
  for (int i = 0; i < N; i++) dot += (int32_t)w[i] * (int32_t)w[(i * 7) & (N - 1)];
  out[k++] = (uint64_t)dot;
  for (int i = 0; i < N; i++) a[i] = (uint8_t)(a[i] + b[i] > 255 ? 255 : a[i] + b[i]);
  uint64_t h = 0;
  for (int i = 0; i < N; i += 8) h = h * 31 + *(uint64_t *)&a[i];
  out[k++] = h;
  int64_t s64 = 0;
  for (int i = 0; i < N; i++) s64 += (int64_t)d[i] * 3 - (d[i] >> 3);
  out[k++] = (uint64_t)s64;
  int cnt = 0;
  for (int i = 0; i < N; i++) cnt += a[i] == b[i];
  out[k++] = cnt;
  /* Intrinsics. */
  __m128i x = _mm_load_si128((const __m128i *)a);
  __m128i y = _mm_load_si128((const __m128i *)b);
  __m128i z = _mm_shuffle_epi8(x, y);
  z = _mm_add_epi16(z, _mm_maddubs_epi16(x, y));
  z = _mm_packus_epi16(z, _mm_hadd_epi16(x, y));
  z = _mm_alignr_epi8(z, x, 5);
  z = _mm_max_epi32(z, _mm_cvtepi8_epi32(y));
  z = _mm_mullo_epi32(z, _mm_sign_epi16(x, y));
  out[k++] = (uint64_t)_mm_extract_epi64(z, 0);
  out[k++] = (uint64_t)_mm_extract_epi64(z, 1);
  out[k++] = (uint64_t)_mm_movemask_epi8(_mm_cmpgt_epi64(x, y));
  out[k++] = (uint64_t)_mm_minpos_epu16(x)[0];
  out[k++] = _mm_testz_si128(x, y) | (_mm_testc_si128(x, y) << 1);
  /* A string: letters with a NUL. */
  char str[64] __attribute__((aligned(16)));
  for (int i = 0; i < 63; i++) str[i] = 'a' + (char)(next() % 26);
  str[47] = 0;
  str[63] = 0;
  const __m128i vowels = _mm_setr_epi8('a', 'e', 'i', 'o', 'u', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  uint64_t found = 0;
  for (int i = 0; i < 48; i += 16) {
    __m128i s = _mm_load_si128((const __m128i *)(str + i));
    found = found * 17 + (uint64_t)_mm_cmpistri(vowels, s, _SIDD_CMP_EQUAL_ANY | _SIDD_UBYTE_OPS);
    found = found * 17 + (uint64_t)_mm_cmpistrc(vowels, s, _SIDD_CMP_EQUAL_ANY | _SIDD_UBYTE_OPS);
    __m128i m = _mm_cmpistrm(s, s, _SIDD_CMP_EQUAL_EACH | _SIDD_NEGATIVE_POLARITY | _SIDD_UNIT_MASK);
    found = found * 17 + (uint64_t)_mm_extract_epi32(m, 1);
  }
  out[k++] = found;
  const __m128i range = _mm_setr_epi8('d', 'k', 'p', 'r', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  out[k++] = (uint64_t)_mm_cmpestri(range, 4, _mm_loadu_si128((const __m128i *)(str + 3)), 16,
                                    _SIDD_CMP_RANGES | _SIDD_MOST_SIGNIFICANT);
  uint64_t crc = 0xffffffff;
  for (int i = 0; i < N; i += 8) crc = _mm_crc32_u64(crc, *(uint64_t *)&b[i]);
  for (int i = 0; i < 7; i++) crc = _mm_crc32_u8((uint32_t)crc, a[i]);
  crc = _mm_crc32_u16((uint32_t)crc, 0x1234);
  crc = _mm_crc32_u32((uint32_t)crc, 0xdeadbeef);
  out[k++] = crc;
  uint64_t pc = 0;
  for (int i = 0; i < N; i++) pc += (uint64_t)__builtin_popcountll((uint64_t)d[i] * 0x9e3779b97f4a7c15ull);
  out[k++] = pc;
  out[k++] = 0x5a5a; /* end marker */
}

#ifdef NATIVE
#include <stdio.h>
int main(void) {
  uint64_t out[32] = {0};
  run(out);
  for (int i = 0; i < 32; i++) printf("%016llx\n", (unsigned long long)out[i]);
  return 0;
}
#endif
