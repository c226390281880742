import type { PortIoDevice } from './types.js';

/**
 * POST code port 0x80: writes are the BIOS/guest progress codes (and Linux's I/O delay);
 * reads return the last code written. Kept so `-d unimp` does not drown in 0x80 accesses.
 */
export class PostPort implements PortIoDevice {
  readonly name = 'port80';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  last = 0;

  reset(): void {
    this.last = 0;
  }

  ioIn(_port: number, _size: number): number {
    return this.last;
  }

  ioOut(_port: number, _size: number, value: number): void {
    this.last = value & 0xff;
  }
}
