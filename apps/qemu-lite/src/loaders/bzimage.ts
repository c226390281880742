/**
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry.
 *
 * A bzImage is the real-mode setup code (the first `(setup_sects + 1) * 512` bytes, with the
 * setup header at 0x1f1) followed by the protected-mode kernel (a self-decompressing image).
 * We skip the real-mode setup entirely, as kvmtool, Firecracker and QEMU's linuxboot do: we
 * fill the "zero page" (`struct boot_params`) the setup code would have filled, copy the
 * protected-mode kernel to 1 MiB, and enter its 64-bit entry point (`startup_64`, load address
 * + 0x200) in long mode, as boot.rst's "64-bit Boot Protocol" describes:
 *
 *   - paging on, with an identity map of the memory the kernel, zero page, command line and
 *     initrd occupy (we map all of the first 4 GiB with 2 MiB pages);
 *   - a GDT with __BOOT_CS (0x10) a flat 64-bit code segment and __BOOT_DS (0x18) a flat data
 *     segment, CS = __BOOT_CS, DS/ES/SS = __BOOT_DS;
 *   - interrupts disabled, RSI = the zero page's address.
 *
 * That needs protocol 2.12 or later (the first with xloadflags, whose XLF_KERNEL_64 bit says
 * the 64-bit entry exists).
 *
 * Three entries share the zero page, command line, initrd and layout (see
 * `BzImageLoaderOptions`): the protocol's 64-bit entry above, the bzImage's startup_64 at load
 * address + 0x200, where the kernel decompresses itself; the protocol's 32-bit entry
 * (boot.rst, "32-bit Boot Protocol"): code32_start (startup_32) in flat 32-bit protected mode
 * with paging off, __BOOT_CS/__BOOT_DS in a 32-bit GDT, ESI = the zero page, where the kernel
 * builds its own page tables, turns long mode on itself and decompresses itself (what an engine
 * must do to take a kernel from a 32-bit boot loader); and, by default, the kernel proper: we decompress the payload on the host and enter vmlinux's
 * startup_64 at its physical address, skipping a decompressor that costs minutes on a nested
 * machine where every guest instruction is slow (the section "payload decompressed on the host"
 * below says what we do in its place; vmlinux's segments land at LOAD_PHYSICAL_ADDR, 16 MiB).
 * Everything is checked before anything is written: a short, foreign or inconsistent image is
 * a `LoaderError` that names the field and the numbers.
 *
 * Guest-physical layout (all below the 640 KiB conventional-memory ceiling, which the kernel
 * reserves for itself early on, so nothing here is ever handed out as free memory while the
 * kernel still needs it; the kernel copies the zero page and command line out before it frees
 * anything):
 *
 *   0x00500 - 0x0051f  boot GDT: null, null, __BOOT_CS (64-bit code; 32-bit on the 32-bit entry), __BOOT_DS
 *   0x06000 - 0x06fff  boot stack (RSP = 0x7000; startup_64 switches to its own at once)
 *   0x07000 - 0x07fff  boot_params, the zero page (RSI)
 *   0x09000            PML4: entry 0 → the PDPT (64-bit entries only, as are the next two)
 *   0x0a000            PDPT: entries 0..3 → the four page directories
 *   0x0b000 - 0x0efff  four page directories, 2 MiB pages, identity map of 0 - 4 GiB
 *   0x20000 - ...      the command line, NUL-terminated (at most cmdline_size bytes)
 *   0x100000           the protected-mode kernel (code32_start's traditional value), or, on
 *                      the default entry, vmlinux's PT_LOAD segments at their p_paddr
 *   top of RAM         the initrd, page-aligned, below initrd_addr_max and above the kernel's
 *                      decompression area (pref_address + init_size)
 */
import type { KvmSegment, KvmSregs } from '@kvm/core';
import { CR0_ET, CR0_PE, protectedMode32, RFLAGS_RESERVED, writeBootGdt } from './cpu-state.js';
import { readElf } from './elf.js';
import {
  hostDecompress,
  hostDecompresses,
  type PayloadDecompressor,
  type PayloadFormat,
  payloadFormat,
} from './payload.js';
import {
  E820_TYPE,
  type E820Entry,
  type LoadedGuest,
  type Loader,
  LoaderError,
  type LoaderMachine,
  type LoaderOptions,
} from './types.js';

const FORMAT = 'bzImage';

// --- struct setup_header, at 0x1f1 in both the image and boot_params (boot.rst, "The real-mode
// kernel header"; arch/x86/include/uapi/asm/bootparam.h). Offsets are from the image start. ---

/** Byte offsets of the setup header fields we read or write. */
export const HDR = {
  SETUP_SECTS: 0x1f1,
  SYSSIZE: 0x1f4,
  VID_MODE: 0x1fa,
  BOOT_FLAG: 0x1fe,
  JUMP: 0x200,
  HEADER: 0x202,
  VERSION: 0x206,
  KERNEL_VERSION: 0x20e,
  TYPE_OF_LOADER: 0x210,
  LOADFLAGS: 0x211,
  CODE32_START: 0x214,
  RAMDISK_IMAGE: 0x218,
  RAMDISK_SIZE: 0x21c,
  HEAP_END_PTR: 0x224,
  CMD_LINE_PTR: 0x228,
  INITRD_ADDR_MAX: 0x22c,
  KERNEL_ALIGNMENT: 0x230,
  RELOCATABLE_KERNEL: 0x234,
  XLOADFLAGS: 0x236,
  CMDLINE_SIZE: 0x238,
  PAYLOAD_OFFSET: 0x248,
  PAYLOAD_LENGTH: 0x24c,
  PREF_ADDRESS: 0x258,
  INIT_SIZE: 0x260,
} as const;

/** Start of the setup header: boot_params.hdr and the image agree on it. */
export const SETUP_HEADER_OFFSET = 0x1f1;
/** "HdrS", little-endian, at 0x202. */
export const HDRS_MAGIC = 0x53726448;
/** 0xAA55 at 0x1fe: the old boot-sector signature, still required. */
export const BOOT_FLAG_MAGIC = 0xaa55;
/** Protocol 2.12 added xloadflags and with it the 64-bit entry point. */
export const MIN_PROTOCOL_VERSION = 0x020c;
/** The 64-bit entry point is this far into the protected-mode kernel (boot.rst, 64-bit protocol). */
export const STARTUP_64_OFFSET = 0x200;

/** loadflags bits. */
export const LOADED_HIGH = 1 << 0;
export const CAN_USE_HEAP = 1 << 7;
/** xloadflags bits. */
export const XLF_KERNEL_64 = 1 << 0;
/** type_of_loader 0xff: "undefined" boot loader, what boot.rst asks of loaders with no assigned id. */
export const LOADER_TYPE_UNDEFINED = 0xff;

// --- struct boot_params, the zero page (Documentation/arch/x86/zero-page.rst) ---

export const BOOT_PARAMS_SIZE = 0x1000;
/** Offsets into boot_params outside the setup header. */
export const BP = {
  /** screen_info.ext_mem_k: KiB of memory above 1 MiB, 16 bits. */
  EXT_MEM_K: 0x002,
  EXT_RAMDISK_IMAGE: 0x0c0,
  EXT_RAMDISK_SIZE: 0x0c4,
  EXT_CMD_LINE_PTR: 0x0c8,
  /** KiB of memory above 1 MiB, 32 bits. */
  ALT_MEM_K: 0x1e0,
  E820_ENTRIES: 0x1e8,
  /** Must stay 0: a non-zero sentinel makes the kernel assume a loader that copied junk. */
  SENTINEL: 0x1ef,
  E820_TABLE: 0x2d0,
} as const;
/** struct boot_e820_entry: u64 addr, u64 size, u32 type, packed. */
export const E820_ENTRY_SIZE = 20;
/** E820_MAX_ENTRIES_ZEROPAGE: the table in boot_params holds this many. */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

// --- Our guest-physical layout (see the file comment) ---

export const BOOT_GDT_GPA = 0x500;
export const BOOT_STACK_TOP_GPA = 0x7000;
export const ZERO_PAGE_GPA = 0x7000;
export const PML4_GPA = 0x9000;
export const PDPT_GPA = 0xa000;
export const PD_GPA = 0xb000;
/** Page directories: each maps 1 GiB with 2 MiB pages; four map the 32-bit address space. */
export const PD_COUNT = 4;
export const CMDLINE_GPA = 0x20000;
/** The protected-mode kernel's load address: 1 MiB, what code32_start says for every bzImage. */
export const KERNEL_LOAD_GPA = 0x100000;
/** The boot GDT: null, unused (Linux reserves GDT_ENTRY_BOOT_CS - 1), code, data. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
const BOOT_GDT_ENTRIES = 4;
/** Heap end as boot.rst recommends for a full-size setup heap (offset from the setup start - 0x200). */
const HEAP_END = 0xfe00;

// Page-table entry bits (SDM Vol. 3A 4.5, Tables 4-15/4-17).
const PT_PRESENT_MASK = 0x1;
const PT_WRITABLE_MASK = 0x2;
const PT_ACCESSED_MASK = 0x20;
const PT_DIRTY_MASK = 0x40;
const PT_PAGE_SIZE_MASK = 0x80;
const LARGE_PAGE_SIZE = 0x200000;

// Control-register and EFER bits for IA-32e mode (SDM Vol. 3A 2.5, 9.8.5).
const CR0_PG = 0x80000000n;
const CR0_NW = 0x20000000n;
const CR0_CD = 0x40000000n;
const CR4_PAE = 0x20n;
const EFER_LME = 0x100n;
const EFER_LMA = 0x400n;

/** What the setup header says, after validation. */
export interface BzImageHeader {
  /** Boot protocol version, e.g. 0x020f. */
  readonly version: number;
  /** Bytes of the real-mode part (boot sector + setup), i.e. where the protected-mode kernel starts. */
  readonly setupSize: number;
  /** Bytes of the protected-mode kernel (syssize * 16). */
  readonly kernelSize: number;
  /** End of the setup header (0x202 + the jump's offset byte at 0x201). */
  readonly headerEnd: number;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly initrdAddrMax: number;
  readonly kernelAlignment: number;
  readonly relocatable: boolean;
  /** Longest command line the kernel accepts, not counting the NUL. */
  readonly cmdlineSize: number;
  /** Where the kernel decompresses itself to (pref_address; its low 32 bits suffice below 4 GiB). */
  readonly prefAddress: number;
  /** Bytes the kernel needs from its decompression address while it sets itself up. */
  readonly initSize: number;
  /** The kernel_version string, when the header points at one. */
  readonly kernelVersion: string | undefined;
  /** The compressed kernel (payload_offset/payload_length, protocol 2.08): offset from the image start. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
}

function fail(message: string): never {
  throw new LoaderError(FORMAT, message);
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** True when the image carries the setup header's "HdrS" magic: worth handing to `loadBzImage`. */
export function probeBzImage(image: Uint8Array): boolean {
  if (image.length < HDR.HEADER + 4) return false;
  return (
    new DataView(image.buffer, image.byteOffset, image.length).getUint32(HDR.HEADER, true) === HDRS_MAGIC
  );
}

/** Reads and checks the setup header. Throws `LoaderError` saying what is wrong. */
export function parseBzImageHeader(image: Uint8Array): BzImageHeader {
  if (image.length < HDR.HEADER + 4) {
    fail(
      `image is ${image.length} bytes: too short to hold the setup header ("HdrS" is at ${hex(HDR.HEADER)})`,
    );
  }
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const magic = view.getUint32(HDR.HEADER, true);
  if (magic !== HDRS_MAGIC) {
    fail(`no "HdrS" magic at ${hex(HDR.HEADER)} (found ${hex(magic)}): not a Linux kernel image`);
  }
  const bootFlag = view.getUint16(HDR.BOOT_FLAG, true);
  if (bootFlag !== BOOT_FLAG_MAGIC) {
    fail(`boot_flag at ${hex(HDR.BOOT_FLAG)} is ${hex(bootFlag)}, not 0xaa55`);
  }
  // The header is 0x202 + the jump instruction's displacement bytes long (boot.rst, 64-bit
  // protocol): fields past that end do not exist in this kernel's header.
  const headerEnd = HDR.HEADER + image[HDR.JUMP + 1]!;
  if (image.length < HDR.VERSION + 2 || headerEnd < HDR.VERSION + 2) {
    fail(`setup header ends at ${hex(headerEnd)} before the protocol version field`);
  }
  const version = view.getUint16(HDR.VERSION, true);
  const versionText = `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
  if (version >> 8 !== 2) {
    fail(`version at ${hex(HDR.VERSION)} is ${hex(version)}: no boot protocol ${versionText} exists (2.x)`);
  }
  if (version < MIN_PROTOCOL_VERSION) {
    fail(`boot protocol ${versionText} is older than 2.12, the first with a 64-bit entry point`);
  }
  if (headerEnd < HDR.INIT_SIZE + 4) {
    fail(
      `setup header ends at ${hex(headerEnd)}, but protocol ${versionText} has fields up to ${hex(HDR.INIT_SIZE + 4)}`,
    );
  }
  if (image.length < headerEnd) {
    fail(
      `image is ${image.length} bytes: truncated inside the setup header, which ends at ${hex(headerEnd)}`,
    );
  }
  const loadflags = image[HDR.LOADFLAGS]!;
  if ((loadflags & LOADED_HIGH) === 0) {
    fail('loadflags.LOADED_HIGH is clear: a zImage (loaded at 0x10000), not a bzImage');
  }
  const xloadflags = view.getUint16(HDR.XLOADFLAGS, true);
  if ((xloadflags & XLF_KERNEL_64) === 0) {
    fail(
      `xloadflags ${hex(xloadflags)} lacks XLF_KERNEL_64: a 32-bit kernel, which has no 64-bit entry point`,
    );
  }
  // setup_sects 0 means 4 (boot.rst: "for backwards compatibility"); +1 for the boot sector.
  const rawSetupSects = image[HDR.SETUP_SECTS]!;
  const setupSects = rawSetupSects || 4;
  const setupSize = (setupSects + 1) * 512;
  if (image.length <= setupSize) {
    fail(
      `image is ${image.length} bytes: truncated inside the real-mode setup, which setup_sects ${setupSects} says is ${setupSize} bytes`,
    );
  }
  const syssize = view.getUint32(HDR.SYSSIZE, true);
  if (syssize === 0) fail('syssize is 0: the header does not say how big the protected-mode kernel is');
  const kernelSize = syssize * 16;
  const fileKernelBytes = image.length - setupSize;
  if (kernelSize > fileKernelBytes) {
    fail(
      `truncated: syssize says the protected-mode kernel is ${kernelSize} bytes, the image has ${fileKernelBytes} after the ${setupSize}-byte setup (setup_sects ${rawSetupSects})`,
    );
  }
  if (kernelSize <= STARTUP_64_OFFSET) {
    fail(
      `the protected-mode kernel is ${kernelSize} bytes: too small to contain startup_64 at ${hex(STARTUP_64_OFFSET)}`,
    );
  }
  const kernelVersionPtr = view.getUint16(HDR.KERNEL_VERSION, true);
  let kernelVersion: string | undefined;
  if (kernelVersionPtr !== 0 && kernelVersionPtr + 0x200 < setupSize) {
    const start = kernelVersionPtr + 0x200;
    let end = start;
    while (end < setupSize && end - start < 256 && image[end] !== 0) end++;
    kernelVersion = new TextDecoder('latin1').decode(image.subarray(start, end));
  }
  // payload_offset is from the start of the protected-mode kernel (boot.rst, protocol 2.08).
  const payloadOffset = setupSize + view.getUint32(HDR.PAYLOAD_OFFSET, true);
  const payloadLength = view.getUint32(HDR.PAYLOAD_LENGTH, true);
  if (payloadLength === 0 || payloadOffset + payloadLength > setupSize + kernelSize) {
    fail(
      `payload_offset ${hex(payloadOffset - setupSize)} + payload_length ${hex(payloadLength)} ` +
        `do not lie inside the ${kernelSize}-byte protected-mode kernel`,
    );
  }
  // The payload must start with a compressor's magic. This is also what catches a wrong
  // setup_sects: it moves the protected-mode kernel, and payload_offset counts from there, so a
  // corrupt setup_sects (0, or off by one) lands payload_offset in the middle of other bytes.
  const payloadStart = image.subarray(payloadOffset, payloadOffset + Math.min(payloadLength, 6));
  if (payloadFormat(payloadStart) === 'unknown') {
    const found = [...payloadStart].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    fail(
      `no compressed kernel at payload_offset ${hex(payloadOffset - setupSize)} (found ${found}, the magic of ` +
        `no gzip, xz, zstd, bzip2, lzma, lzo or lz4 stream): setup_sects ${rawSetupSects}` +
        `${rawSetupSects === 0 ? ' (read as 4)' : ''} puts the protected-mode kernel at ${hex(setupSize)}, ` +
        'and setup_sects or payload_offset is wrong',
    );
  }
  const prefHigh = view.getUint32(HDR.PREF_ADDRESS + 4, true);
  const prefAddress = view.getUint32(HDR.PREF_ADDRESS, true);
  if (prefHigh !== 0)
    fail(`pref_address ${hex(prefHigh)}${prefAddress.toString(16).padStart(8, '0')} is above 4 GiB`);
  return {
    version,
    setupSize,
    kernelSize,
    headerEnd,
    loadflags,
    xloadflags,
    initrdAddrMax: view.getUint32(HDR.INITRD_ADDR_MAX, true),
    kernelAlignment: view.getUint32(HDR.KERNEL_ALIGNMENT, true),
    relocatable: image[HDR.RELOCATABLE_KERNEL] !== 0,
    cmdlineSize: view.getUint32(HDR.CMDLINE_SIZE, true),
    prefAddress,
    initSize: view.getUint32(HDR.INIT_SIZE, true),
    kernelVersion,
    payloadOffset,
    payloadLength,
  };
}

/**
 * Where the kernel will live while it decompresses: from the load address to the end of the
 * area it decompresses into. A relocatable kernel entered at 64-bit startup decompresses at its
 * load address rounded up to kernel_alignment, but never below LOAD_PHYSICAL_ADDR, which is what
 * pref_address holds (arch/x86/boot/compressed/head_64.S); it then needs init_size bytes there.
 * A non-relocatable one runs where it is loaded and needs init_size bytes from there.
 */
export function kernelFootprintEnd(hdr: BzImageHeader): number {
  const loadedEnd = KERNEL_LOAD_GPA + hdr.kernelSize;
  if (!hdr.relocatable) return Math.max(loadedEnd, KERNEL_LOAD_GPA + hdr.initSize);
  const align = hdr.kernelAlignment > 0 ? hdr.kernelAlignment : LARGE_PAGE_SIZE;
  const aligned = Math.ceil(KERNEL_LOAD_GPA / align) * align;
  return Math.max(loadedEnd, Math.max(aligned, hdr.prefAddress) + hdr.initSize);
}

/** Writes the identity map of 0 - 4 GiB: PML4 → PDPT → four page directories of 2 MiB pages. */
export function writeIdentityPageTables(ram: Uint8Array): void {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.length);
  ram.fill(0, PML4_GPA, PD_GPA + PD_COUNT * 0x1000);
  const table = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_ACCESSED_MASK;
  view.setUint32(PML4_GPA, PDPT_GPA | table, true);
  for (let pd = 0; pd < PD_COUNT; pd++) {
    const pdGpa = PD_GPA + pd * 0x1000;
    view.setUint32(PDPT_GPA + pd * 8, pdGpa | table, true);
    for (let i = 0; i < 512; i++) {
      // gpa = pd GiB + i * 2 MiB; as two 32-bit halves (bits 32+ are pd >> 2, zero below 4 GiB).
      const gpa = pd * 0x40000000 + i * LARGE_PAGE_SIZE;
      view.setUint32(pdGpa + i * 8, (gpa >>> 0) | table | PT_DIRTY_MASK | PT_PAGE_SIZE_MASK, true);
      view.setUint32(pdGpa + i * 8 + 4, Math.floor(gpa / 0x100000000), true);
    }
  }
}

/**
 * The boot GDT for the 64-bit entry (SDM Vol. 3A 3.4.5, 5.2.1): __BOOT_CS is code with L=1,
 * D=0 (type 0xb execute/read accessed, G=1, limit 0xfffff), __BOOT_DS is flat read/write data.
 */
export function writeBootGdt64(ram: Uint8Array): void {
  const view = new DataView(ram.buffer, ram.byteOffset, ram.length);
  const put = (index: number, low: number, high: number): void => {
    view.setUint32(BOOT_GDT_GPA + index * 8, low, true);
    view.setUint32(BOOT_GDT_GPA + index * 8 + 4, high, true);
  };
  put(0, 0, 0);
  put(1, 0, 0);
  put(BOOT_CS >> 3, 0x0000ffff, 0x00af9b00);
  put(BOOT_DS >> 3, 0x0000ffff, 0x00cf9300);
}

function segment(selector: number, type: number, l: number, db: number): KvmSegment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db,
    s: 1,
    l,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

/**
 * Long mode as the 64-bit boot protocol asks: CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CS.L = 1,
 * CR3 at our PML4. CR0.CD/NW are cleared: firmware hands over with caches on, and a guest CR0.CD
 * would make every access uncached where the hypervisor honours it. TR and LDTR keep their reset
 * values (a busy TSS and an unusable LDT satisfy VM-entry checks).
 */
export function longModeSregs(reset: KvmSregs): KvmSregs {
  const data = segment(BOOT_DS, 0x3, 0, 1);
  return {
    ...reset,
    cs: segment(BOOT_CS, 0xb, 1, 0),
    ds: { ...data },
    es: { ...data },
    fs: { ...data },
    gs: { ...data },
    ss: { ...data },
    gdt: { base: BigInt(BOOT_GDT_GPA), limit: BOOT_GDT_ENTRIES * 8 - 1 },
    idt: { base: 0n, limit: 0 },
    cr0: (reset.cr0 & ~(CR0_CD | CR0_NW)) | CR0_PE | CR0_ET | CR0_PG,
    cr3: BigInt(PML4_GPA),
    cr4: CR4_PAE,
    efer: EFER_LME | EFER_LMA,
  };
}

/** Writes the e820 table into boot_params (the caller checked it fits). */
function writeE820(view: DataView, e820: readonly E820Entry[]): void {
  view.setUint8(ZERO_PAGE_GPA + BP.E820_ENTRIES, e820.length);
  e820.forEach((entry, i) => {
    const at = ZERO_PAGE_GPA + BP.E820_TABLE + i * E820_ENTRY_SIZE;
    view.setUint32(at, entry.addr >>> 0, true);
    view.setUint32(at + 4, Math.floor(entry.addr / 0x100000000), true);
    view.setUint32(at + 8, entry.size >>> 0, true);
    view.setUint32(at + 12, Math.floor(entry.size / 0x100000000), true);
    view.setUint32(at + 16, entry.type, true);
  });
}

/**
 * The end of the run of contiguous e820 RAM that contains `gpa` (adjacent RAM entries merged),
 * or 0 when `gpa` is not in RAM.
 */
function ramRangeEnd(e820: readonly E820Entry[], gpa: number): number {
  const containing = e820.find((e) => e.type === E820_TYPE.RAM && gpa >= e.addr && gpa < e.addr + e.size);
  if (containing === undefined) return 0;
  let end = containing.addr + containing.size;
  for (;;) {
    const next = e820.find((e) => e.type === E820_TYPE.RAM && e.addr <= end && e.addr + e.size > end);
    if (next === undefined) return end;
    end = next.addr + next.size;
  }
}

// --- The payload decompressed on the host (the fast path) ---
//
// The protected-mode kernel is a decompressor plus the real kernel (vmlinux, an ELF file)
// compressed as its payload (payload_offset/payload_length, boot protocol 2.08). On a machine
// where every guest instruction is expensive (this project's nested KVM: see
// tools/linux/README.md) the decompressor dominates the boot, so by default we do its job here,
// as Firecracker does by taking vmlinux directly: decompress the payload, copy the ELF's
// PT_LOAD segments to their physical addresses, and enter the kernel's own startup_64 (the
// ELF entry point) in the same long-mode state and with the same boot_params. The kernel proper
// then runs where it was linked (LOAD_PHYSICAL_ADDR), which is also where its decompressor would
// have put it with `nokaslr`; without `nokaslr` it simply runs unrandomized. gzip and xz (what
// distributions ship; Debian's is xz) are decompressed in process (payload.ts); a payload in
// another format is refused with its name, and QEMU_LITE_BZIMAGE_ENTRY=decompressor boots it.

export { hostDecompress, type PayloadDecompressor, type PayloadFormat, payloadFormat } from './payload.js';

/** One PT_LOAD segment of vmlinux. */
export interface VmlinuxSegment {
  readonly fileOffset: number;
  readonly paddr: number;
  readonly fileSize: number;
  readonly memSize: number;
}

/** What we take from the decompressed kernel's ELF header. */
export interface Vmlinux {
  /** e_entry: physical address of startup_64 (the kernel links ENTRY(phys_startup_64)). */
  readonly entry: number;
  readonly segments: readonly VmlinuxSegment[];
  /** End of the highest segment in memory. */
  readonly end: number;
}

/**
 * Reads vmlinux's ELF header and program headers (elf.ts: the loaders' one ELF reader): an x86-64
 * executable whose entry lies in one of its loaded segments. Throws `LoaderError` naming what is
 * wrong.
 */
export function parseVmlinux(bytes: Uint8Array): Vmlinux {
  const what = 'the decompressed kernel';
  const elf = readElf(bytes, FORMAT, what);
  if (elf.elfClass !== 64) fail(`${what} is a 32-bit ELF; the bzImage's payload is an x86-64 vmlinux`);
  const segments = elf.segments.map((s) => ({
    fileOffset: s.offset,
    paddr: s.paddr,
    fileSize: s.filesz,
    memSize: s.memsz,
  }));
  const entry = elf.entry;
  const inSegment = segments.some((s) => entry >= s.paddr && entry < s.paddr + s.fileSize);
  if (!inSegment) fail(`${what}: entry point ${hex(entry)} is in none of its segments`);
  const end = Math.max(...segments.map((s) => s.paddr + s.memSize));
  return { entry, segments, end };
}

/** The entries `makeBzImageLoader` knows (see `BzImageLoaderOptions.entry`). */
export type BzImageEntry = 'kernel' | 'decompressor' | 'protocol32';
export const BZIMAGE_ENTRIES: readonly BzImageEntry[] = ['kernel', 'decompressor', 'protocol32'];

/** How `makeBzImageLoader` enters the kernel. */
export interface BzImageLoaderOptions {
  /**
   * 'kernel': decompress the payload on the host with `decompress` and enter vmlinux's
   * startup_64 (a format `decompress` cannot handle is a LoaderError naming it);
   * 'decompressor': the 64-bit boot protocol as written: enter the bzImage's own startup_64 at
   * the load address + 0x200 in long mode and let it decompress itself;
   * 'protocol32': the 32-bit boot protocol: enter code32_start (startup_32) in flat protected
   * mode without paging; the kernel enables long mode and decompresses itself.
   */
  readonly entry: BzImageEntry;
  readonly decompress?: PayloadDecompressor;
}

/**
 * The bzImage loader with the entry chosen explicitly (tests use this). See the file comment for
 * the layout and `BzImageLoaderOptions` for the two entries.
 */
export function makeBzImageLoader(options: BzImageLoaderOptions): Loader {
  return (image, machine, opts) => loadWith(options, image, machine, opts);
}

/**
 * Loads a bzImage. By default, on every engine, the payload is decompressed on the host and
 * vmlinux entered directly (the fastest way in: the guest never runs the decompressor);
 * QEMU_LITE_BZIMAGE_ENTRY in the environment selects another entry: `decompressor` (the 64-bit
 * boot protocol as written) or `protocol32` (the 32-bit one). Any other value is a LoaderError.
 * Where the platform cannot gunzip in process (a browser) a gzip kernel's default is `decompressor`.
 */
export const loadBzImage: Loader = (image, machine, opts) => {
  // A browser has no `process`: there the platform's default applies.
  let wanted = typeof process === 'undefined' ? undefined : process.env.QEMU_LITE_BZIMAGE_ENTRY;
  if (wanted === undefined) {
    const hdr = parseBzImageHeader(image);
    const format = payloadFormat(image.subarray(hdr.payloadOffset, hdr.payloadOffset + hdr.payloadLength));
    // Only gzip can be missing (a browser); any other format keeps the 'kernel' entry's error.
    wanted = format === 'gzip' && !hostDecompresses(format) ? 'decompressor' : 'kernel';
  }
  const entry = BZIMAGE_ENTRIES.find((e) => e === wanted);
  if (entry === undefined) {
    fail(`QEMU_LITE_BZIMAGE_ENTRY=${wanted} is no entry: ${BZIMAGE_ENTRIES.join(', ')}`);
  }
  return loadWith({ entry, decompress: hostDecompress }, image, machine, opts);
};

function loadWith(
  options: BzImageLoaderOptions,
  image: Uint8Array,
  machine: LoaderMachine,
  opts: LoaderOptions,
): LoadedGuest {
  const hdr = parseBzImageHeader(image);
  const { ram, e820 } = machine;
  let vmlinux: (Vmlinux & { readonly bytes: Uint8Array; readonly format: PayloadFormat }) | undefined;
  if (options.entry === 'kernel' && options.decompress !== undefined) {
    const payload = image.subarray(hdr.payloadOffset, hdr.payloadOffset + hdr.payloadLength);
    const format = payloadFormat(payload);
    const bytes = options.decompress(format, payload);
    if (bytes === undefined) {
      fail(
        `unsupported compression ${format} in the kernel payload (qemu-lite decompresses gzip and xz; ` +
          'QEMU_LITE_BZIMAGE_ENTRY=decompressor lets the kernel decompress itself)',
      );
    }
    vmlinux = { ...parseVmlinux(bytes), bytes, format };
  }
  if (vmlinux !== undefined) {
    const low = vmlinux.segments.find((seg) => seg.paddr < KERNEL_LOAD_GPA);
    if (low !== undefined) {
      fail(
        `the decompressed kernel has a segment at ${hex(low.paddr)}, below 1 MiB where the boot structures live`,
      );
    }
  }
  if (e820.length > E820_MAX_ENTRIES_ZEROPAGE) {
    fail(`the memory map has ${e820.length} entries; boot_params holds at most ${E820_MAX_ENTRIES_ZEROPAGE}`);
  }
  const mib = (n: number): string => `${Math.ceil(n / 0x100000)} MiB`;

  // The kernel must fit in the RAM range that starts at 1 MiB, decompression area included.
  const footprintEnd = Math.max(kernelFootprintEnd(hdr), vmlinux?.end ?? 0);
  const highRamEnd = Math.min(ramRangeEnd(e820, KERNEL_LOAD_GPA), ram.length);
  if (footprintEnd > highRamEnd) {
    fail(
      `the kernel needs RAM up to ${hex(footprintEnd)} (loaded at ${hex(KERNEL_LOAD_GPA)}, init_size ${hex(hdr.initSize)}) ` +
        `but RAM ends at ${hex(highRamEnd)}: give the guest at least ${mib(footprintEnd)}`,
    );
  }
  if (ramRangeEnd(e820, 0) < CMDLINE_GPA + 0x1000 || ram.length < CMDLINE_GPA + 0x1000) {
    fail('the memory map has no conventional RAM below 640 KiB for the zero page and page tables');
  }

  // The command line: cmdline_size excludes the terminating NUL (boot.rst, protocol 2.06).
  const cmdline = new TextEncoder().encode(opts.cmdline);
  const cmdlineMax = Math.min(hdr.cmdlineSize, 0x9fc00 - CMDLINE_GPA - 1);
  if (cmdline.length > cmdlineMax) {
    fail(
      `the command line is ${cmdline.length} bytes; this kernel accepts at most ${cmdlineMax} (cmdline_size)`,
    );
  }
  if (cmdline.includes(0)) fail('the command line contains a NUL byte');

  // The initrd goes as high as it may: below initrd_addr_max (the highest address its last
  // byte may occupy) and the end of RAM, page-aligned, clear of the kernel's footprint.
  let initrdGpa = 0;
  const initrd = opts.initrd;
  if (initrd !== undefined && initrd.length > 0) {
    const top = Math.min(highRamEnd, hdr.initrdAddrMax + 1);
    initrdGpa = Math.floor((top - initrd.length) / 0x1000) * 0x1000;
    if (initrdGpa < footprintEnd) {
      fail(
        `the ${initrd.length}-byte initrd does not fit between the kernel's end ${hex(footprintEnd)} ` +
          `and ${hex(top)} (end of RAM or initrd_addr_max): give the guest at least ${mib(footprintEnd + initrd.length + 0x1000)}`,
      );
    }
  }

  // Everything checked: write.
  const view = new DataView(ram.buffer, ram.byteOffset, ram.length);
  if (vmlinux === undefined) {
    ram.set(image.subarray(hdr.setupSize, hdr.setupSize + hdr.kernelSize), KERNEL_LOAD_GPA);
  } else {
    // What the decompressor's parse_elf does: each PT_LOAD at its physical address; the rest
    // of p_memsz (.bss and friends) zero.
    for (const seg of vmlinux.segments) {
      ram.set(vmlinux.bytes.subarray(seg.fileOffset, seg.fileOffset + seg.fileSize), seg.paddr);
      ram.fill(0, seg.paddr + seg.fileSize, seg.paddr + seg.memSize);
    }
  }
  if (initrd !== undefined && initrd.length > 0) ram.set(initrd, initrdGpa);
  ram.fill(0, CMDLINE_GPA, CMDLINE_GPA + cmdline.length + 1);
  ram.set(cmdline, CMDLINE_GPA);

  // The zero page: all zero, then the setup header copied from the image (boot.rst: "the setup
  // header ... should be loaded into struct boot_params"), then the fields a loader fills.
  ram.fill(0, ZERO_PAGE_GPA, ZERO_PAGE_GPA + BOOT_PARAMS_SIZE);
  ram.set(image.subarray(SETUP_HEADER_OFFSET, hdr.headerEnd), ZERO_PAGE_GPA + SETUP_HEADER_OFFSET);
  const bp = (offset: number): number => ZERO_PAGE_GPA + offset;
  view.setUint8(bp(HDR.TYPE_OF_LOADER), LOADER_TYPE_UNDEFINED);
  view.setUint8(bp(HDR.LOADFLAGS), hdr.loadflags | CAN_USE_HEAP);
  view.setUint16(bp(HDR.HEAP_END_PTR), HEAP_END, true);
  view.setUint16(bp(HDR.VID_MODE), 0xffff, true); // "normal" text mode: setup is skipped anyway
  view.setUint32(bp(HDR.CODE32_START), KERNEL_LOAD_GPA, true);
  view.setUint32(bp(HDR.CMD_LINE_PTR), CMDLINE_GPA, true);
  view.setUint32(bp(BP.EXT_CMD_LINE_PTR), 0, true);
  view.setUint32(bp(HDR.RAMDISK_IMAGE), initrdGpa, true);
  view.setUint32(bp(HDR.RAMDISK_SIZE), initrd?.length ?? 0, true);
  view.setUint32(bp(BP.EXT_RAMDISK_IMAGE), 0, true);
  view.setUint32(bp(BP.EXT_RAMDISK_SIZE), 0, true);
  // Memory sizes the BIOS would report (INT 15h E801/88h): KiB above 1 MiB.
  const extKiB = Math.floor((highRamEnd - KERNEL_LOAD_GPA) / 1024);
  view.setUint16(bp(BP.EXT_MEM_K), Math.min(extKiB, 0xffff), true);
  view.setUint32(bp(BP.ALT_MEM_K), extKiB, true);
  writeE820(view, e820);

  ram.fill(0, BOOT_STACK_TOP_GPA - 0x1000, BOOT_STACK_TOP_GPA);
  const versionText = `${hdr.version >> 8}.${(hdr.version & 0xff).toString().padStart(2, '0')}`;
  if (options.entry === 'protocol32') {
    // boot.rst, 32-bit boot protocol: "the CPU must be in 32-bit protected mode with paging
    // disabled; a GDT must be loaded with the descriptors for selectors __BOOT_CS(0x10) and
    // __BOOT_DS(0x18) ... flat 4G; CS must be __BOOT_CS and DS, ES, SS must be __BOOT_DS;
    // interrupt must be disabled; %esi must hold the base address of the struct boot_params;
    // %ebp, %edi and %ebx must be zero." Entered at code32_start, where we loaded the kernel.
    writeBootGdt(ram, BOOT_GDT_GPA);
    const parts32 = [
      `Linux bzImage, boot protocol ${versionText}`,
      hdr.kernelVersion !== undefined ? `kernel ${hdr.kernelVersion.split(' ')[0]}` : undefined,
      `32-bit entry ${hex(KERNEL_LOAD_GPA)} (the kernel enables long mode and decompresses itself)`,
      initrdGpa !== 0 ? `initrd ${initrd!.length} bytes at ${hex(initrdGpa)}` : undefined,
    ];
    return {
      entry: {
        regs: {
          rip: BigInt(KERNEL_LOAD_GPA),
          rsi: BigInt(ZERO_PAGE_GPA),
          rsp: BigInt(BOOT_STACK_TOP_GPA),
          rbp: 0n,
          rdi: 0n,
          rbx: 0n,
          rflags: RFLAGS_RESERVED,
        },
        sregs: (reset) => protectedMode32(reset, BOOT_GDT_GPA),
      },
      description: parts32.filter((p) => p !== undefined).join(', '),
    };
  }
  writeBootGdt64(ram);
  writeIdentityPageTables(ram);

  const entryGpa = vmlinux !== undefined ? vmlinux.entry : KERNEL_LOAD_GPA + STARTUP_64_OFFSET;
  const parts = [
    `Linux bzImage, boot protocol ${versionText}`,
    hdr.kernelVersion !== undefined ? `kernel ${hdr.kernelVersion.split(' ')[0]}` : undefined,
    vmlinux !== undefined
      ? `${vmlinux.format} payload decompressed on the host (${vmlinux.bytes.length} bytes), vmlinux entry ${hex(entryGpa)}`
      : `64-bit entry ${hex(entryGpa)} (the kernel decompresses itself)`,
    initrdGpa !== 0 ? `initrd ${initrd!.length} bytes at ${hex(initrdGpa)}` : undefined,
  ];
  return {
    entry: {
      // RSI = boot_params; RBP, RDI and RBX must be 0 (boot.rst), which is their reset value
      // and we set them anyway so no caller's defaults can leak in.
      regs: {
        rip: BigInt(entryGpa),
        rsi: BigInt(ZERO_PAGE_GPA),
        rsp: BigInt(BOOT_STACK_TOP_GPA),
        rbp: 0n,
        rdi: 0n,
        rbx: 0n,
        rflags: RFLAGS_RESERVED,
      },
      sregs: longModeSregs,
    },
    description: parts.filter((p) => p !== undefined).join(', '),
  };
}
