/**
 * The guests the page offers: the build's index of tools/guests images (public/guests/index.json,
 * scripts/copy-guests.mjs) and what the user dropped. A dropped file is told apart by its bytes:
 * a bzImage has "HdrS" at 0x202 (boot protocol's setup header), an ELF starts with 0x7f 'E' 'L' 'F',
 * a multiboot kernel has its header magic 0x1BADB002 4-aligned in its first 8 KiB (Multiboot 0.6.96
 * §3.1.1; with the a.out kludge it needs no ELF); anything else beside a kernel is its initramfs.
 */
export interface GuestEntry {
  name: string;
  file: string;
  kind: 'demo' | 'bench' | 'test';
  bits: 32 | 64;
  memory: string;
  expect: string;
  description: string;
}

export async function loadGuestIndex(base: string): Promise<GuestEntry[]> {
  const response = await fetch(`${base}guests/index.json`);
  if (!response.ok) throw new Error(`guests/index.json: HTTP ${response.status}`);
  return (await response.json()) as GuestEntry[];
}

export async function fetchImage(base: string, g: GuestEntry): Promise<Uint8Array> {
  const response = await fetch(`${base}guests/${g.file}`);
  if (!response.ok) throw new Error(`guests/${g.file}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

export type ImageKind = 'bzImage' | 'elf' | 'multiboot' | 'other';

const MULTIBOOT_MAGIC = 0x1badb002;
/** The multiboot header lies within the first 8192 bytes, 32-bit aligned (Multiboot 0.6.96 §3.1.1). */
const MULTIBOOT_SEARCH = 8192;

export function imageKind(bytes: Uint8Array): ImageKind {
  if (
    bytes.length > 0x206 &&
    bytes[0x202] === 0x48 &&
    bytes[0x203] === 0x64 &&
    bytes[0x204] === 0x72 &&
    bytes[0x205] === 0x53
  )
    return 'bzImage';
  if (bytes.length > 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46)
    return 'elf';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let at = 0; at + 12 <= Math.min(bytes.length, MULTIBOOT_SEARCH); at += 4) {
    if (view.getUint32(at, true) === MULTIBOOT_MAGIC) return 'multiboot';
  }
  return 'other';
}

/** The -append the page starts with: our guests ignore it, a Linux kernel's console is the UART. */
export const DEFAULT_CMDLINE = 'console=ttyS0';

/**
 * The -append the page gives a dropped bzImage while the field still holds the default: tools/linux's
 * machine options (boot-marker.mjs) and the kernel's quiet boot to the shell. `quiet`: every console
 * byte is a UART exit; cryptomgr.notests: no crypto self-tests at boot (Debian's kernel in this
 * page, headless Chromium: 2.2 G instructions to the shell without
 * these two at a load average of 3, 1.3 G with them at 10); nosoftlockup: a slow vCPU is no lockup.
 */
export const LINUX_CMDLINE =
  'console=ttyS0 quiet nokaslr tsc=reliable no_timer_check i8042.noaux pci=off cryptomgr.notests nosoftlockup';

/** The -append after `kernel` is dropped, given what the field holds now (a user's own line stays). */
export function cmdlineFor(kernel: Uint8Array, current: string): string {
  const untouched = current.trim() === '' || current === DEFAULT_CMDLINE || current === LINUX_CMDLINE;
  if (!untouched) return current;
  return imageKind(kernel) === 'bzImage' ? LINUX_CMDLINE : DEFAULT_CMDLINE;
}

export interface NamedImage {
  name: string;
  image: Uint8Array;
}

/** Which dropped file is the kernel and which the initrd; an error message when it cannot tell. */
export function sortDropped(files: NamedImage[]): { kernel: NamedImage; initrd?: NamedImage } | string {
  if (files.length === 0) return 'nothing dropped';
  if (files.length > 2) return `drop a kernel and at most one initramfs, not ${files.length} files`;
  const kernels = files.filter((f) => imageKind(f.image) !== 'other');
  if (kernels.length === 0)
    return `${files.map((f) => f.name).join(', ')}: no kernel (not a bzImage, an ELF or a multiboot image)`;
  if (kernels.length === 2 && files.length === 2)
    return 'two kernels dropped: drop one kernel and its initramfs';
  const kernel = kernels[0]!;
  const initrd = files.find((f) => f !== kernel);
  return initrd ? { kernel, initrd } : { kernel };
}
