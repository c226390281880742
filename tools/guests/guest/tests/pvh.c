/* The PVH boot ABI from the kernel's side (Xen's docs/misc/pvh.pandoc; the structures of
 * xen/include/public/arch-x86/hvm/start_info.h), as Linux's pvh_start_xen reads it: entered at
 * the Xen PHYS32_ENTRY note's address (guest/lib/pvh-note.S, not multiboot) in flat 32-bit
 * protected mode with CR0 = PE (and the hard-wired ET) only, CR4 = 0, IF and TF clear; EBX =
 * a version-1 hvm_start_info with the magic, the command line, the modules (-initrd a,b: each
 * page-aligned, its bytes and its own command line), the ACPI RSDP and the e820 memory map (RAM
 * from 1 MiB covering this image, the EBDA hole reserved). Each module must be a text file
 * starting "pvh-module-<n>", which the check reads. -append modules=N says how many to expect. */
#include "lib.h"

struct start_info {
  u32 magic, version, flags, nr_modules;
  u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
  u32 memmap_entries, reserved;
};
struct modlist_entry {
  u64 paddr, size, cmdline_paddr, reserved;
};
struct memmap_entry {
  u64 addr, size;
  u32 type, reserved;
};

extern u32 pvh_entry_cr0, pvh_entry_cr4, pvh_entry_eflags;
extern char __image_start[], __image_end[];

static void entry_state(void) {
  check_eq(0x11, pvh_entry_cr0, "pvh.entry.cr0-pe-et-only");
  check_eq(0, pvh_entry_cr4, "pvh.entry.cr4-clear");
  check_eq(0, pvh_entry_eflags & ((1u << 9) | (1u << 8) | (1u << 17)), "pvh.entry.eflags-if-tf-vm-clear");
}

static void modules(const struct start_info *si) {
  u32 want = cmdline_u32("modules", 0);
  check_eq(want, si->nr_modules, "pvh.modules.count");
  if (si->nr_modules == 0) return;
  check_eq(0, si->modlist_paddr >> 32, "pvh.modules.list-below-4g");
  const struct modlist_entry *m = (const struct modlist_entry *)(ulong)si->modlist_paddr;
  for (u32 i = 0; i < si->nr_modules && i < 4; i++) {
    char tag[16];
    snprintf(tag, sizeof tag, "pvh-module-%u", i);
    const char *p = (const char *)(ulong)m[i].paddr;
    check_eq(0, m[i].paddr & 0xfff, "pvh.modules.%u.page-aligned", i);
    report(m[i].size >= strlen(tag) && !memcmp(p, tag, strlen(tag)), "pvh.modules.%u.bytes", i);
    const char *cl = (const char *)(ulong)m[i].cmdline_paddr;
    printf("module %u: %u bytes at 0x%x, cmdline \"%s\"\n", i, (u32)m[i].size, (u32)m[i].paddr, cl ? cl : "");
    /* Above this image and inside RAM. */
    report(m[i].paddr >= (ulong)__image_end, "pvh.modules.%u.above-the-kernel", i);
  }
}

static void memory_map(const struct start_info *si) {
  report(si->memmap_paddr != 0 && si->memmap_entries > 0, "pvh.memmap.present");
  const struct memmap_entry *e = (const struct memmap_entry *)(ulong)si->memmap_paddr;
  int image_in_ram = 0, ebda_reserved = 0;
  u64 ram = 0;
  for (u32 i = 0; i < si->memmap_entries; i++) {
    if (e[i].type == 1) {
      ram += e[i].size;
      if (e[i].addr <= (ulong)__image_start && (ulong)__image_end <= e[i].addr + e[i].size) image_in_ram = 1;
    }
    if (e[i].type == 2 && e[i].addr <= 0x9fc00 && 0x100000 <= e[i].addr + e[i].size) ebda_reserved = 1;
  }
  report(image_in_ram, "pvh.memmap.image-in-ram");
  report(ebda_reserved, "pvh.memmap.ebda-to-1m-reserved");
  printf("memmap: %u entries, %u KiB of RAM\n", si->memmap_entries, (u32)(ram >> 10));
}

static void rsdp(const struct start_info *si) {
  const u8 *r = (const u8 *)(ulong)si->rsdp_paddr;
  if (!r) {
    fail("rsdp_paddr is 0", "pvh.rsdp");
    return;
  }
  report(!memcmp(r, "RSD PTR ", 8), "pvh.rsdp.signature");
  u8 sum = 0;
  for (int i = 0; i < 20; i++) sum += r[i];
  check_eq(0, sum, "pvh.rsdp.checksum");
}

int main(void) {
  report_begin("pvh");
  entry_state();
  const struct start_info *si = (const struct start_info *)(ulong)mb_info;
  check_eq(XEN_HVM_START_MAGIC, si->magic, "pvh.start-info.magic");
  if (si->magic != XEN_HVM_START_MAGIC) return 0;
  check_eq(1, si->version, "pvh.start-info.version");
  report(cmdline_u32("pvh", 0) == 1, "pvh.cmdline");
  printf("cmdline: \"%s\"\n", cmdline());
  modules(si);
  memory_map(si);
  rsdp(si);
  return 0;
}
