/* A printf subset for reports: %d %i %u %x %X %p %s %c %%, width and the '0' flag, l/ll/z
 * lengths. 64-bit decimal is done by subtraction so 32-bit builds need no libgcc division. */
#include "lib.h"

struct out {
  char *buf;
  size_t n, len;
};

static void put(struct out *o, char c) {
  if (o->len + 1 < o->n) o->buf[o->len] = c;
  o->len++;
}

static const u64 pow10[] = {
    10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull, 10000000000000000ull,
    1000000000000000ull,     100000000000000ull,     10000000000000ull,     1000000000000ull,
    100000000000ull,         10000000000ull,         1000000000ull,         100000000ull,
    10000000ull,             1000000ull,             100000ull,             10000ull,
    1000ull,                 100ull,                 10ull,                 1ull};

static int fmt_dec(char *tmp, u64 v) {
  int n = 0;
  for (unsigned i = 0; i < ARRAY_SIZE(pow10); i++) {
    int d = 0;
    while (v >= pow10[i]) {
      v -= pow10[i];
      d++;
    }
    if (d || n || i == ARRAY_SIZE(pow10) - 1) tmp[n++] = (char)('0' + d);
  }
  return n;
}

static int fmt_hex(char *tmp, u64 v, int upper) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char rev[16];
  int n = 0;
  do {
    rev[n++] = digits[v & 15];
    v >>= 4;
  } while (v);
  for (int i = 0; i < n; i++) tmp[i] = rev[n - 1 - i];
  return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct out o = {buf, size, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int width = 0, lng = 0;
    if (*fmt == '0') {
      pad = '0';
      fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z') {
      lng += *fmt == 'z' ? (sizeof(size_t) == 8 ? 2 : 1) : 1;
      fmt++;
    }
    char tmp[24];
    int n = 0, neg = 0;
    const char *s = tmp;
    u64 v;
    switch (*fmt) {
      case 'd':
      case 'i': {
        int64_t sv = lng >= 2 ? va_arg(ap, long long) : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
        neg = sv < 0;
        n = fmt_dec(tmp, neg ? (u64)-sv : (u64)sv);
        break;
      }
      case 'u':
      case 'x':
      case 'X':
        v = lng >= 2 ? va_arg(ap, unsigned long long) : lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
        n = *fmt == 'u' ? fmt_dec(tmp, v) : fmt_hex(tmp, v, *fmt == 'X');
        break;
      case 'p':
        v = (ulong)va_arg(ap, void *);
        put(&o, '0');
        put(&o, 'x');
        n = fmt_hex(tmp, v, 0);
        break;
      case 's':
        s = va_arg(ap, const char *);
        if (!s) s = "(null)";
        n = (int)strlen(s);
        break;
      case 'c':
        tmp[0] = (char)va_arg(ap, int);
        n = 1;
        break;
      case '%':
        tmp[0] = '%';
        n = 1;
        break;
      default:
        tmp[0] = '?';
        n = 1;
        break;
    }
    if (neg) {
      if (pad == '0') put(&o, '-');
      width--;
    }
    for (int i = n; i < width; i++) put(&o, pad);
    if (neg && pad != '0') put(&o, '-');
    for (int i = 0; i < n; i++) put(&o, s[i]);
  }
  if (o.n) o.buf[o.len < o.n ? o.len : o.n - 1] = 0;
  return (int)o.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, n, fmt, ap);
  va_end(ap);
  return r;
}

int printf(const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int r = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  puts_raw(buf);
  return r;
}
