#include "lib.h"
int main(void) {
  report_begin("cpu");
  struct cpuid c = cpuid(0, 0);
  report(c.a >= 1, "cpuid.max-leaf");
  return 0;
}
