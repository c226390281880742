/**
 * The guests the page offers: the build's index of tools/guests images (public/guests/index.json,
 * scripts/copy-guests.mjs) and what the user dropped. A dropped file is told apart by its bytes:
 * a bzImage has "HdrS" at 0x202 (boot protocol's setup header), an ELF starts with 0x7f 'E' 'L' 'F';
 * anything else dropped beside a kernel is its initramfs.
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

export type ImageKind = 'bzImage' | 'elf' | 'other';

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
  return 'other';
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
    return `${files.map((f) => f.name).join(', ')}: no kernel (neither a bzImage, "HdrS" at 0x202, nor an ELF)`;
  if (kernels.length === 2 && files.length === 2)
    return 'two kernels dropped: drop one kernel and its initramfs';
  const kernel = kernels[0]!;
  const initrd = files.find((f) => f !== kernel);
  return initrd ? { kernel, initrd } : { kernel };
}
