#include "lib.h"
static void ud(ulong a) { __asm__ volatile("ud2"); }
static void bp(ulong a) { __asm__ volatile("int3"); }
static void de(ulong a) { volatile u32 z = 0; volatile u32 x = 5 / z; (void)x; }
static void gp(ulong a) { *(volatile u64 *)0x8000000000000000ull = 1; }
static void pf(ulong a) { *(volatile u64 *)0x200000000ull = 1; }
static void i80(ulong a) { __asm__ volatile("int $0x80"); }
static void rdm(ulong a) { rdmsr(0xbadc0de); }
static u8 ucode[64] __attribute__((aligned(16)));
int main(void) {
  report_begin("long");
  const char *order = "mVUi";
  for (const char *o = order; *o; o++) {
    printf("probe %c\n", *o);
    int v = -2;
    switch (*o) {
      case 'u': v = trap_call(ud, 0); break;
      case 'g': v = trap_call(gp, 0); break;
      case 'p': v = trap_call(pf, 0); break;
      case 'd': v = trap_call(de, 0); break;
      case 'i': v = trap_call(i80, 0); break;
      case 'm': v = trap_call(rdm, 0); break;
      case 'b': v = trap_call(bp, 0); break;
      case 'V': ucode[0] = 0x0f; ucode[1] = 0x0b; v = trap_user((ulong)ucode, USER_STACK_TOP, 1, 2, 3); break;
      case 'U': ucode[0] = 0xcd; ucode[1] = 0x81; v = trap_user((ulong)ucode, USER_STACK_TOP, 1, 2, 3); break;
    }
    printf("probe %c -> %d err %lx cr2 %lx\n", *o, v, (unsigned long)last_trap.error_code, (unsigned long)last_trap.cr2);
  }
  return 0;
}
