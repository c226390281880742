/**
 * An 8250/16550A UART: the console, COM1 at 0x3f8–0x3ff on IRQ 4.
 *
 * Registers per the National PC16550D datasheet: RBR/THR, IER, IIR/FCR, LCR (DLAB), MCR (with
 * loopback, which Linux's autoconfig uses to prove a UART is there), LSR, MSR, SCR, DLL/DLM.
 * Transmission is instantaneous: a byte written to THR goes to `output` at once and THR is
 * empty again, which re-raises the THRE interrupt (a fresh edge for the edge-triggered PIC).
 * Received bytes queue in a FIFO (16 bytes as on the chip, more are dropped and set the overrun
 * bit); a pending byte raises the received-data interrupt whatever the trigger level (the
 * character-timeout interrupt would fire a moment later on a real chip anyway).
 */
import type { IrqSink, PortIoDevice } from './types.js';

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;

const FIFO_SIZE = 16;

// IER bits
const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IER_RLSI = 0x04;
const IER_MSI = 0x08;
// IIR values
const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_FIFO_ENABLED = 0xc0;
// LSR bits
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
// MCR bits
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
// MSR bits
const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;

export class Serial16550 implements PortIoDevice {
  readonly name = 'serial';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  private readonly base: number;
  private readonly irqLine: number;
  private readonly irq: IrqSink;
  private readonly output: (byte: number) => void;

  private ier = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private lsr = LSR_THRE | LSR_TEMT;
  /** Modem status lines with the terminal attached: CTS, DSR and DCD asserted. */
  private msr = MSR_CTS | MSR_DSR | MSR_DCD;
  private scr = 0;
  private dll = 0x0c; // 9600 baud, what a BIOS leaves
  private dlm = 0;
  private fcr = 0;
  /** THR empty interrupt pending (cleared by reading IIR while it is reported, or writing THR). */
  private thriPending = true;
  private readonly rx: number[] = [];
  private irqLevel = 0;

  /** `output` receives each transmitted byte (not in loopback mode). */
  constructor(irq: IrqSink, output: (byte: number) => void, base = COM1_BASE, irqLine = COM1_IRQ) {
    this.irq = irq;
    this.output = output;
    this.base = base;
    this.irqLine = irqLine;
  }

  /**
   * System reset (the chip's MR pin): IER, IIR, FCR, LCR, MCR and the line status back to their
   * datasheet reset values, the FIFO emptied, the interrupt output lowered. The divisor and the
   * scratch register are not affected by MR; we give them the values a BIOS leaves, as at start.
   */
  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = MCR_OUT2;
    this.lsr = LSR_THRE | LSR_TEMT;
    this.msr = MSR_CTS | MSR_DSR | MSR_DCD;
    this.scr = 0;
    this.dll = 0x0c;
    this.dlm = 0;
    this.fcr = 0;
    this.thriPending = true;
    this.rx.length = 0;
    this.updateIrq();
  }

  /** Bytes waiting in the receive FIFO. */
  get rxPending(): number {
    return this.rx.length;
  }

  /** Whether the FIFO can take more input now (the terminal side should hold the rest). */
  canReceive(): boolean {
    return this.rx.length < FIFO_SIZE;
  }

  /** A byte arrives on the line from the terminal. */
  receive(byte: number): void {
    if (this.mcr & MCR_LOOP) return; // loopback disconnects the receiver from the line
    this.pushRx(byte & 0xff);
  }

  private pushRx(byte: number): void {
    if (this.rx.length >= FIFO_SIZE) {
      this.lsr |= LSR_OE;
    } else {
      this.rx.push(byte);
      this.lsr |= LSR_DR;
    }
    this.updateIrq();
  }

  /** The highest-priority pending interrupt as IIR reports it (datasheet table 4). */
  private interruptId(): number {
    if (this.ier & IER_RLSI && this.lsr & (LSR_OE | LSR_BI)) return IIR_RLSI;
    if (this.ier & IER_RDI && this.lsr & LSR_DR) return IIR_RDI;
    if (this.ier & IER_THRI && this.thriPending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msr & (MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD)) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    // OUT2 gates the interrupt output onto the ISA bus on PCs.
    const level = this.interruptId() !== IIR_NO_INT && this.mcr & MCR_OUT2 ? 1 : 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setIrq(this.irqLine, level);
    }
  }

  private loopbackMsr(): number {
    // In loopback the modem inputs are wired to the modem outputs (datasheet, MCR bit 4).
    const m = this.mcr;
    return (
      (m & MCR_RTS ? MSR_CTS : 0) |
      (m & MCR_DTR ? MSR_DSR : 0) |
      (m & MCR_OUT1 ? MSR_RI : 0) |
      (m & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  ioIn(port: number, _size: number): number {
    const reg = (port - this.base) & 7;
    switch (reg) {
      case 0: {
        if (this.lcr & 0x80) return this.dll;
        const byte = this.rx.length > 0 ? this.rx.shift()! : 0;
        if (this.rx.length === 0) this.lsr &= ~LSR_DR;
        this.updateIrq();
        return byte;
      }
      case 1:
        return this.lcr & 0x80 ? this.dlm : this.ier;
      case 2: {
        const id = this.interruptId();
        // Reading IIR while it reports THRE clears that source (datasheet, "THR empty").
        if (id === IIR_THRI) {
          this.thriPending = false;
          this.updateIrq();
        }
        return id | (this.fcr & 0x01 ? IIR_FIFO_ENABLED : 0);
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const lsr = this.lsr;
        // Reading LSR clears the error bits.
        this.lsr &= ~(LSR_OE | LSR_BI);
        this.updateIrq();
        return lsr;
      }
      case 6: {
        if (this.mcr & MCR_LOOP) return this.loopbackMsr();
        const msr = this.msr;
        this.msr &= ~(MSR_DCTS | MSR_DDSR | MSR_TERI | MSR_DDCD);
        this.updateIrq();
        return msr;
      }
      default:
        return this.scr;
    }
  }

  ioOut(port: number, _size: number, value: number): void {
    value &= 0xff;
    const reg = (port - this.base) & 7;
    switch (reg) {
      case 0:
        if (this.lcr & 0x80) {
          this.dll = value;
          return;
        }
        // THR: the byte leaves at once; THR going empty again is a new THRE interrupt.
        this.thriPending = false;
        this.updateIrq();
        if (this.mcr & MCR_LOOP) this.pushRx(value);
        else this.output(value);
        this.thriPending = true;
        this.updateIrq();
        return;
      case 1:
        if (this.lcr & 0x80) {
          this.dlm = value;
          return;
        }
        // Enabling ETBEI while THR is empty raises THRE (Linux's serial8250 relies on it).
        if (value & IER_THRI && (this.ier & IER_THRI) === 0 && this.lsr & LSR_THRE) this.thriPending = true;
        this.ier = value & 0x0f;
        this.updateIrq();
        return;
      case 2:
        // FCR: bit 1/2 clear the FIFOs.
        if (value & 0x02) {
          this.rx.length = 0;
          this.lsr &= ~LSR_DR;
        }
        this.fcr = value & 0xc9;
        this.updateIrq();
        return;
      case 3:
        this.lcr = value;
        return;
      case 4:
        this.mcr = value & 0x1f;
        this.updateIrq();
        return;
      case 5:
      case 6:
        return; // LSR and MSR are read-only (factory test writes are ignored)
      default:
        this.scr = value;
    }
  }
}
