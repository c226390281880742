/* A triple fault ends in a shutdown (SDM Vol. 3 6.15, #DF: "if another exception occurs while
 * the processor is trying to call the #DF handler, it enters shutdown mode"). The IDT limit
 * is made 0, so #UD cannot be delivered (#GP), nor can that (#DF), nor that: shutdown. The
 * VMM reports a shutdown exit; this guest never writes to the debug-exit port. */
#include "lib.h"

int main(void) {
  report_begin("triplefault");
  pass("triplefault.before");
  printf("triplefault: loading an empty IDT and executing ud2\n");
  static const struct {
    u16 limit;
    ulong base;
  } __attribute__((packed)) empty = {0, 0};
  __asm__ volatile("lidt %0\n ud2" ::"m"(empty));
  fail("expected a shutdown got execution after ud2", "triplefault.shutdown");
  return 0;
}
