import type { IrqSink, PortIoDevice } from './types.js';

/** ISA IRQ 13: the PC's FERR# interrupt (the slave 8259's input 5). */
export const FERR_IRQ = 13;

/**
 * Port 0F0H, the PC chipset's x87 error latch: the processor's FERR# (an unmasked x87 error with
 * CR0.NE = 0) latches IRQ 13 high — the software engine raises it on the in-kernel irqchip
 * (@kvm/core `ferr.ts`) — and any OUT here clears the latch and asserts IGNNE# (SDM Vol. 1 8.7.1;
 * QEMU's `ioportF0_write`), which is what a DOS-era error handler does before FNCLEX. Reads see
 * an empty bus.
 */
export class FpuErrorPort implements PortIoDevice {
  readonly name = 'ferr';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  private readonly irq: IrqSink;

  constructor(irq: IrqSink) {
    this.irq = irq;
  }

  ioIn(_port: number, _size: number): number {
    return 0xff;
  }

  ioOut(_port: number, _size: number, _value: number): void {
    this.irq.setIrq(FERR_IRQ, 0);
  }
}
