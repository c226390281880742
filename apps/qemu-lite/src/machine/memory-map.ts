/**
 * The PC memory map qemu-lite's machine has, and the e820 table that describes it.
 *
 *   0x00000000 - 0x0009fbff  RAM (conventional memory)
 *   0x0009fc00 - 0x0009ffff  reserved: EBDA, where BIOSes keep it
 *   0x000a0000 - 0x000fffff  reserved: VGA window and option/BIOS ROMs (nothing is mapped
 *                            there; the guest's RAM still backs it so stray reads see zeros)
 *   0x00100000 - ramSize     RAM
 *
 * RAM is one slot from gpa 0 — simplest for a loader, and what KVM accepts. We stay below the
 * 32-bit PCI hole (QEMU's pc machine starts it at 0xe0000000 for large guests; we cap RAM at
 * 3 GiB), so there is no RAM above 4 GiB to describe.
 */
import { E820_TYPE, type E820Entry } from '../loaders/types.js';

/** Where conventional RAM ends and the EBDA starts (639 KiB, the classic BIOS value). */
export const EBDA_START = 0x9fc00;
/** Start of the VGA window / legacy ROM hole. */
export const LEGACY_HOLE_START = 0xa0000;
/** 1 MiB: where extended memory begins. */
export const HIGH_MEMORY_START = 0x100000;
/** Smallest RAM we accept: enough for the legacy hole plus 1 MiB of extended memory. */
export const MIN_RAM_SIZE = 2 * 1024 * 1024;
/** Largest RAM we accept: below the 32-bit PCI hole. */
export const MAX_RAM_SIZE = 3 * 1024 * 1024 * 1024;

/**
 * The e820 table for `ramSize` bytes of RAM (a multiple of 4 KiB, within the limits above), and
 * `reserved` ranges above RAM the OS must leave alone (the PCIe MMCONFIG window, which Linux
 * uses only when the firmware reserves it).
 */
export function buildE820(ramSize: number, reserved: readonly E820Entry[] = []): E820Entry[] {
  if (
    !Number.isInteger(ramSize) ||
    ramSize < MIN_RAM_SIZE ||
    ramSize > MAX_RAM_SIZE ||
    ramSize % 4096 !== 0
  ) {
    throw new RangeError(
      `RAM size ${ramSize} must be a multiple of 4 KiB between ${MIN_RAM_SIZE} and ${MAX_RAM_SIZE} bytes`,
    );
  }
  return [
    { addr: 0, size: EBDA_START, type: E820_TYPE.RAM },
    { addr: EBDA_START, size: HIGH_MEMORY_START - EBDA_START, type: E820_TYPE.RESERVED },
    { addr: HIGH_MEMORY_START, size: ramSize - HIGH_MEMORY_START, type: E820_TYPE.RAM },
    ...reserved.map((r) => ({ ...r, type: E820_TYPE.RESERVED })),
  ];
}
