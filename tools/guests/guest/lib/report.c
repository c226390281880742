/* The report format every guest prints, which the runner (src/report.ts) parses:
 *   GUEST <name>
 *   PASS <check>
 *   FAIL <check>: expected <x> got <y>
 *   SKIP <check>: <why>
 *   SUMMARY <guest>: <p> passed, <f> failed, <s> skipped
 * then the failure count (capped at 255) goes to the debug-exit port 0xf4: the VMM exits with
 * status (v << 1) | 1, so 1 means all passed (QEMU's isa-debug-exit convention). */
#include "lib.h"

static const char *guest_name = "guest";
static int n_pass, n_fail, n_skip;

void report_begin(const char *guest) {
  guest_name = guest;
  printf("GUEST %s\n", guest);
}

static void line(const char *tag, const char *detail, const char *fmt, va_list ap) {
  char name[160];
  vsnprintf(name, sizeof name, fmt, ap);
  if (detail)
    printf("%s %s: %s\n", tag, name, detail);
  else
    printf("%s %s\n", tag, name);
}

void pass(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line("PASS", 0, fmt, ap);
  va_end(ap);
  n_pass++;
}

void fail(const char *detail, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line("FAIL", detail, fmt, ap);
  va_end(ap);
  n_fail++;
}

void skip(const char *why, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line("SKIP", why, fmt, ap);
  va_end(ap);
  n_skip++;
}

int report(int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line(ok ? "PASS" : "FAIL", ok ? 0 : "expected true got false", fmt, ap);
  va_end(ap);
  if (ok)
    n_pass++;
  else
    n_fail++;
  return ok;
}

int check_eq(u64 expected, u64 got, const char *fmt, ...) {
  char detail[64];
  int ok = expected == got;
  if (!ok) snprintf(detail, sizeof detail, "expected 0x%llx got 0x%llx", expected, got);
  va_list ap;
  va_start(ap, fmt);
  line(ok ? "PASS" : "FAIL", ok ? 0 : detail, fmt, ap);
  va_end(ap);
  if (ok)
    n_pass++;
  else
    n_fail++;
  return ok;
}

int report_failures(void) { return n_fail; }

void debug_exit(u8 v) {
  outb(0xf4, v);
  /* A VMM without the debug-exit device: stop here for good. */
  for (;;) __asm__ volatile("cli; hlt");
}

void report_summary(void) {
  printf("SUMMARY %s: %d passed, %d failed, %d skipped\n", guest_name, n_pass, n_fail, n_skip);
}

void report_end(void) {
  report_summary();
  debug_exit((u8)(n_fail > 255 ? 255 : n_fail));
}

/* main() returning ends the guest the same way. */
void guest_exit_main(int rc) {
  (void)rc;
  report_end();
}
