/* The few libc functions gcc may call even with -ffreestanding (memset, memcpy, memcmp). */
#include "lib.h"

/* REP STOS/MOVS: one instruction per call, which also keeps engines that emulate instruction
 * by instruction fast. */
void *memset(void *d, int c, size_t n) {
  void *p = d;
  __asm__ volatile("cld; rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
  return d;
}
void *memcpy(void *d, const void *s, size_t n) {
  void *p = d;
  __asm__ volatile("cld; rep movsb" : "+D"(p), "+S"(s), "+c"(n)::"memory");
  return d;
}
int memcmp(const void *a, const void *b, size_t n) {
  const u8 *p = a, *q = b;
  for (; n; n--, p++, q++)
    if (*p != *q) return *p - *q;
  return 0;
}
size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

/* The command line: multiboot's (Multiboot Spec 3.3: flags bit 2, cmdline at offset 16) or, for a
 * guest a PVH loader entered (pvh-note.S), the hvm_start_info's (magic at 0, cmdline_paddr at 24). */
const char *cmdline(void) {
  if (!mb_info) return "";
  const u32 *info = (const u32 *)(ulong)mb_info;
  if (mb_magic == 0x2BADB002) return (info[0] & 4) && info[4] ? (const char *)(ulong)info[4] : "";
  if (info[0] == XEN_HVM_START_MAGIC && info[6] && !info[7]) return (const char *)(ulong)info[6];
  return "";
}

/* The value of `key=<decimal>` on the command line, or `fallback`. */
u32 cmdline_u32(const char *key, u32 fallback) {
  const char *s = cmdline();
  size_t n = strlen(key);
  for (; *s; s++) {
    if ((s == cmdline() || s[-1] == ' ') && !memcmp(s, key, n) && s[n] == '=') {
      u32 v = 0;
      const char *p = s + n + 1;
      if (*p < '0' || *p > '9') return fallback;
      while (*p >= '0' && *p <= '9') v = v * 10 + (u32)(*p++ - '0');
      return v;
    }
  }
  return fallback;
}
