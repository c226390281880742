import type { PortIoDevice } from './types.js';

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

  /** System reset: A20 stays enabled (we have no A20 wrap) and the reset bit reads clear. */
  reset(): void {
    this.value = 0x02;
  }

  ioIn(_port: number, _size: number): number {
    return this.value;
  }

  ioOut(_port: number, _size: number, value: number): void {
    this.value = (value & 0xfe) | 0x02;
    if (value & 1) this.onReset();
  }
}
