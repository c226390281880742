/* CPUID, RDMSR/WRMSR of the common MSRs, RDTSC. Values the VMM chooses (vendor, model) are only
 * checked for consistency; architectural behaviour (read-back, #GP on bad MSRs, reset values
 * KVM defines) is checked exactly. */
#include "lib.h"

#define MSR_TSC 0x10
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_PAT 0x277

static u32 msr_index;
static u64 msr_value;
static void do_rdmsr(ulong i) { msr_value = rdmsr((u32)i); }
static void do_wrmsr(ulong i) { wrmsr((u32)i, msr_value); }

static void cpuid_checks(void) {
  struct cpuid l0 = cpuid(0, 0), l0b = cpuid(0, 0);
  report(l0.a >= 1, "cpuid.leaf0.max-basic-leaf>=1");
  report(l0.a == l0b.a && l0.b == l0b.b && l0.c == l0b.c && l0.d == l0b.d, "cpuid.leaf0.stable");
  char vendor[13];
  memcpy(vendor, &l0.b, 4);
  memcpy(vendor + 4, &l0.d, 4);
  memcpy(vendor + 8, &l0.c, 4);
  vendor[12] = 0;
  int printable = 1;
  for (int i = 0; i < 12; i++) printable &= vendor[i] >= 0x20 && vendor[i] < 0x7f;
  report(printable, "cpuid.leaf0.vendor-printable");
  struct cpuid l1 = cpuid(1, 0);
  /* Features every guest here relies on (SDM Vol. 2A, CPUID leaf 1 EDX). */
  static const struct { int bit; const char *name; } need[] = {
      {0, "fpu"}, {3, "pse"}, {4, "tsc"}, {5, "msr"}, {6, "pae"}, {8, "cx8"}, {13, "pge"}, {11, "sep"}, {15, "cmov"}};
  for (unsigned i = 0; i < ARRAY_SIZE(need); i++)
    check_eq(1, (l1.d >> need[i].bit) & 1, "cpuid.leaf1.edx.%s", need[i].name);
  u32 family = (l1.a >> 8) & 0xf;
  report(family != 0, "cpuid.leaf1.family-nonzero");
  /* The hypervisor bit is not checked: a VMM may set it or not. Extended leaves: */
  struct cpuid e0 = cpuid(0x80000000, 0);
  report(e0.a >= 0x80000001 && e0.a < 0x80000100, "cpuid.ext.max-leaf-in-range");
#ifdef __x86_64__
  struct cpuid e1 = cpuid(0x80000001, 0);
  check_eq(1, (e1.d >> 29) & 1, "cpuid.ext1.edx.lm"); /* we are running in long mode */
#endif
  /* Leaf 4/7 subleaves: ECX selects; leaf 7 subleaf 0 EAX is the max subleaf. */
  if (l0.a >= 7) {
    struct cpuid s7 = cpuid(7, 0), s7b = cpuid(7, 0);
    report(s7.b == s7b.b && s7.c == s7b.c, "cpuid.leaf7.stable");
  }
}

static void msr_checks(void) {
  struct cpuid e1 = cpuid(0x80000001, 0);
  int has_nx = (e1.d >> 20) & 1;
  /* EFER: LME/LMA clear in protected mode, both set in long mode. Toggle NXE and SCE. */
  u64 efer = rdmsr(MSR_EFER);
#ifdef __x86_64__
  check_eq(EFER_LME | EFER_LMA, efer & (EFER_LME | EFER_LMA), "msr.efer.lme-lma-set");
#else
  check_eq(0, efer & (EFER_LME | EFER_LMA), "msr.efer.lme-lma-clear");
#endif
  /* SCE exists when CPUID says SYSCALL/SYSRET do (leaf 0x80000001 EDX bit 11); KVM refuses an
   * EFER bit the guest's CPUID does not have with #GP. */
  if ((e1.d >> 11) & 1) {
    wrmsr(MSR_EFER, efer | EFER_SCE);
    check_eq(efer | EFER_SCE, rdmsr(MSR_EFER), "msr.efer.sce-set");
  } else {
    skip("no SYSCALL in CPUID", "msr.efer.sce-set");
  }
  if (has_nx) {
    wrmsr(MSR_EFER, efer | EFER_NXE);
    check_eq(efer | EFER_NXE, rdmsr(MSR_EFER), "msr.efer.nxe-set");
  } else {
    skip("no NX in CPUID", "msr.efer.nxe-set");
  }
  wrmsr(MSR_EFER, efer);
  check_eq(efer, rdmsr(MSR_EFER), "msr.efer.restore");
  /* A reserved EFER bit (bit 63) is #GP(0) (SDM Vol. 4, IA32_EFER). */
  msr_value = efer | (1ull << 63);
  int v = trap_call(do_wrmsr, MSR_EFER);
  check_eq(GP, v, "msr.efer.reserved-bit.gp");
  check_eq(0, last_trap.error_code, "msr.efer.reserved-bit.gp-error-code");
  check_eq(efer, rdmsr(MSR_EFER), "msr.efer.reserved-bit.unchanged");

#ifdef __x86_64__
  /* STAR, LSTAR, CSTAR, SFMASK, FS/GS base, KERNEL_GS_BASE: 64-bit read-back. LSTAR and the
   * bases must be canonical: a non-canonical value is #GP(0) (SDM Vol. 4). */
  static const u32 m64[] = {0xc0000081, 0xc0000082, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102};
  static const char *n64[] = {"star", "lstar", "sfmask", "fs-base", "gs-base", "kernel-gs-base"};
  static const u64 v64[] = {0x0023001000000000ull, 0xffffffff81000000ull, 0x47700ull, 0x00007fffdeadb000ull,
                            0xffff888000001000ull, 0x0000000012345000ull};
  for (unsigned i = 0; i < ARRAY_SIZE(m64); i++) {
    u64 old = rdmsr(m64[i]);
    wrmsr(m64[i], v64[i]);
    check_eq(v64[i], rdmsr(m64[i]), "msr.%s.readback", n64[i]);
    wrmsr(m64[i], old);
  }
  /* Non-canonical under 57-bit addressing too: a host KVM on a CPU with LA57 checks LSTAR against
   * 57 bits, where 0x0000800000000000 is canonical. */
  msr_value = 0x8000000000000000ull;
  v = trap_call(do_wrmsr, 0xc0000082);
  check_eq(GP, v, "msr.lstar.non-canonical-gp");
  check_eq(0, last_trap.error_code, "msr.lstar.non-canonical-gp-error-code");
#endif
  /* SYSENTER_*: plain read-back. */
  static const u32 sysenter[] = {MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP};
  static const u32 vals[] = {0x0008, 0x00123450, 0x00c0ffee};
  for (unsigned i = 0; i < 3; i++) {
    wrmsr(sysenter[i], vals[i]);
    check_eq(vals[i], rdmsr(sysenter[i]), "msr.sysenter[0x%x].readback", sysenter[i]);
  }
  /* PAT: the power-on value 0x0007040600070406 (SDM Vol. 3 13.12.4), then a read-back. */
  check_eq(0x0007040600070406ull, rdmsr(MSR_PAT), "msr.pat.reset-value");
  wrmsr(MSR_PAT, 0x0006040600070406ull);
  check_eq(0x0006040600070406ull, rdmsr(MSR_PAT), "msr.pat.readback");
  /* PAT entry type 2 is reserved: #GP(0). */
  msr_value = 0x0007040600070402ull;
  v = trap_call(do_wrmsr, MSR_PAT);
  check_eq(GP, v, "msr.pat.reserved-type.gp");
  wrmsr(MSR_PAT, 0x0007040600070406ull);
  /* An MSR that does not exist: #GP(0) on read and on write. */
  v = trap_call(do_rdmsr, 0x0badc0de);
  check_eq(GP, v, "msr.nonexistent.rdmsr-gp");
  check_eq(0, last_trap.error_code, "msr.nonexistent.rdmsr-gp-error-code");
  msr_value = 1;
  v = trap_call(do_wrmsr, 0x0badc0de);
  check_eq(GP, v, "msr.nonexistent.wrmsr-gp");
  /* TSC as an MSR: agrees with RDTSC, and writing it moves RDTSC. */
  u64 a = rdtsc(), m = rdmsr(MSR_TSC), b = rdtsc();
  report(a <= m && m <= b, "msr.tsc.between-rdtsc");
  wrmsr(MSR_TSC, 0x100000000ull);
  u64 after = rdtsc();
  report(after >= 0x100000000ull && after < 0x100000000ull + 0x1000000000ull, "msr.tsc.write-moves-rdtsc");
}

static void tsc_checks(void) {
  u64 prev = rdtsc();
  int mono = 1;
  for (int i = 0; i < 2000; i++) {
    u64 t = rdtsc();
    if (t < prev) mono = 0;
    prev = t;
  }
  report(mono, "rdtsc.monotonic-2000-reads");
  u64 t0 = rdtsc();
  for (volatile int i = 0; i < 100000; i++) {
  }
  report(rdtsc() > t0, "rdtsc.advances-over-a-loop");
  /* CR4.TSD clear: RDTSC at CPL 3 is allowed. */
}

int main(void) {
  report_begin("cpu");
  cpuid_checks();
  msr_checks();
  tsc_checks();
  (void)msr_index;
  return 0;
}
