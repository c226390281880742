/**
 * A raw binary: the bytes are copied to `loadAddr` and the vCPU starts at `entry` in flat 32-bit
 * protected mode (the same machine state as multiboot, without the info structure), or in real
 * mode with CS:IP = (entry >> 4 & 0xf000):(entry & 0xffff) for 16-bit images below 1 MiB.
 * The command line spells it QEMU's way: `-device loader,file=F,addr=A,cpu-num=0`.
 */
import { BOOT_GDT_SIZE, protectedMode32, RFLAGS_RESERVED, writeBootGdt } from './cpu-state.js';
import { type LoadedGuest, LoaderError, type LoaderMachine } from './types.js';

export interface FlatOptions {
  /** gpa the first byte goes to. */
  loadAddr: number;
  /** gpa of the first instruction; defaults to `loadAddr`. */
  entry?: number;
  /** CPU mode at entry. */
  mode?: 'protected32' | 'real';
}

/** Where the boot GDT goes for flat protected-mode images: just below the EBDA. */
export const FLAT_GDT_GPA = 0x9f000;

const hex = (v: number): string => `0x${v.toString(16)}`;

export function loadFlat(image: Uint8Array, machine: LoaderMachine, opts: FlatOptions): LoadedGuest {
  const { loadAddr } = opts;
  const entry = opts.entry ?? loadAddr;
  const mode = opts.mode ?? 'protected32';
  if (image.length === 0) throw new LoaderError('flat', 'the image is empty');
  if (!Number.isInteger(loadAddr) || loadAddr < 0 || loadAddr + image.length > machine.ramSize) {
    throw new LoaderError(
      'flat',
      `${image.length} bytes at ${hex(loadAddr)} do not fit in ${machine.ramSize} bytes of RAM`,
    );
  }
  if (entry < loadAddr || entry >= loadAddr + image.length) {
    throw new LoaderError(
      'flat',
      `entry ${hex(entry)} is outside the image (${hex(loadAddr)}..${hex(loadAddr + image.length)})`,
    );
  }
  if (mode === 'real' && entry >= 0x100000) {
    throw new LoaderError('flat', `a real-mode entry must lie below 1 MiB, not at ${hex(entry)}`);
  }
  if (
    mode === 'protected32' &&
    loadAddr < FLAT_GDT_GPA + BOOT_GDT_SIZE &&
    loadAddr + image.length > FLAT_GDT_GPA
  ) {
    throw new LoaderError('flat', `the image overlaps the boot GDT at ${hex(FLAT_GDT_GPA)}`);
  }
  machine.ram.set(image, loadAddr);
  if (mode === 'real') {
    const cs = (entry >> 4) & 0xf000;
    return {
      description: `flat binary, ${image.length} bytes at ${hex(loadAddr)}, real-mode entry ${hex(cs)}:${hex(entry - cs * 16)}`,
      entry: {
        regs: { rip: BigInt(entry - cs * 16), rflags: RFLAGS_RESERVED },
        sregs: (reset) => ({ ...reset, cs: { ...reset.cs, selector: cs, base: BigInt(cs * 16) } }),
      },
    };
  }
  writeBootGdt(machine.ram, FLAT_GDT_GPA);
  return {
    description: `flat binary, ${image.length} bytes at ${hex(loadAddr)}, 32-bit entry ${hex(entry)}`,
    entry: {
      regs: { rip: BigInt(entry), rflags: RFLAGS_RESERVED },
      sregs: (reset) => protectedMode32(reset, FLAT_GDT_GPA),
    },
  };
}
