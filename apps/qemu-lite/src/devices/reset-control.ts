import type { PortIoDevice } from './types.js';

/** The reset control register's port (PIIX3/PIIX4, ICH: "RST_CNT"), also the FADT's RESET_REG. */
export const RESET_CONTROL_PORT = 0xcf9;
/** What the FADT tells the OS to write there: SYS_RST | RST_CPU (hard reset), as QEMU's FADT. */
export const RESET_CONTROL_VALUE = 0x06;
/** RST_CNT bits: SYS_RST (1) selects a hard reset, RST_CPU (2) starts the reset. */
const SYS_RST = 1 << 1;
const RST_CPU = 1 << 2;

/**
 * Port 0xcf9, PIIX's reset control register. Writing RST_CPU resets the machine, as QEMU's
 * `rcr_write` does (it makes no difference between a soft and a hard reset: both are
 * `qemu_system_reset`); reads return the SYS_RST bit last written.
 */
export class ResetControl implements PortIoDevice {
  readonly name = 'reset-control';
  private rcr = 0;

  constructor(private readonly onReset: () => void) {}

  reset(): void {
    this.rcr = 0;
  }

  ioIn(_port: number, _size: number): number {
    return this.rcr;
  }

  ioOut(_port: number, _size: number, value: number): void {
    if (value & RST_CPU) {
      this.rcr = 0;
      this.onReset();
      return;
    }
    this.rcr = value & SYS_RST;
  }
}
