/**
 * The i8259A programmable interrupt controller pair of the PC/AT: master at 0x20/0x21, slave at
 * 0xa0/0xa1 cascaded on the master's IR2, and the ELCR edge/level registers at 0x4d0/0x4d1.
 * Behaviour from the Intel 8259A datasheet (ICW1–4, OCW1–3, fully nested priority, rotation,
 * specific/non-specific EOI, auto-EOI, poll mode) and the PIIX ELCR.
 *
 * With no in-kernel irqchip the vCPU loop asks `hasInterrupt()` and, when the guest can take one,
 * `acknowledge()` (the INTA cycle) for the vector to pass to KVM_INTERRUPT.
 */
import type { IrqSink, PortIoDevice } from './types.js';

/** One 8259A. */
export class I8259Chip {
  /** Interrupt request register. */
  irr = 0;
  /** In-service register. */
  isr = 0;
  /** Interrupt mask register (OCW1). */
  imr = 0;
  /** Input levels as last seen, for edge detection. */
  lastLevel = 0;
  /** ICW2: vector of IR0 (low three bits are zero). */
  vectorBase = 0;
  /** ELCR: 1 = level-triggered line. */
  elcr = 0;
  /** Which ELCR bits the chipset lets software set. */
  readonly elcrMask: number;
  /** 0 = operational, 2..4 = expecting that ICW. */
  initStep = 0;
  icw4Needed = false;
  single = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  /** OCW3 RR/RIS: read ISR (true) or IRR (false) from the command port. */
  readIsr = false;
  poll = false;
  specialMask = false;
  /** The line with the lowest priority is (priorityAdd + 7) & 7; rotation moves it. */
  priorityAdd = 0;

  constructor(elcrMask: number) {
    this.elcrMask = elcrMask;
  }

  /**
   * System reset (the chipset's RESET): the chip waits for ICW1 with everything cleared, and the
   * PIIX ELCR is back to all edge-triggered (QEMU's `pic_reset`: ELCR 0, then
   * `pic_reset_common`). Input levels are forgotten: every device lowers its line on reset.
   */
  reset(): void {
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.lastLevel = 0;
    this.vectorBase = 0;
    this.elcr = 0;
    this.initStep = 0;
    this.icw4Needed = false;
    this.single = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.priorityAdd = 0;
  }

  /** Drives input `line` (0–7). Edge-triggered lines latch a request on a rising edge. */
  setLevel(line: number, level: number): void {
    const bit = 1 << line;
    if (this.elcr & bit) {
      if (level) {
        this.irr |= bit;
        this.lastLevel |= bit;
      } else {
        this.irr &= ~bit;
        this.lastLevel &= ~bit;
      }
    } else if (level) {
      if ((this.lastLevel & bit) === 0) this.irr |= bit;
      this.lastLevel |= bit;
    } else {
      this.lastLevel &= ~bit;
    }
  }

  /** Priority (0 highest) of the best request in `mask`, 8 if none. */
  private priorityOf(mask: number): number {
    if (mask === 0) return 8;
    let priority = 0;
    while ((mask & (1 << ((priority + this.priorityAdd) & 7))) === 0) priority++;
    return priority;
  }

  /** The line the chip would signal now (unmasked, above everything in service), or -1. */
  pendingLine(): number {
    const priority = this.priorityOf(this.irr & ~this.imr);
    if (priority === 8) return -1;
    // Special mask mode lets lower-priority requests through past masked in-service ones.
    const inService = this.specialMask ? this.isr & ~this.imr : this.isr;
    if (priority < this.priorityOf(inService)) return (priority + this.priorityAdd) & 7;
    return -1;
  }

  /** The INTA cycle for `line`: moves it from IRR to ISR (or not, in auto-EOI mode). */
  acknowledgeLine(line: number): void {
    const bit = 1 << line;
    // A level-triggered request stays in IRR while its line is high (datasheet, "Level Triggered Mode").
    if ((this.elcr & bit) === 0) this.irr &= ~bit;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (line + 1) & 7;
    } else {
      this.isr |= bit;
    }
  }

  writeCommand(value: number): void {
    if (value & 0x10) {
      // ICW1: the datasheet's initialization sequence resets the chip's state.
      this.icw4Needed = (value & 0x01) !== 0;
      this.single = (value & 0x02) !== 0;
      this.irr &= this.elcr & this.lastLevel;
      this.isr = 0;
      this.imr = 0;
      this.lastLevel &= this.elcr;
      this.priorityAdd = 0;
      this.readIsr = false;
      this.poll = false;
      this.specialMask = false;
      this.autoEoi = false;
      this.rotateOnAutoEoi = false;
      this.initStep = 2;
      return;
    }
    if (value & 0x08) {
      // OCW3
      if (value & 0x04) this.poll = true;
      if (value & 0x02) this.readIsr = (value & 0x01) !== 0;
      if (value & 0x40) this.specialMask = (value & 0x20) !== 0;
      return;
    }
    // OCW2: R, SL, EOI in bits 7..5, level in bits 2..0.
    const command = value >> 5;
    switch (command) {
      case 0: // rotate in automatic EOI mode (clear)
      case 4: // rotate in automatic EOI mode (set)
        this.rotateOnAutoEoi = command === 4;
        break;
      case 1: // non-specific EOI
      case 5: {
        // rotate on non-specific EOI
        const priority = this.priorityOf(this.isr);
        if (priority !== 8) {
          const line = (priority + this.priorityAdd) & 7;
          this.isr &= ~(1 << line);
          if (command === 5) this.priorityAdd = (line + 1) & 7;
        }
        break;
      }
      case 3: // specific EOI
        this.isr &= ~(1 << (value & 7));
        break;
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << (value & 7));
        this.priorityAdd = ((value & 7) + 1) & 7;
        break;
      case 6: // set priority: the named line becomes the lowest
        this.priorityAdd = ((value & 7) + 1) & 7;
        break;
      default: // 2: no operation
        break;
    }
  }

  writeData(value: number): void {
    switch (this.initStep) {
      case 2: // ICW2
        this.vectorBase = value & 0xf8;
        this.initStep = this.single ? (this.icw4Needed ? 4 : 0) : 3;
        break;
      case 3: // ICW3 (cascade wiring: fixed on the PC)
        this.initStep = this.icw4Needed ? 4 : 0;
        break;
      case 4: // ICW4
        this.autoEoi = (value & 0x02) !== 0;
        this.initStep = 0;
        break;
      default: // OCW1
        this.imr = value & 0xff;
    }
  }
}

/** The master/slave pair, as the machine's interrupt controller. */
export class I8259Pair implements PortIoDevice, IrqSink {
  readonly name = 'i8259';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  // The PIIX3 ELCR: IRQ0, 1, 2, 8 and 13 are always edge-triggered (QEMU's masks).
  readonly master = new I8259Chip(0xf8);
  readonly slave = new I8259Chip(0xde);

  /** System reset: both chips back to their power-on state (INTR deasserted). */
  reset(): void {
    this.master.reset();
    this.slave.reset();
  }

  /** Raises or lowers IRQ `irq` (0–15). */
  setIrq(irq: number, level: number): void {
    if (irq < 8) this.master.setLevel(irq, level);
    else this.slave.setLevel(irq - 8, level);
    this.updateCascade();
  }

  private updateCascade(): void {
    this.master.setLevel(2, this.slave.pendingLine() >= 0 ? 1 : 0);
  }

  /** Whether the INTR line to the CPU is asserted. */
  hasInterrupt(): boolean {
    return this.master.pendingLine() >= 0;
  }

  /**
   * The INTA cycle: the vector of the highest-priority pending interrupt, with its ISR bit set.
   * With nothing pending (the request went away), the spurious IRQ7 vector, as the 8259A does.
   */
  acknowledge(): number {
    const line = this.master.pendingLine();
    let vector: number;
    if (line < 0) {
      vector = this.master.vectorBase + 7;
    } else {
      this.master.acknowledgeLine(line);
      if (line === 2) {
        const slaveLine = this.slave.pendingLine();
        if (slaveLine < 0) {
          vector = this.slave.vectorBase + 7;
        } else {
          this.slave.acknowledgeLine(slaveLine);
          vector = this.slave.vectorBase + slaveLine;
        }
      } else {
        vector = this.master.vectorBase + line;
      }
    }
    this.updateCascade();
    return vector;
  }

  private pollRead(chip: I8259Chip): number {
    chip.poll = false;
    const line = chip.pendingLine();
    if (line < 0) return 0;
    chip.acknowledgeLine(line);
    this.updateCascade();
    return 0x80 | line;
  }

  ioIn(port: number, _size: number): number {
    if (port === 0x4d0) return this.master.elcr;
    if (port === 0x4d1) return this.slave.elcr;
    const chip = port & 0x80 ? this.slave : this.master;
    if (port & 1) return chip.imr;
    if (chip.poll) return this.pollRead(chip);
    return chip.readIsr ? chip.isr : chip.irr;
  }

  ioOut(port: number, _size: number, value: number): void {
    value &= 0xff;
    if (port === 0x4d0 || port === 0x4d1) {
      const chip = port === 0x4d0 ? this.master : this.slave;
      chip.elcr = value & chip.elcrMask;
    } else {
      const chip = port & 0x80 ? this.slave : this.master;
      if (port & 1) chip.writeData(value);
      else chip.writeCommand(value);
    }
    this.updateCascade();
  }
}
