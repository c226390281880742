/* ACPI as an OS finds it (ACPI 6.4 5.2): the RSDP by the BIOS-area scan (the EBDA's first KiB,
 * then 0xE0000-0xFFFFF on 16-byte boundaries, 5.2.5.1), its two checksums, the RSDT and the
 * XSDT (the same tables), every table's checksum, the FADT (5.2.9: PM1a event and control
 * blocks, the PM timer, SCI, the reset register, the FACS and the DSDT by their 32- and 64-bit
 * pointers), the MADT (5.2.12: the local APIC, the I/O APIC, IRQ 0 -> GSI 2 and the SCI's
 * override), the HPET table against the HPET's own ID register, and \_S5's SLP_TYPa in the
 * DSDT's AML. Then it leaves the machine the way the command line says:
 *   (default)  S5 power-off: SLP_TYPa | SLP_EN written to PM1a_CNT (4.8.3.2.1); the VMM powers off;
 *   reset=1    the FADT's RESET_REG written with RESET_VALUE (4.8.3.6); the VMM resets;
 *   reset=2    PIIX's reset control at 0xcf9, SYS_RST then SYS_RST | RST_CPU (Linux's
 *              `reboot=pci`); the VMM resets.
 * If the machine is still running afterwards, that is a FAIL and the guest debug-exits. */
#include "lib.h"

struct rsdp {
  char sig[8];
  u8 checksum;
  char oem[6];
  u8 revision;
  u32 rsdt;
  u32 length;
  u64 xsdt;
  u8 xchecksum;
  u8 reserved[3];
} __attribute__((packed));

struct sdt {
  char sig[4];
  u32 length;
  u8 revision;
  u8 checksum;
  char oem[6];
  char oem_table[8];
  u32 oem_revision;
  u32 creator;
  u32 creator_revision;
} __attribute__((packed));

/* FADT field offsets (ACPI 6.4 Table 5.9). */
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT 40
#define FADT_SCI_INT 46
#define FADT_PM1A_EVT 56
#define FADT_PM1A_CNT 64
#define FADT_PM_TMR 76
#define FADT_PM1_EVT_LEN 88
#define FADT_PM1_CNT_LEN 89
#define FADT_PM_TMR_LEN 91
#define FADT_CENTURY 108
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT 140
#define FADT_X_PM1A_CNT 172
#define FADT_X_PM_TMR 208
#define FADT_TMR_VAL_EXT (1u << 8)
#define FADT_RESET_REG_SUP (1u << 10)
#define PM1_SCI_EN 1u
#define PM1_SLP_EN (1u << 13)

#define MAX_TABLES 16

static u8 u8_at(const void *p, u32 off) { return ((const u8 *)p)[off]; }
static u16 u16_at(const void *p, u32 off) { return u8_at(p, off) | (u16)u8_at(p, off + 1) << 8; }
static u32 u32_at(const void *p, u32 off) { return u16_at(p, off) | (u32)u16_at(p, off + 2) << 16; }
static u64 u64_at(const void *p, u32 off) { return u32_at(p, off) | (u64)u32_at(p, off + 4) << 32; }

static u8 sum(const void *p, u32 len) {
  u8 s = 0;
  for (u32 i = 0; i < len; i++) s += u8_at(p, i);
  return s;
}

static int sig_is(const void *p, const char *sig) { return memcmp(p, sig, strlen(sig)) == 0; }

static const struct rsdp *scan(ulong from, ulong len) {
  for (ulong a = from; a + sizeof(struct rsdp) <= from + len; a += 16)
    if (sig_is((const void *)a, "RSD PTR ") && sum((const void *)a, 20) == 0) return (const struct rsdp *)a;
  return 0;
}

static const struct sdt *tables[MAX_TABLES];
static int n_tables;

static const struct sdt *find(const char *sig) {
  for (int i = 0; i < n_tables; i++)
    if (sig_is(tables[i]->sig, sig)) return tables[i];
  return 0;
}

/* \_S5's first package element in AML (ACPI 6.4 20.2.5): Name(_S5, Package(n) { SLP_TYPa, ... }):
 * "_S5_" PackageOp PkgLength NumElements then a ByteConst (0x0A b), ZeroOp, OneOp or OnesOp.
 * Returns -1 when not found or not understood. */
static int s5_slp_typa(const struct sdt *dsdt) {
  const u8 *aml = (const u8 *)dsdt;
  for (u32 i = sizeof(struct sdt); i + 8 < dsdt->length; i++) {
    if (!sig_is(aml + i, "_S5_") || aml[i + 4] != 0x12) continue;
    u32 j = i + 5;
    j += 1 + (aml[j] >> 6); /* PkgLength: bits 7:6 of its lead byte count the bytes that follow */
    j += 1;                 /* NumElements */
    switch (aml[j]) {
      case 0x0a: return aml[j + 1];
      case 0x00: return 0;
      case 0x01: return 1;
      case 0xff: return 0xff;
      default: return -1;
    }
  }
  return -1;
}

static void check_fadt(const struct sdt *fadt, int *slp_typ_out) {
  const void *f = fadt;
  check_eq(9, u16_at(f, FADT_SCI_INT), "acpi.fadt.sci-irq-9");
  check_eq(0x600, u32_at(f, FADT_PM1A_EVT), "acpi.fadt.pm1a-evt-blk");
  check_eq(0x604, u32_at(f, FADT_PM1A_CNT), "acpi.fadt.pm1a-cnt-blk");
  check_eq(0x608, u32_at(f, FADT_PM_TMR), "acpi.fadt.pm-tmr-blk");
  check_eq(4, u8_at(f, FADT_PM1_EVT_LEN), "acpi.fadt.pm1-evt-len");
  check_eq(2, u8_at(f, FADT_PM1_CNT_LEN), "acpi.fadt.pm1-cnt-len");
  check_eq(4, u8_at(f, FADT_PM_TMR_LEN), "acpi.fadt.pm-tmr-len");
  check_eq(0x32, u8_at(f, FADT_CENTURY), "acpi.fadt.century-cmos-0x32");
  u32 flags = u32_at(f, FADT_FLAGS);
  check_eq(FADT_TMR_VAL_EXT, flags & FADT_TMR_VAL_EXT, "acpi.fadt.tmr-val-ext");
  check_eq(FADT_RESET_REG_SUP, flags & FADT_RESET_REG_SUP, "acpi.fadt.reset-reg-sup");
  check_eq(1, u8_at(f, FADT_RESET_REG), "acpi.fadt.reset-reg-system-io");
  check_eq(0xcf9, u64_at(f, FADT_RESET_REG + 4), "acpi.fadt.reset-reg-0xcf9");
  check_eq(6, u8_at(f, FADT_RESET_VALUE), "acpi.fadt.reset-value-6");
  if (fadt->length >= FADT_X_PM_TMR + 12) {
    check_eq(0x604, u64_at(f, FADT_X_PM1A_CNT + 4), "acpi.fadt.x-pm1a-cnt-blk");
    check_eq(0x608, u64_at(f, FADT_X_PM_TMR + 4), "acpi.fadt.x-pm-tmr-blk");
  } else {
    fail("FADT shorter than its X_ fields", "acpi.fadt.x-fields");
  }

  /* The FACS: by X_FIRMWARE_CTRL when that is set, else FIRMWARE_CTRL (5.2.9: the OS ignores
   * the 32-bit one when the 64-bit one is usable; QEMU fills only FIRMWARE_CTRL below 4 GiB). */
  u64 x_facs = u64_at(f, FADT_X_FIRMWARE_CTRL);
  u32 facs32 = u32_at(f, FADT_FIRMWARE_CTRL);
  report(x_facs == 0 ? facs32 != 0 : facs32 == 0 || facs32 == x_facs, "acpi.fadt.facs-pointer");
  u32 facs = x_facs ? (u32)x_facs : facs32;
  report(facs != 0 && sig_is((const void *)(ulong)facs, "FACS"), "acpi.facs.signature");
  if (facs) report(u32_at((const void *)(ulong)facs, 4) >= 64, "acpi.facs.length");

  /* The DSDT: by DSDT and X_DSDT, checksummed, with \_S5. */
  u32 dsdt_at = u32_at(f, FADT_DSDT);
  check_eq(dsdt_at, u64_at(f, FADT_X_DSDT), "acpi.fadt.x-dsdt-matches");
  const struct sdt *dsdt = (const struct sdt *)(ulong)dsdt_at;
  if (dsdt_at == 0 || !sig_is(dsdt->sig, "DSDT")) {
    fail("no DSDT", "acpi.dsdt.signature");
    return;
  }
  pass("acpi.dsdt.signature");
  check_eq(0, sum(dsdt, dsdt->length), "acpi.dsdt.checksum");
  int slp_typ = s5_slp_typa(dsdt);
  report(slp_typ >= 0 && slp_typ < 8, "acpi.dsdt.s5-package");
  check_eq(0, (u64)slp_typ, "acpi.dsdt.s5-slp-typa-0-as-piix4");
  *slp_typ_out = slp_typ;

  /* The hardware the FADT names: SCI_EN set (no SMI_CMD), the PM timer counting. */
  check_eq(PM1_SCI_EN, inw((u16)u32_at(f, FADT_PM1A_CNT)) & PM1_SCI_EN, "acpi.pm1a-cnt.sci-en");
  u32 t0 = inl((u16)u32_at(f, FADT_PM_TMR));
  u32 t1 = t0;
  for (int i = 0; i < 100000 && t1 == t0; i++) t1 = inl((u16)u32_at(f, FADT_PM_TMR));
  report(t1 != t0, "acpi.pm-timer.counts");
}

static void check_madt(const struct sdt *madt) {
  const u8 *m = (const u8 *)madt;
  check_eq(0xfee00000, u32_at(m, 36), "acpi.madt.lapic-address");
  int lapics = 0, bsp = 0, ioapics = 0, irq0 = 0, sci = 0;
  for (u32 at = 44; at + 2 <= madt->length && m[at + 1] >= 2; at += m[at + 1]) {
    const u8 *e = m + at;
    switch (e[0]) {
      case 0: /* Processor Local APIC: ACPI ID, APIC ID, flags (bit 0 enabled) */
        lapics++;
        if (e[3] == 0 && (u32_at(e, 4) & 1)) bsp = 1;
        break;
      case 1: /* I/O APIC: ID, reserved, address, GSI base */
        ioapics++;
        check_eq(0xfec00000, u32_at(e, 4), "acpi.madt.ioapic-address");
        check_eq(0, u32_at(e, 8), "acpi.madt.ioapic-gsi-base-0");
        break;
      case 2: /* Interrupt Source Override: bus, source, GSI, flags */
        if (e[3] == 0 && u32_at(e, 4) == 2) irq0 = 1;
        if (e[3] == 9 && u32_at(e, 4) == 9 && u16_at(e, 8) == 0x000d) sci = 1;
        break;
    }
  }
  report(lapics >= 1 && bsp, "acpi.madt.lapic-0-enabled");
  check_eq(1, ioapics, "acpi.madt.one-ioapic");
  report(irq0, "acpi.madt.override-irq0-to-gsi2");
  report(sci, "acpi.madt.override-sci-irq9-level-high");
}

static void check_hpet(const struct sdt *hpet) {
  u64 base = u64_at(hpet, 44);
  check_eq(0xfed00000, base, "acpi.hpet.base-address");
  check_eq(0, u8_at(hpet, 40), "acpi.hpet.base-in-memory-space");
  /* The table's Event Timer Block ID is the HPET's own capabilities register, low half. */
  check_eq(*(volatile u32 *)(ulong)base, u32_at(hpet, 36), "acpi.hpet.block-id-matches-hardware");
}

int main(void) {
  report_begin("acpi");

  /* 5.2.5.1: the EBDA's first KiB (its segment in the BDA at 0x40E), then the BIOS area. */
  ulong bda = 0x40e;
  __asm__("" : "+r"(bda)); /* an address, not an object the compiler knows the bounds of */
  ulong ebda = (ulong)*(volatile u16 *)bda << 4;
  const struct rsdp *rsdp = ebda ? scan(ebda, 1024) : 0;
  if (!rsdp) rsdp = scan(0xe0000, 0x20000);
  if (!rsdp) {
    skip("no RSDP in the EBDA or 0xE0000-0xFFFFF", "acpi");
    return 0;
  }
  pass("acpi.rsdp.found-by-scan");
  check_eq(0, sum(rsdp, 20), "acpi.rsdp.checksum");
  check_eq(2, rsdp->revision, "acpi.rsdp.revision-2");
  check_eq(36, rsdp->length, "acpi.rsdp.length");
  check_eq(0, sum(rsdp, 36), "acpi.rsdp.extended-checksum");

  const struct sdt *rsdt = (const struct sdt *)(ulong)rsdp->rsdt;
  report(sig_is(rsdt->sig, "RSDT"), "acpi.rsdt.signature");
  check_eq(0, sum(rsdt, rsdt->length), "acpi.rsdt.checksum");
  const struct sdt *xsdt = (const struct sdt *)(ulong)rsdp->xsdt;
  report(rsdp->xsdt >> 32 == 0 && sig_is(xsdt->sig, "XSDT"), "acpi.xsdt.signature");
  check_eq(0, sum(xsdt, xsdt->length), "acpi.xsdt.checksum");

  u32 n = (rsdt->length - sizeof(struct sdt)) / 4;
  u32 nx = (xsdt->length - sizeof(struct sdt)) / 8;
  check_eq(n, nx, "acpi.xsdt.same-count-as-rsdt");
  int same = n == nx;
  for (u32 i = 0; i < n && n_tables < MAX_TABLES; i++) {
    u32 at = u32_at(rsdt, sizeof(struct sdt) + 4 * i);
    if (i < nx) same &= at == u64_at(xsdt, sizeof(struct sdt) + 8 * i);
    tables[n_tables++] = (const struct sdt *)(ulong)at;
  }
  report(same, "acpi.xsdt.same-tables-as-rsdt");
  for (int i = 0; i < n_tables; i++) {
    const struct sdt *t = tables[i];
    check_eq(0, sum(t, t->length), "acpi.table.%c%c%c%c.checksum", t->sig[0], t->sig[1], t->sig[2], t->sig[3]);
  }

  int slp_typ = -1;
  const struct sdt *fadt = find("FACP");
  report(fadt != 0, "acpi.fadt.found");
  if (fadt) check_fadt(fadt, &slp_typ);
  /* A PIC-only PC (no local APIC in CPUID.1:EDX bit 9, e.g. qemu-lite's kernel-irqchip=off) has
   * no MADT: the OS must not look for APICs there. */
  const struct sdt *madt = find("APIC");
  if (cpuid(1, 0).d & (1u << 9)) {
    report(madt != 0, "acpi.madt.found");
    if (madt) check_madt(madt);
  } else {
    report(madt == 0, "acpi.madt.absent-without-apic");
  }
  const struct sdt *hpet = find("HPET");
  report(hpet != 0, "acpi.hpet.found");
  if (hpet) check_hpet(hpet);

  u32 how = cmdline_u32("reset", 0);
  if (fadt && how == 1) {
    printf("acpi: reset through the FADT's RESET_REG\n");
    report_summary();
    outb((u16)u64_at(fadt, FADT_RESET_REG + 4), u8_at(fadt, FADT_RESET_VALUE));
    for (volatile int i = 0; i < 1000000; i++) {
    }
    fail("the machine is still running", "acpi.reset.fadt-reset-register");
  } else if (how == 2) {
    printf("acpi: reset through port 0xcf9\n");
    report_summary();
    outb(0xcf9, 0x02);
    outb(0xcf9, 0x06);
    for (volatile int i = 0; i < 1000000; i++) {
    }
    fail("the machine is still running", "acpi.reset.port-cf9");
  } else if (fadt && slp_typ >= 0) {
    printf("acpi: S5 power-off through PM1a_CNT\n");
    report_summary();
    outw((u16)u32_at(fadt, FADT_PM1A_CNT), (u16)((slp_typ << 10) | PM1_SLP_EN));
    for (volatile int i = 0; i < 1000000; i++) {
    }
    fail("the machine is still running", "acpi.poweroff.s5");
  }
  return 0;
}
