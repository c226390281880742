/**
 * Picks the loader for a `-kernel` image by what the image says it is, in a fixed order (QEMU's,
 * x86_load_linux): a Linux bzImage ("HdrS" in its setup header), then multiboot (a header in the
 * first 8 KiB), then a PVH ELF (a Xen PHYS32_ENTRY note: Linux's uncompressed vmlinux).
 */
import { loadBzImage, probeBzImage } from './bzimage.js';
import { loadMultiboot, probeMultiboot } from './multiboot.js';
import { loadPvh, probePvh } from './pvh.js';
import { type Loader, LoaderError } from './types.js';

export interface KernelFormat {
  readonly name: string;
  readonly probe: (image: Uint8Array) => boolean;
  readonly load: Loader;
}

export const KERNEL_FORMATS: readonly KernelFormat[] = [
  { name: 'bzImage', probe: probeBzImage, load: loadBzImage },
  { name: 'multiboot', probe: probeMultiboot, load: loadMultiboot },
  { name: 'pvh', probe: probePvh, load: loadPvh },
];

/** The format of `image`, or a LoaderError saying what it is not. */
export function kernelFormatOf(image: Uint8Array): KernelFormat {
  if (image.length === 0) throw new LoaderError('kernel', 'the file is empty');
  const format = KERNEL_FORMATS.find((f) => f.probe(image));
  if (!format) {
    throw new LoaderError(
      'kernel',
      'neither a Linux bzImage (no "HdrS" at 0x202), a multiboot kernel (no header in the first 8 KiB) nor a PVH ELF (no Xen PHYS32_ENTRY note); for a raw binary use -device loader,file=FILE,addr=ADDR,cpu-num=0',
    );
  }
  return format;
}

export { loadFlat } from './flat.js';
export { loadMultiboot } from './multiboot.js';
export { loadPvh } from './pvh.js';
export * from './types.js';
