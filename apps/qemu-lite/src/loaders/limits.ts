/** The largest images qemu-lite loads (shared by the file reader and the loaders). */

/**
 * The largest `-kernel` or `-device loader` image: 1 GiB, x86-64 Linux's KERNEL_IMAGE_SIZE
 * (arch/x86/include/asm/page_64_types.h: the most the kernel's text mapping can cover, with
 * KASLR; 512 MiB without). A multiboot kernel is a 32-bit image loaded below 4 GiB into a PC
 * that has at most 3 GiB of RAM here: a real one is far smaller still.
 */
export const MAX_KERNEL_BYTES = 1024 * 1024 * 1024;
/**
 * The largest `-initrd` (or multiboot module): 3 GiB, the most RAM a qemu-lite PC has (no RAM
 * above the PCI hole; `MAX_RAM_SIZE` in machine/memory-map.ts). The loader then checks that it
 * fits in the guest's actual RAM beside the kernel.
 */
export const MAX_INITRD_BYTES = 3 * 1024 * 1024 * 1024;
