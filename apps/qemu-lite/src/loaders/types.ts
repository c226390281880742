/**
 * The loader contract: how a kernel image gets into guest RAM and what the vCPU's first state is.
 *
 * A loader is a plain function. It is handed the image bytes, the machine (guest RAM as a byte
 * view from gpa 0, its size, and the PC memory map the machine built), and the user's boot
 * options. It copies what it needs into `machine.ram` (kernel, boot structures, command line,
 * initrd, a GDT if the entry mode needs one) and returns the register state to enter with. It
 * touches nothing else: no vCPU, no VM, no files — so loaders are tested on a bare Uint8Array.
 *
 * A loader validates the image before it writes anything it would rely on: a malformed or
 * truncated image throws `LoaderError` with a message that says what is wrong with it (never a
 * guest that starts and wanders off). It must not throw anything else for any input bytes.
 *
 * Loaders in this directory:
 * - `flat.ts`      a raw binary copied to a gpa, entered at a gpa (QEMU's spelling:
 *                  `-device loader,file=F,addr=A,cpu-num=0`); takes `FlatOptions`, not a `Loader`
 * - `multiboot.ts` Multiboot v1 (ELF or a.out-kludge), entered in 32-bit protected mode
 * - `bzimage.ts`   the Linux x86 boot protocol (exports `loadBzImage: Loader` and
 *                  `probeBzImage(image): boolean`)
 * - `pvh.ts`       the PVH boot ABI: an ELF kernel with a Xen PHYS32_ENTRY note (Linux's
 *                  uncompressed vmlinux), entered in 32-bit protected mode with a start_info
 *
 * and what they use: `payload.ts` (a bzImage's compressed kernel: format by magic, gzip/xz in
 * process), `xz.ts` with `bcj-x86.ts` and `crc64.ts` (the .xz container, the x86 BCJ filter, the
 * CRC64 check), `read-image.ts` (image files from the host: regular files only, size-capped,
 * read asynchronously — the caller's side, before a loader sees the bytes).
 */
import type { KvmRegs, KvmSregs } from '@kvm/core';

/** e820 address-range types (ACPI spec, "Address Range Types"; Linux's E820_TYPE_*). */
export const E820_TYPE = {
  RAM: 1,
  RESERVED: 2,
  ACPI: 3,
  NVS: 4,
  UNUSABLE: 5,
} as const;

export type E820Type = (typeof E820_TYPE)[keyof typeof E820_TYPE];

/**
 * One e820 entry, as BIOS INT 15h/E820 reports it and as Linux's `boot_e820_entry`
 * (`addr: u64, size: u64, type: u32`) and multiboot's mmap entries carry it. Guest-physical
 * addresses: numbers are exact up to 2^53, far above any RAM size we accept.
 */
export interface E820Entry {
  /** First gpa of the range. */
  readonly addr: number;
  /** Length in bytes. */
  readonly size: number;
  readonly type: E820Type;
}

/** The guest machine as a loader sees it. */
export interface LoaderMachine {
  /** Guest RAM, byte 0 is gpa 0; `ram.length === ramSize`. */
  readonly ram: Uint8Array;
  /** Bytes of RAM (the `-m` size). */
  readonly ramSize: number;
  /**
   * The PC memory map (see `../machine/memory-map.ts`): low RAM below the EBDA, the reserved
   * legacy hole from 0x9fc00 to 1 MiB, RAM from 1 MiB to `ramSize`. Sorted, non-overlapping.
   * A loader reports it to the guest (boot_params.e820_table, multiboot mmap) unchanged.
   */
  readonly e820: readonly E820Entry[];
  /**
   * Where the machine put the ACPI RSDP (acpi/build.ts), for boot structures that carry it
   * (PVH's start_info); absent where there are no firmware tables.
   */
  readonly rsdpGpa?: number;
}

/** What the user asked for on the command line. */
export interface LoaderOptions {
  /** The kernel command line (`-append`), possibly empty. */
  readonly cmdline: string;
  /**
   * The kernel's file name: multiboot passes "NAME CMDLINE" as the kernel's command line, as
   * QEMU and GRUB do. Absent: the command line alone.
   */
  readonly kernelName?: string;
  /** The initial ramdisk (`-initrd`): Linux's initrd, multiboot's first module. */
  readonly initrd?: Uint8Array;
  /** Name of the initrd for boot structures that carry one (multiboot module string). */
  readonly initrdName?: string;
  /**
   * Multiboot modules (QEMU: `-initrd "a.bin arg,b.bin"`), each with its command line. When
   * present, multiboot uses these instead of `initrd`; other loaders ignore them.
   */
  readonly modules?: readonly { readonly data: Uint8Array; readonly cmdline: string }[];
}

/**
 * How the vCPU starts. `regs` are merged over the reset registers (`rflags` must keep bit 1
 * set); `sregs` receives the vCPU's current special registers (its reset state, as KVM_GET_SREGS
 * returns them) and returns the ones to set — see `./cpu-state.ts` for the protected-mode
 * helpers both multiboot and bzImage use.
 */
export interface LoadedEntry {
  readonly regs: Partial<KvmRegs>;
  readonly sregs: (reset: KvmSregs) => KvmSregs;
}

/** A loaded guest: ready to run once `entry` is applied to the boot vCPU. */
export interface LoadedGuest {
  readonly entry: LoadedEntry;
  /** One line for logs and `-d` output, e.g. `multiboot ELF, entry 0x100000, 2 sections`. */
  readonly description: string;
}

/**
 * A loader. Throws `LoaderError` (only) when the image or the options are unusable, e.g. the
 * image does not fit in RAM, a header field points outside the file, a required field is zero.
 */
export type Loader = (image: Uint8Array, machine: LoaderMachine, opts: LoaderOptions) => LoadedGuest;

/**
 * The one error a loader throws. The message says what is wrong with the image in terms the
 * user can check (`multiboot header at 0x40: checksum 0x1 is not zero`), and `format` names the
 * loader that rejected it.
 */
export class LoaderError extends Error {
  readonly format: string;

  constructor(format: string, message: string) {
    super(`${format}: ${message}`);
    this.name = 'LoaderError';
    this.format = format;
  }
}
