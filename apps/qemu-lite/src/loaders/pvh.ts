/**
 * The PVH boot ABI (Xen's docs/misc/pvh.pandoc, which QEMU, Firecracker and cloud-hypervisor
 * implement for `-kernel vmlinux`): an ELF kernel, 32- or 64-bit, that names a 32-bit physical
 * entry point in a Xen note (XEN_ELFNOTE_PHYS32_ENTRY, type 18, owner "Xen"). Its PT_LOAD
 * segments go to their physical addresses; the kernel is entered in flat 32-bit protected mode,
 * paging and interrupts off, with EBX = the physical address of a `hvm_start_info` (xen/include/
 * public/arch-x86/hvm/start_info.h, version 1): the command line, the modules (the first is
 * Linux's initrd), the ACPI RSDP and the e820 memory map. Linux (CONFIG_PVH) enters at
 * pvh_start_xen, builds its own page tables and goes to startup_64: no bzImage decompressor and
 * no host-side decompression, so an uncompressed vmlinux boots as QEMU boots it.
 *
 * Layout (low memory, below the EBDA; the kernel's segments may not overlap it):
 *   0x500   the boot GDT (cpu-state.ts; PVH names no selectors, but a loaded CS needs a GDT to be
 *           reloadable from)
 *   0x1000  hvm_start_info (56 bytes), then the module list (32 bytes each) at 0x1040,
 *   0x1400  the memory map (24 bytes per entry: addr, size, type, reserved)
 *   0x2000  the kernel's command line, then each module's, NUL-terminated
 *   top of RAM  the modules, page-aligned, the first highest
 */
import { CR0_ET, CR0_PE, protectedMode32, RFLAGS_RESERVED, writeBootGdt } from './cpu-state.js';
import { type ElfImage, type ElfNote, readElf } from './elf.js';
import { E820_TYPE, type Loader, LoaderError, type LoaderMachine, type LoaderOptions } from './types.js';

const FORMAT = 'pvh';
/** XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h). */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** XEN_HVM_START_MAGIC_VALUE: "xEn3" with the 0x80 bit of the "E" set. */
export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;

export const PVH_GDT_GPA = 0x500;
export const PVH_START_INFO_GPA = 0x1000;
const MODLIST_GPA = 0x1040;
const MODLIST_END = 0x1400;
const MEMMAP_GPA = 0x1400;
const MEMMAP_END = 0x2000;
export const PVH_CMDLINE_GPA = 0x2000;
/** Where the boot structures must end: the EBDA (machine/memory-map.ts). */
const LOW_END = 0x9fc00;
const MODLIST_ENTRY_SIZE = 32;
const MEMMAP_ENTRY_SIZE = 24;

const hex = (v: number): string => `0x${v.toString(16)}`;
const fail = (why: string): never => {
  throw new LoaderError(FORMAT, why);
};

/** The 32-bit entry of a PVH kernel's Xen note, or undefined (no note, or not an ELF we read). */
export function pvhEntryOf(elf: ElfImage): number | undefined {
  const note = elf.notes.find(isPhys32EntryNote);
  if (note === undefined) return undefined;
  const dv = new DataView(note.desc.buffer, note.desc.byteOffset, note.desc.byteLength);
  // A 32-bit kernel writes a .long, Linux's x86-64 build an 8-byte _ASM_PTR: the entry is 32-bit.
  if (note.desc.length === 4) return dv.getUint32(0, true);
  if (note.desc.length === 8 && dv.getUint32(4, true) === 0) return dv.getUint32(0, true);
  return fail(`the Xen PHYS32_ENTRY note's ${note.desc.length}-byte value is not a 32-bit address`);
}

const isPhys32EntryNote = (n: ElfNote): boolean => n.name === 'Xen' && n.type === XEN_ELFNOTE_PHYS32_ENTRY;

/**
 * An ELF carrying a Xen PHYS32_ENTRY note (the probe reads the headers only, never throws). A note
 * whose value is wrong is still PVH's: the load says what is wrong with it.
 */
export function probePvh(image: Uint8Array): boolean {
  try {
    return readElf(image, FORMAT).notes.some(isPhys32EntryNote);
  } catch {
    return false;
  }
}

/** End of the RAM range of `e820` holding `gpa`, or `gpa` itself when none does. */
function ramEndFrom(machine: LoaderMachine, gpa: number): number {
  const r = machine.e820.find((e) => e.type === E820_TYPE.RAM && e.addr <= gpa && gpa < e.addr + e.size);
  return r === undefined ? gpa : Math.min(r.addr + r.size, machine.ram.length);
}

export const loadPvh: Loader = (image, machine, opts) => {
  const elf = readElf(image, FORMAT);
  const entry = pvhEntryOf(elf) ?? fail('the ELF has no Xen PHYS32_ENTRY note (type 18): not a PVH kernel');
  const { ram } = machine;
  // Every segment in RAM, clear of the boot structures in low memory.
  for (const s of elf.segments) {
    const end = s.paddr + s.memsz;
    if (s.paddr < PVH_CMDLINE_GPA + 0x1000 && end > PVH_GDT_GPA)
      fail(
        `segment ${s.index} (${hex(s.paddr)}..${hex(end)}) overlaps the boot structures at ${hex(PVH_GDT_GPA)}..${hex(PVH_CMDLINE_GPA + 0x1000)}`,
      );
    if (ramEndFrom(machine, s.paddr) < end)
      fail(
        `segment ${s.index} (${hex(s.paddr)}..${hex(end)}) is not in RAM: give the guest at least ${Math.ceil(end / 0x100000)} MiB`,
      );
  }
  if (!elf.segments.some((s) => entry >= s.paddr && entry < s.paddr + s.filesz))
    fail(`the PVH entry ${hex(entry)} is in none of the loaded segments`);
  const kernelEnd = Math.max(...elf.segments.map((s) => s.paddr + s.memsz));
  const modules = modulesOf(opts);

  // Strings: the command line, then each module's.
  const enc = new TextEncoder();
  const strings = [opts.cmdline, ...modules.map((m) => m.cmdline)].map((s) => enc.encode(s));
  if (strings.some((s) => s.includes(0))) fail('a command line contains a NUL byte');
  const stringGpas: number[] = [];
  let at = PVH_CMDLINE_GPA;
  for (const s of strings) {
    stringGpas.push(at);
    at += s.length + 1;
  }
  if (at > LOW_END)
    fail(
      `the command lines take ${at - PVH_CMDLINE_GPA} bytes; at most ${LOW_END - PVH_CMDLINE_GPA} fit below the EBDA`,
    );
  if (modules.length > (MODLIST_END - MODLIST_GPA) / MODLIST_ENTRY_SIZE)
    fail(`${modules.length} modules are too many (at most 30)`);
  const e820 = machine.e820;
  if (e820.length > (MEMMAP_END - MEMMAP_GPA) / MEMMAP_ENTRY_SIZE)
    fail(`the memory map has ${e820.length} entries; at most 128 fit`);

  // Modules from the top of the RAM range above the kernel down, page-aligned, the first highest.
  const top = ramEndFrom(machine, Math.max(kernelEnd - 1, 0x100000));
  const moduleGpas: number[] = [];
  let below = top;
  for (const m of modules) {
    below = Math.floor((below - m.data.length) / 0x1000) * 0x1000;
    if (below < kernelEnd) {
      const need = kernelEnd + modules.reduce((n, x) => n + x.data.length + 0x1000, 0);
      fail(
        `the modules do not fit between the kernel's end ${hex(kernelEnd)} and the end of RAM ${hex(top)}: give the guest at least ${Math.ceil(need / 0x100000)} MiB`,
      );
    }
    moduleGpas.push(below);
  }

  // Everything checked: write.
  for (const s of elf.segments) {
    ram.set(image.subarray(s.offset, s.offset + s.filesz), s.paddr);
    ram.fill(0, s.paddr + s.filesz, s.paddr + s.memsz);
  }
  for (const [i, m] of modules.entries()) ram.set(m.data, moduleGpas[i]);
  for (const [i, s] of strings.entries()) {
    ram.set(s, stringGpas[i]);
    ram[stringGpas[i] + s.length] = 0;
  }
  writeBootGdt(ram, PVH_GDT_GPA);
  const dv = new DataView(ram.buffer, ram.byteOffset, ram.length);
  const u64 = (gpa: number, v: number): void => {
    dv.setUint32(gpa, v >>> 0, true);
    dv.setUint32(gpa + 4, Math.floor(v / 0x100000000), true);
  };
  ram.fill(0, PVH_START_INFO_GPA, MEMMAP_END);
  dv.setUint32(PVH_START_INFO_GPA, XEN_HVM_START_MAGIC_VALUE, true);
  dv.setUint32(PVH_START_INFO_GPA + 4, 1, true); // version 1: the memory map fields are present
  dv.setUint32(PVH_START_INFO_GPA + 8, 0, true); // flags: no SIF_ bits (not a privileged domain)
  dv.setUint32(PVH_START_INFO_GPA + 12, modules.length, true);
  u64(PVH_START_INFO_GPA + 16, modules.length > 0 ? MODLIST_GPA : 0);
  u64(PVH_START_INFO_GPA + 24, stringGpas[0]);
  u64(PVH_START_INFO_GPA + 32, machine.rsdpGpa ?? 0);
  u64(PVH_START_INFO_GPA + 40, MEMMAP_GPA);
  dv.setUint32(PVH_START_INFO_GPA + 48, e820.length, true);
  modules.forEach((m, i) => {
    const e = MODLIST_GPA + i * MODLIST_ENTRY_SIZE;
    u64(e, moduleGpas[i]);
    u64(e + 8, m.data.length);
    u64(e + 16, stringGpas[i + 1]);
  });
  e820.forEach((r, i) => {
    const e = MEMMAP_GPA + i * MEMMAP_ENTRY_SIZE;
    u64(e, r.addr);
    u64(e + 8, r.size);
    dv.setUint32(e + 16, r.type, true);
  });

  const parts = [
    `PVH ELF${elf.elfClass}, entry ${hex(entry)}, ${elf.segments.length} segments`,
    ...modules.map((m, i) => `module ${m.data.length} bytes at ${hex(moduleGpas[i])}`),
  ];
  return {
    entry: {
      // pvh.pandoc: "ebx: contains the physical memory address where the loader has placed the
      // boot start info structure"; "eflags: bit 17 (VM) must be cleared. Bit 9 (IF) must be
      // cleared. Bit 8 (TF) must be cleared"; the other registers are undefined.
      regs: { rip: BigInt(entry), rbx: BigInt(PVH_START_INFO_GPA), rflags: RFLAGS_RESERVED },
      // "cr0: bit 0 (PE) must be set. All the other writeable bits are cleared. cr4: all bits are
      // cleared. cs: 32-bit code segment, base 0, limit 0xFFFFFFFF. ds, es, ss: 32-bit data
      // segments, base 0, limit 0xFFFFFFFF. tr: a 32-bit TSS (active) with a base of 0 and a
      // limit of 0x67."
      sregs: (reset) => {
        const s = protectedMode32(reset, PVH_GDT_GPA);
        return {
          ...s,
          cr0: CR0_PE | CR0_ET,
          tr: { ...s.tr, base: 0n, limit: 0x67, type: 11, present: 1, s: 0, unusable: 0 },
        };
      },
    },
    description: parts.join(', '),
  };
};

/** The modules a PVH kernel gets: `-initrd a,b` as multiboot takes them, else the one initrd. */
function modulesOf(opts: LoaderOptions): readonly { readonly data: Uint8Array; readonly cmdline: string }[] {
  if (opts.modules !== undefined && opts.modules.length > 0) return opts.modules;
  if (opts.initrd !== undefined && opts.initrd.length > 0)
    return [{ data: opts.initrd, cmdline: opts.initrdName ?? '' }];
  return [];
}
