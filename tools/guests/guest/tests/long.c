/* Long mode (64-bit build only): the state boot64.S entered it with (SDM Vol. 3 10.8.5), 64-bit
 * code (64-bit operands, REX registers, RIP-relative addressing, zero extension of 32-bit
 * results, 8-byte stack slots), canonical addresses (#GP/#SS on non-canonical ones), 1 GiB
 * pages where CPUID has them, and compatibility mode: a far call into a 32-bit code segment
 * and a far return back. */
#include "lib.h"

extern char compat_code[];
static void noncanon_read(ulong a) { (void)*(volatile u64 *)a; }
static void noncanon_stack(ulong a) {
  __asm__ volatile("mov %%rsp, %%rbx\n mov %0, %%rsp\n push %%rax\n mov %%rbx, %%rsp" ::"r"(a) : "rbx", "memory");
}

/* Compatibility mode code: measures a PUSH (4 bytes in a 32-bit segment) and returns far. */
__asm__(".text\n .code32\n compat_code: mov %esp, %eax\n push %ebx\n mov %esp, %edx\n pop %ebx\n sub %edx, %eax\n"
        " mov %cs, %ecx\n lret\n .code64\n");

int main(void) {
  report_begin("long");
  check_eq(EFER_LME | EFER_LMA, rdmsr(MSR_EFER) & (EFER_LME | EFER_LMA), "long.efer-lme-lma");
  check_eq(CR0_PG | CR0_PE, read_cr0() & (CR0_PG | CR0_PE), "long.cr0-pg-pe");
  check_eq(CR4_PAE, read_cr4() & CR4_PAE, "long.cr4-pae");
  u16 cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  check_eq(SEL_CODE64, cs, "long.cs-is-code64");

  /* 64-bit arithmetic. */
  u64 a = 0x123456789abcdef0ull, b = 0x0fedcba987654321ull, lo, hi;
  check_eq(0x2222222222222211ull, a + b, "long.add64");
  __asm__("mulq %3" : "=a"(lo), "=d"(hi) : "a"(a), "r"(b));
  check_eq(0x121fa00ad77d742ull, hi, "long.mul64-high");
  check_eq(0x2236d88fe5618cf0ull, lo, "long.mul64-low");
  u64 q, r;
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "r"(b));
  check_eq(a, q, "long.div128-by-64-quotient");
  check_eq(0, r, "long.div128-by-64-remainder");
  u64 x;
  __asm__("mov $-1, %0\n mov $1, %k0" : "=r"(x));
  check_eq(1, x, "long.32-bit-write-zero-extends");
  __asm__("mov $-1, %0\n mov $1, %w0" : "=r"(x));
  check_eq(0xffffffffffff0001ull, x, "long.16-bit-write-preserves");
  __asm__("movslq %1, %0" : "=r"(x) : "r"(-5));
  check_eq((u64)-5, x, "long.movsxd");
  __asm__("mov $0x1122334455667788, %%r8\n mov $0x99, %%r15\n add %%r15, %%r8\n mov %%r8, %0" : "=r"(x)::"r8", "r15");
  check_eq(0x1122334455667821ull, x, "long.rex-registers-r8-r15");
  ulong rip_rel, abs_addr;
  __asm__("lea compat_code(%%rip), %0\n movabs $compat_code, %1" : "=r"(rip_rel), "=r"(abs_addr));
  check_eq(abs_addr, rip_rel, "long.rip-relative-lea");
  ulong s0, s1;
  __asm__ volatile("mov %%rsp, %0\n push %%rax\n mov %%rsp, %1\n pop %%rax" : "=r"(s0), "=r"(s1)::"rax");
  check_eq(8, s0 - s1, "long.push-is-8-bytes");
  __asm__("mov $0x8000000000000000, %0\n shr $63, %0" : "=r"(x));
  check_eq(1, x, "long.shr64");
  __asm__("bswap %0" : "=r"(x) : "0"(0x0102030405060708ull));
  check_eq(0x0807060504030201ull, x, "long.bswap64");

  /* Canonical addresses: bits 63:47 all equal (4-level, SDM Vol. 1 3.3.7.1). */
  int v = trap_call(noncanon_read, 0x0000800000000000ull);
  check_eq(GP, v, "long.noncanonical-read-gp");
  check_eq(0, last_trap.error_code, "long.noncanonical-read-gp-error-code");
  v = trap_call(noncanon_read, 0xffff7fffffffff00ull);
  check_eq(GP, v, "long.noncanonical-high-read-gp");
  v = trap_call(noncanon_stack, 0x0000800000000010ull);
  check_eq(SS, v, "long.noncanonical-stack-ss");
  check_eq(0, last_trap.error_code, "long.noncanonical-stack-ss-error-code");
  v = trap_call(noncanon_read, 0xffffffff80000000ull);
  check_eq(PF, v, "long.canonical-high-unmapped-pf");
  check_eq(0xffffffff80000000ull, last_trap.cr2, "long.canonical-high-unmapped-cr2");

  /* 1 GiB pages. */
  if ((cpuid(0x80000001, 0).d >> 26) & 1) {
    ulong root = pg_test_root(PG_4LEVEL);
    void *pdpte = pg_entry(PG_4LEVEL, root, TEST_VA, 3);
    if (!pdpte) {
      pg_map(PG_4LEVEL, root, TEST_VA, 0, 4096, PTE_P, 4096);
      pdpte = pg_entry(PG_4LEVEL, root, TEST_VA, 3);
    }
    pg_set(PG_4LEVEL, pdpte, 0 | PTE_P | PTE_W | PTE_PS);
    pg_enable(PG_4LEVEL, root);
    *(volatile u32 *)0x3000000 = 0x1c1c1c1c;
    check_eq(0x1c1c1c1c, *(volatile u32 *)(TEST_VA + 0x3000000), "long.1g-page-read");
    *(volatile u32 *)(TEST_VA + 0x3000004) = 0x2d2d2d2d;
    check_eq(0x2d2d2d2d, *(volatile u32 *)0x3000004, "long.1g-page-write");
    check_eq(PTE_A | PTE_D | PTE_PS, pg_get(PG_4LEVEL, pdpte) & (PTE_A | PTE_D | PTE_PS), "long.1g-page-a-d-set");
    pg_disable();
  } else {
    skip("no 1 GiB pages in CPUID", "long.1g-page");
  }

  /* Compatibility mode: far call through an m16:32 pointer to SEL_CODE32, far return. */
  static struct {
    u32 off;
    u16 sel;
  } __attribute__((packed)) target = {0, SEL_CODE32};
  target.off = (u32)(ulong)compat_code;
  ulong pushed, cs32;
  __asm__ volatile("lcall *%2" : "=a"(pushed), "=c"(cs32) : "m"(target) : "rdx", "rbx", "memory");
  check_eq(4, pushed & 0xffffffff, "long.compat-mode-push-is-4-bytes");
  check_eq(SEL_CODE32, cs32 & 0xffff, "long.compat-mode-cs");
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  check_eq(SEL_CODE64, cs, "long.back-in-64-bit-mode");
  return 0;
}
