/**
 * QEMU's isa-debug-exit: a write of v to the port ends the VMM with status (v << 1) | 1, so a
 * guest can report a result that no clean exit (status 0) can be mistaken for. Reads return
 * all ones, as QEMU's (its read handler is absent).
 */
import type { PortIoDevice } from './types.js';

export interface DebugExitConfig {
  /** First port, QEMU's default 0x501; kvm-unit-tests use 0xf4. */
  iobase: number;
  /** Bytes decoded: 1, 2 or 4. */
  iosize: number;
}

export const DEFAULT_DEBUG_EXIT: DebugExitConfig = { iobase: 0xf4, iosize: 4 };

export class DebugExit implements PortIoDevice {
  readonly name = 'isa-debug-exit';
  private readonly onExit: (status: number) => void;

  /** `onExit` receives the exit status (v << 1) | 1. */
  constructor(onExit: (status: number) => void) {
    this.onExit = onExit;
  }

  ioIn(_port: number, size: number): number {
    return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
  }

  ioOut(_port: number, size: number, value: number): void {
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    // (v << 1) | 1 without 32-bit wrap-around; the OS keeps the low 8 bits as the process status.
    this.onExit(((value & mask) >>> 0) * 2 + 1);
  }
}

/**
 * POST code port 0x80: writes are the BIOS/guest progress codes (and Linux's I/O delay);
 * reads return the last code written. Kept so `-d unimp` does not drown in 0x80 accesses.
 */
export class PostPort implements PortIoDevice {
  readonly name = 'port80';
  last = 0;

  ioIn(_port: number, _size: number): number {
    return this.last;
  }

  ioOut(_port: number, _size: number, value: number): void {
    this.last = value & 0xff;
  }
}

/**
 * System control port A (0x92): bit 1 is the fast A20 gate (we have no A20 wrap, it always
 * reads set), bit 0 a write-1 resets the CPU. Linux falls back to it to reboot.
 */
export class SystemControlPortA implements PortIoDevice {
  readonly name = 'port92';
  private readonly onReset: () => void;
  private value = 0x02;

  constructor(onReset: () => void) {
    this.onReset = onReset;
  }

  ioIn(_port: number, _size: number): number {
    return this.value;
  }

  ioOut(_port: number, _size: number, value: number): void {
    this.value = (value & 0xfe) | 0x02;
    if (value & 1) this.onReset();
  }
}
