/* Processor modes (32-bit build): 16-bit and 32-bit code segments, leaving protected mode for
 * real mode and coming back (SDM Vol. 3 10.9), and real-mode arithmetic, string, stack,
 * segmentation and INT n/IRET through the IVT. The real-mode part is modes-rm.S; it stores its
 * observations, checked here against the values the SDM's instruction pages give. */
#include "lib.h"

#define RM_BASE 0x7000
extern u8 rm_start[], rm_end[], rm_results[];
void rm_run(void);

static u32 res(int i) { return ((volatile u32 *)(RM_BASE + (rm_results - rm_start)))[i]; }

static void pm32_checks(void) {
  /* 32-bit code segment: PUSH moves ESP by 4, with 0x66 by 2. */
  ulong a, b;
  __asm__ volatile("mov %%esp, %0\n push %%eax\n mov %%esp, %1\n pop %%eax" : "=r"(a), "=r"(b)::"eax");
  check_eq(4, a - b, "pm32.push-is-4-bytes");
  __asm__ volatile("mov %%esp, %0\n pushw %%ax\n mov %%esp, %1\n popw %%ax" : "=r"(a), "=r"(b)::"eax");
  check_eq(2, a - b, "pm32.pushw-is-2-bytes");
  check_eq(CR0_PE, read_cr0() & CR0_PE, "pm32.cr0-pe-set");
  u16 cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  check_eq(SEL_CODE32, cs, "pm32.cs-is-code32");
}

int main(void) {
  report_begin("modes");
  pm32_checks();
  memcpy((void *)RM_BASE, rm_start, (size_t)(rm_end - rm_start));
  rm_run();
  pass("realmode.round-trip-returned");
  check_eq(CR0_PE, read_cr0() & CR0_PE, "realmode.back-in-protected-mode");
  check_eq(2, res(0), "pm16.push-is-2-bytes");
  check_eq(4, res(1), "pm16.pushl-is-4-bytes");
  check_eq(0x0000, res(2), "realmode.add16-wraps");
  check_eq(0x55, res(3), "realmode.add16-flags-cf-pf-af-zf");
  check_eq(0x3400, res(4), "realmode.mul16-ax");
  check_eq(0x0012, res(5), "realmode.mul16-dx");
  check_eq(0x1234, res(6), "realmode.div16-quotient");
  check_eq(0x0001, res(7), "realmode.div16-remainder");
  check_eq(0x23456789, res(8), "realmode.add32-with-operand-size-prefix");
  check_eq(0xfffd, res(9), "realmode.sub-sbb-borrow-chain");
  check_eq(0x80, res(10), "realmode.sbb-flags-sf");
  check_eq(0xbeef, res(11), "realmode.segment-times-16-plus-offset");
  check_eq(0, res(12), "realmode.rep-movsb-cx-zero");
  check_eq(0x706f6e6d, res(13), "realmode.rep-movsb-copied");
  check_eq(0xa55a, res(14), "realmode.rep-stosw-filled");
  check_eq(0x6210, res(15), "realmode.rep-stosw-di");
  check_eq(10, res(16), "realmode.repe-cmpsb-stops-at-mismatch");
  check_eq(0x6107, res(17), "realmode.repne-scasb-finds");
  check_eq(0x6261, res(18), "realmode.lodsw");
  extern u8 rm_src[];
  check_eq(RM_BASE + (ulong)(rm_src - rm_start) + 2, res(19), "realmode.lodsw-advances-si");
  check_eq(16, res(20), "realmode.pusha-16-bytes");
  check_eq(0, res(21), "realmode.call-pushes-return-ip");
  check_eq(0, res(22), "realmode.call-ret-balances-sp");
  check_eq(10, res(23), "realmode.enter-8-0");
  check_eq(1, res(24), "realmode.popf-restores-cf");
  check_eq(0x177, res(25), "realmode.int30-through-ivt-and-iret");
  return 0;
}
