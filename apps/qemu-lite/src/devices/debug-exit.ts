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
