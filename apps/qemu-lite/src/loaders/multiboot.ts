/**
 * Multiboot v1 (Multiboot Specification 0.6.96): the header in the image's first 8 KiB, the
 * kernel loaded from its ELF program headers or, when header flag 16 is set, from the header's
 * own address fields (the "a.out kludge", which takes precedence as in GRUB and QEMU), modules
 * after the kernel, and the multiboot information structure (memory sizes, the e820 memory map,
 * command line, modules, boot loader name) in low memory. Entry state per spec 3.2: EAX =
 * 0x2BADB002, EBX = the info structure's gpa, flat 32-bit protected mode, paging and interrupts
 * off.
 */
import { protectedMode32, RFLAGS_RESERVED, writeBootGdt } from './cpu-state.js';
import { isElf, readElf } from './elf.js';
import {
  type LoadedGuest,
  type Loader,
  LoaderError,
  type LoaderMachine,
  type LoaderOptions,
} from './types.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie, 4-byte aligned, within the image's first 8192 bytes (spec 3.1.1). */
export const MULTIBOOT_SEARCH = 8192;

/** ELF p_flags: the segment is executable. */
const PF_X = 1;
/** e_ident[EI_CLASS] of a 64-bit ELF. */
const ELFCLASS64 = 2;

const HF_PAGE_ALIGN = 1 << 0;
const HF_MEMORY_INFO = 1 << 1;
const HF_VIDEO_MODE = 1 << 2;
const HF_AOUT_KLUDGE = 1 << 16;
/**
 * Requirement bits (0–15) we honour. The spec (3.1.2) says a loader must refuse a kernel that
 * sets another one; QEMU's `load_multiboot` checks none of them and boots it anyway, and so do
 * we (every kernel QEMU boots boots here), saying so in the description.
 */
const HF_SUPPORTED_REQUIREMENTS = HF_PAGE_ALIGN | HF_MEMORY_INFO | HF_VIDEO_MODE;

// multiboot_info.flags
const MBI_MEM = 1 << 0;
const MBI_CMDLINE = 1 << 2;
const MBI_MODS = 1 << 3;
const MBI_MMAP = 1 << 6;
const MBI_LOADER_NAME = 1 << 9;

/**
 * Where the loader's own structures go (boot GDT, info structure, memory map, module list,
 * strings). By default in low memory, below the EBDA at 0x9fc00 (offsets from 0): GDT at
 * 0x500, info at 0x1000, the map at 0x1100, modules at 0x1800, strings from 0x2000. A kernel
 * that occupies any of that (one linked at 0x8000, say) gets them right after itself and its
 * modules instead, page aligned, as QEMU's multiboot loader places its `mb_buf`: every kernel
 * QEMU accepts is accepted.
 */
export const MB_GDT_GPA = 0x500;
export const MB_INFO_GPA = 0x1000;
const MB_INFO_SIZE = 0x74; // up to and including the framebuffer fields
const MB_LOW_END = 0x9f000;
/** Offsets of each part from the block's base; the GDT is at the base. */
interface BootLayout {
  gdt: number;
  info: number;
  mmap: number;
  mods: number;
  strings: number;
  end: number;
}
const lowLayout = (): BootLayout => ({
  gdt: MB_GDT_GPA,
  info: MB_INFO_GPA,
  mmap: 0x1100,
  mods: 0x1800,
  strings: 0x2000,
  end: MB_LOW_END,
});
/** The same parts packed from `base` (a page), strings last: `stringBytes` of them. */
function packedLayout(base: number, mmapBytes: number, stringBytes: number): BootLayout {
  const info = base + 0x100; // the boot GDT (BOOT_GDT_SIZE bytes) fits below
  const mmap = info + 0x80;
  const mods = alignUp(mmap + mmapBytes, 16);
  const strings = mods + 16 * 16;
  return { gdt: base, info, mmap, mods, strings, end: strings + stringBytes };
}

const FORMAT = 'multiboot';
const hex = (v: number): string => `0x${v.toString(16)}`;
const PAGE = 4096;
const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

export interface MultibootHeader {
  /** File offset of the header. */
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** Finds and checks the multiboot header; undefined if there is none (not a multiboot image). */
export function findMultibootHeader(image: Uint8Array): MultibootHeader | undefined {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(image.length, MULTIBOOT_SEARCH) - 12;
  for (let at = 0; at <= limit; at += 4) {
    if (dv.getUint32(at, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(at + 4, true);
    const checksum = dv.getUint32(at + 8, true);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0 !== 0) {
      throw new LoaderError(
        FORMAT,
        `header at offset ${hex(at)}: magic + flags + checksum is ${hex((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0)}, not 0`,
      );
    }
    const header: MultibootHeader = {
      offset: at,
      flags,
      headerAddr: 0,
      loadAddr: 0,
      loadEndAddr: 0,
      bssEndAddr: 0,
      entryAddr: 0,
    };
    if (flags & HF_AOUT_KLUDGE) {
      if (at + 32 > image.length) {
        throw new LoaderError(
          FORMAT,
          `header at offset ${hex(at)} sets flag 16 but its address fields are cut off by the end of the file`,
        );
      }
      header.headerAddr = dv.getUint32(at + 12, true);
      header.loadAddr = dv.getUint32(at + 16, true);
      header.loadEndAddr = dv.getUint32(at + 20, true);
      header.bssEndAddr = dv.getUint32(at + 24, true);
      header.entryAddr = dv.getUint32(at + 28, true);
    }
    return header;
  }
  return undefined;
}

/** Whether `image` carries a multiboot header (the loader's probe; never throws). */
export function probeMultiboot(image: Uint8Array): boolean {
  try {
    return findMultibootHeader(image) !== undefined;
  } catch {
    return true; // a broken header is still a multiboot image: let the loader say what is wrong
  }
}

interface Placement {
  /** Kernel bytes to copy: file range → gpa. */
  copies: { fileOffset: number; length: number; gpa: number }[];
  /** gpa ranges to zero (bss). */
  zero: { gpa: number; length: number }[];
  /** gpa range the kernel occupies. */
  start: number;
  end: number;
  entry: number;
  /** Where the entry point must lie: inside a loaded range. */
  loaded: { start: number; end: number }[];
  how: string;
}

function placeAout(image: Uint8Array, h: MultibootHeader): Placement {
  if (h.loadAddr > h.headerAddr) {
    throw new LoaderError(FORMAT, `load_addr ${hex(h.loadAddr)} is above header_addr ${hex(h.headerAddr)}`);
  }
  const fileStart = h.offset - (h.headerAddr - h.loadAddr);
  if (fileStart < 0) {
    throw new LoaderError(
      FORMAT,
      `load_addr ${hex(h.loadAddr)} would start ${hex(-fileStart)} bytes before the beginning of the file`,
    );
  }
  const loadEnd = h.loadEndAddr === 0 ? h.loadAddr + (image.length - fileStart) : h.loadEndAddr;
  if (loadEnd < h.loadAddr) {
    throw new LoaderError(FORMAT, `load_end_addr ${hex(loadEnd)} is below load_addr ${hex(h.loadAddr)}`);
  }
  const length = loadEnd - h.loadAddr;
  if (fileStart + length > image.length) {
    throw new LoaderError(
      FORMAT,
      `load_end_addr ${hex(loadEnd)} needs file bytes up to ${hex(fileStart + length)}, but the file has ${image.length} (truncated?)`,
    );
  }
  const bssEnd = h.bssEndAddr === 0 ? loadEnd : h.bssEndAddr;
  if (bssEnd < loadEnd) {
    throw new LoaderError(FORMAT, `bss_end_addr ${hex(bssEnd)} is below load_end_addr ${hex(loadEnd)}`);
  }
  return {
    copies: [{ fileOffset: fileStart, length, gpa: h.loadAddr }],
    zero: [{ gpa: loadEnd, length: bssEnd - loadEnd }],
    start: h.loadAddr,
    end: bssEnd,
    entry: h.entryAddr,
    loaded: [{ start: h.loadAddr, end: bssEnd }],
    how: 'address fields',
  };
}

function placeElf(image: Uint8Array): Placement {
  if (image.length > 4 && image[4] === ELFCLASS64)
    throw new LoaderError(FORMAT, 'a 64-bit ELF (ELFCLASS64); multiboot v1 loads 32-bit ELF kernels only');
  const elf = readElf(image, FORMAT);
  const placement: Placement = {
    copies: [],
    zero: [],
    start: Number.POSITIVE_INFINITY,
    end: 0,
    entry: elf.entry,
    loaded: [],
    how: `ELF, ${elf.segments.length} segment${elf.segments.length === 1 ? '' : 's'}`,
  };
  for (const s of elf.segments) {
    // e_entry is a virtual address: in a kernel linked high and loaded low (p_vaddr != p_paddr)
    // it is moved by the executable segment that holds it, as QEMU's `load_elf` does (elf_ops.h:
    // "if the text segments paddr and vaddr differ we need to adjust the entry").
    const vaddr = Number(s.vaddr);
    if (vaddr !== s.paddr && s.flags & PF_X && elf.entry >= vaddr && elf.entry < vaddr + s.filesz) {
      placement.entry = (elf.entry - vaddr + s.paddr) >>> 0;
    }
    placement.copies.push({ fileOffset: s.offset, length: s.filesz, gpa: s.paddr });
    placement.zero.push({ gpa: s.paddr + s.filesz, length: s.memsz - s.filesz });
    placement.start = Math.min(placement.start, s.paddr);
    placement.end = Math.max(placement.end, s.paddr + s.memsz);
    placement.loaded.push({ start: s.paddr, end: s.paddr + s.memsz });
  }
  return placement;
}

/** Writes a NUL-terminated string at `gpa` (below `end`), returns the gpa after it. */
function putString(ram: Uint8Array, gpa: number, end: number, text: string, what: string): number {
  const bytes = new TextEncoder().encode(text);
  if (gpa + bytes.length + 1 > end) {
    throw new LoaderError(FORMAT, `the ${what} (${bytes.length} bytes) does not fit in the boot string area`);
  }
  ram.set(bytes, gpa);
  ram[gpa + bytes.length] = 0;
  return gpa + bytes.length + 1;
}

export const loadMultiboot: Loader = (
  image: Uint8Array,
  machine: LoaderMachine,
  opts: LoaderOptions,
): LoadedGuest => {
  const header = findMultibootHeader(image);
  if (!header) {
    throw new LoaderError(
      FORMAT,
      `no multiboot header (magic 0x1badb002) in the first ${MULTIBOOT_SEARCH} bytes`,
    );
  }
  const unsupported = header.flags & 0xffff & ~HF_SUPPORTED_REQUIREMENTS;
  let placement: Placement;
  if (header.flags & HF_AOUT_KLUDGE) placement = placeAout(image, header);
  else if (isElf(image)) placement = placeElf(image);
  else throw new LoaderError(FORMAT, 'the header has no address fields (flag 16) and the image is not ELF');

  const { ram, ramSize } = machine;
  if (placement.end > ramSize) {
    throw new LoaderError(
      FORMAT,
      `the kernel occupies ${hex(placement.start)}..${hex(placement.end)}, beyond the ${ramSize >> 20} MiB of RAM`,
    );
  }
  if (!placement.loaded.some((r) => placement.entry >= r.start && placement.entry < r.end)) {
    throw new LoaderError(FORMAT, `entry point ${hex(placement.entry)} is not inside the loaded kernel`);
  }

  // Kernel.
  for (const c of placement.copies) ram.set(image.subarray(c.fileOffset, c.fileOffset + c.length), c.gpa);
  for (const z of placement.zero) ram.fill(0, z.gpa, z.gpa + z.length);

  // Modules, page-aligned after the kernel (and above 1 MiB).
  const modules =
    opts.modules ?? (opts.initrd ? [{ data: opts.initrd, cmdline: opts.initrdName ?? 'initrd' }] : []);
  if (modules.length > 16)
    throw new LoaderError(FORMAT, `${modules.length} modules; at most 16 are supported`);
  const moduleAt: number[] = [];
  let next = alignUp(Math.max(placement.end, 0x100000), PAGE);
  modules.forEach((m, i) => {
    if (next + m.data.length > ramSize) {
      throw new LoaderError(
        FORMAT,
        `module ${i} (${m.data.length} bytes) does not fit in RAM after the kernel at ${hex(next)}`,
      );
    }
    ram.set(m.data, next);
    moduleAt.push(next);
    next = alignUp(next + m.data.length, PAGE);
  });

  // QEMU and GRUB pass the kernel's file name, then -append: kernels take the first word as
  // argv[0]. QEMU's `load_multiboot` formats "%s %s" (kernel_filename, kernel_cmdline), so with
  // no -append the line is the name and one space; so is ours.
  const cmdline = opts.kernelName === undefined ? opts.cmdline : `${opts.kernelName} ${opts.cmdline}`;
  const encoder = new TextEncoder();
  const stringBytes = [cmdline, 'qemu-lite', ...modules.map((m) => m.cmdline)].reduce(
    (n, text) => n + encoder.encode(text).length + 1,
    0,
  );
  const mmapBytes = machine.e820.length * 24;
  const overlaps = (start: number, end: number) =>
    placement.loaded.some((r) => r.start < end && r.end > start);
  let layout = lowLayout();
  if (overlaps(MB_GDT_GPA, layout.end)) {
    layout = packedLayout(next, mmapBytes, stringBytes);
    if (layout.end > ramSize) {
      throw new LoaderError(
        FORMAT,
        `the kernel occupies ${hex(placement.start)}..${hex(placement.end)}, and its boot information (${layout.end - next} bytes) does not fit in RAM after it at ${hex(next)}`,
      );
    }
  }

  // Info structure.
  ram.fill(0, layout.info, layout.info + MB_INFO_SIZE);
  const info = new DataView(ram.buffer, ram.byteOffset + layout.info, MB_INFO_SIZE);
  let flags = MBI_MEM | MBI_MMAP | MBI_CMDLINE | MBI_LOADER_NAME;
  // mem_lower: KiB from 0 (up to 640); mem_upper: KiB from 1 MiB to the first hole.
  const low = machine.e820.find((e) => e.addr === 0 && e.type === 1);
  const high = machine.e820.find((e) => e.addr === 0x100000 && e.type === 1);
  info.setUint32(4, Math.floor((low?.size ?? 0) / 1024), true);
  info.setUint32(8, Math.floor((high?.size ?? 0) / 1024), true);

  // Memory map: entries of { size = 20, base_addr u64, length u64, type u32 }.
  const mmap = new DataView(ram.buffer, ram.byteOffset + layout.mmap, mmapBytes);
  machine.e820.forEach((e, i) => {
    const at = i * 24;
    mmap.setUint32(at, 20, true);
    mmap.setBigUint64(at + 4, BigInt(e.addr), true);
    mmap.setBigUint64(at + 12, BigInt(e.size), true);
    mmap.setUint32(at + 20, e.type, true);
  });
  info.setUint32(44, mmapBytes, true);
  info.setUint32(48, layout.mmap, true);

  let strings = layout.strings;
  info.setUint32(16, strings, true);
  strings = putString(ram, strings, layout.end, cmdline, 'command line');
  info.setUint32(64, strings, true);
  strings = putString(ram, strings, layout.end, 'qemu-lite', 'boot loader name');

  if (modules.length > 0) {
    flags |= MBI_MODS;
    const list = new DataView(ram.buffer, ram.byteOffset + layout.mods, modules.length * 16);
    modules.forEach((m, i) => {
      list.setUint32(i * 16, moduleAt[i], true);
      list.setUint32(i * 16 + 4, moduleAt[i] + m.data.length, true);
      list.setUint32(i * 16 + 8, strings, true);
      list.setUint32(i * 16 + 12, 0, true);
      strings = putString(ram, strings, layout.end, m.cmdline, `module ${i} string`);
    });
    info.setUint32(20, modules.length, true);
    info.setUint32(24, layout.mods, true);
  }
  info.setUint32(0, flags, true);

  writeBootGdt(ram, layout.gdt);
  return {
    description: `multiboot (${placement.how}), ${hex(placement.start)}..${hex(placement.end)}, entry ${hex(placement.entry)}${modules.length ? `, ${modules.length} module(s)` : ''}${layout.gdt === MB_GDT_GPA ? '' : `, boot information at ${hex(layout.gdt)}`}${unsupported ? `, header requirement bits ${hex(unsupported)} ignored (as QEMU)` : ''}`,
    entry: {
      regs: {
        rax: BigInt(MULTIBOOT_BOOTLOADER_MAGIC),
        rbx: BigInt(layout.info),
        rip: BigInt(placement.entry),
        rflags: RFLAGS_RESERVED,
      },
      sregs: (reset) => protectedMode32(reset, layout.gdt),
    },
  };
};
