/**
 * The i8042 keyboard controller at 0x60 (data) / 0x64 (status, command), as much of it as
 * Linux's i8042 and atkbd drivers probe, and the CPU reset line it drives.
 *
 * Controller commands (from the IBM PC/AT technical reference): 0x20/0x60 read/write the
 * command byte, 0xa7/0xa8 disable/enable the aux port, 0xa9 aux interface test, 0xaa self test
 * (0x55), 0xab keyboard interface test, 0xad/0xae disable/enable the keyboard, 0xd0/0xd1
 * read/write the output port (bit 0 low = reset the CPU), 0xd2/0xd3 write the keyboard/aux
 * output buffer (loopback), 0xd4 write to the aux device, 0xfe and every 0xf0–0xff pulse with
 * bit 0 clear: pulse the reset line. Linux reboots with 0xfe.
 *
 * A keyboard is attached (acknowledges commands, answers reset with 0xaa and identify with
 * 0xab 0x83); no key is ever pressed — the console is the UART. A PS/2 mouse on the aux port
 * answers reset and identify so that probing finishes without timeouts. Output-buffer-full
 * raises IRQ 1 (keyboard) or IRQ 12 (aux) when the command byte enables it.
 */
import type { IrqSink, PortIoDevice } from './types.js';

const STATUS_OBF = 0x01;
const STATUS_SYS = 0x04;
const STATUS_CMD = 0x08;
const STATUS_AUX_OBF = 0x20;

const CMDBYTE_KBD_INT = 0x01;
const CMDBYTE_AUX_INT = 0x02;
const CMDBYTE_SYS = 0x04;
const CMDBYTE_KBD_DISABLE = 0x10;
const CMDBYTE_AUX_DISABLE = 0x20;
const CMDBYTE_XLATE = 0x40;

const ACK = 0xfa;

export class I8042 implements PortIoDevice {
  readonly name = 'i8042';
  private readonly irq: IrqSink;
  private readonly onReset: () => void;
  /** Queued output bytes, each tagged with whether it comes from the aux device. */
  private readonly queue: { byte: number; aux: boolean }[] = [];
  private commandByte = CMDBYTE_KBD_INT | CMDBYTE_SYS | CMDBYTE_XLATE;
  private outputPort = 0x01; // bit 0: reset line not asserted
  private lastWasCommand = false;
  /** A controller command waiting for its parameter byte on port 0x60. */
  private pendingCommand = -1;
  /** The keyboard command waiting for its parameter (e.g. 0xed set LEDs), -1 none. */
  private kbdPending = -1;
  private auxPending = -1;
  private irq1 = 0;
  private irq12 = 0;

  constructor(irq: IrqSink, onReset: () => void) {
    this.irq = irq;
    this.onReset = onReset;
  }

  /**
   * System reset: the controller and both devices as at power-on (what this device's fields
   * start as), the output buffer emptied and IRQ 1/12 lowered (QEMU's `kbd_reset`).
   */
  reset(): void {
    this.queue.length = 0;
    this.commandByte = CMDBYTE_KBD_INT | CMDBYTE_SYS | CMDBYTE_XLATE;
    this.outputPort = 0x01;
    this.lastWasCommand = false;
    this.pendingCommand = -1;
    this.kbdPending = -1;
    this.auxPending = -1;
    this.updateIrq();
  }

  private push(byte: number, aux: boolean): void {
    this.queue.push({ byte: byte & 0xff, aux });
    this.updateIrq();
  }

  private updateIrq(): void {
    const head = this.queue[0];
    const kbd = head && !head.aux && this.commandByte & CMDBYTE_KBD_INT ? 1 : 0;
    const aux = head?.aux && this.commandByte & CMDBYTE_AUX_INT ? 1 : 0;
    if (kbd !== this.irq1) {
      this.irq1 = kbd;
      this.irq.setIrq(1, kbd);
    }
    if (aux !== this.irq12) {
      this.irq12 = aux;
      this.irq.setIrq(12, aux);
    }
  }

  private status(): number {
    const head = this.queue[0];
    let s = this.commandByte & CMDBYTE_SYS ? STATUS_SYS : 0;
    if (this.lastWasCommand) s |= STATUS_CMD;
    if (head) s |= STATUS_OBF | (head.aux ? STATUS_AUX_OBF : 0);
    return s;
  }

  private pulseReset(): void {
    this.onReset();
  }

  private controllerCommand(cmd: number): void {
    switch (cmd) {
      case 0x20:
        this.push(this.commandByte, false);
        break;
      case 0x60:
      case 0xd1:
      case 0xd2:
      case 0xd3:
      case 0xd4:
        this.pendingCommand = cmd;
        break;
      case 0xa7:
        this.commandByte |= CMDBYTE_AUX_DISABLE;
        break;
      case 0xa8:
        this.commandByte &= ~CMDBYTE_AUX_DISABLE;
        break;
      case 0xa9: // aux interface test: 0 = no error
      case 0xab: // keyboard interface test
        this.push(0x00, false);
        break;
      case 0xaa: // controller self test passed
        this.push(0x55, false);
        break;
      case 0xad:
        this.commandByte |= CMDBYTE_KBD_DISABLE;
        break;
      case 0xae:
        this.commandByte &= ~CMDBYTE_KBD_DISABLE;
        break;
      case 0xd0:
        this.push(this.outputPort, false);
        break;
      default:
        // 0xf0–0xff pulse output-port lines low for 6 µs; bit 0 clear includes the reset line.
        if (cmd >= 0xf0 && (cmd & 1) === 0) this.pulseReset();
    }
  }

  private keyboardCommand(byte: number): void {
    if (this.kbdPending >= 0) {
      this.kbdPending = -1;
      this.push(ACK, false);
      return;
    }
    switch (byte) {
      case 0xed: // set LEDs
      case 0xf0: // scan code set
      case 0xf3: // typematic rate
        this.kbdPending = byte;
        this.push(ACK, false);
        break;
      case 0xee: // echo
        this.push(0xee, false);
        break;
      case 0xf2: // identify: MF2 keyboard
        this.push(ACK, false);
        this.push(0xab, false);
        this.push(0x83, false);
        break;
      case 0xff: // reset, then basic assurance test passed
        this.push(ACK, false);
        this.push(0xaa, false);
        break;
      default:
        this.push(ACK, false);
    }
  }

  private auxCommand(byte: number): void {
    if (this.auxPending >= 0) {
      this.auxPending = -1;
      this.push(ACK, true);
      return;
    }
    switch (byte) {
      case 0xe8: // set resolution
      case 0xf3: // set sample rate
        this.auxPending = byte;
        this.push(ACK, true);
        break;
      case 0xe9: // status request
        this.push(ACK, true);
        this.push(0x00, true);
        this.push(0x02, true);
        this.push(0x64, true);
        break;
      case 0xf2: // identify: standard PS/2 mouse
        this.push(ACK, true);
        this.push(0x00, true);
        break;
      case 0xff: // reset: ACK, BAT passed, device id
        this.push(ACK, true);
        this.push(0xaa, true);
        this.push(0x00, true);
        break;
      default:
        this.push(ACK, true);
    }
  }

  private writeData(byte: number): void {
    const cmd = this.pendingCommand;
    this.pendingCommand = -1;
    switch (cmd) {
      case 0x60:
        this.commandByte = byte;
        this.updateIrq();
        break;
      case 0xd1:
        this.outputPort = byte;
        if ((byte & 1) === 0) this.pulseReset();
        break;
      case 0xd2:
        this.push(byte, false);
        break;
      case 0xd3:
        this.push(byte, true);
        break;
      case 0xd4:
        this.auxCommand(byte);
        break;
      default:
        this.keyboardCommand(byte);
    }
  }

  ioIn(port: number, _size: number): number {
    if (port === 0x64) return this.status();
    const head = this.queue.shift();
    this.updateIrq();
    return head ? head.byte : 0;
  }

  ioOut(port: number, _size: number, value: number): void {
    value &= 0xff;
    if (port === 0x64) {
      this.lastWasCommand = true;
      this.controllerCommand(value);
    } else {
      this.lastWasCommand = false;
      this.writeData(value);
    }
  }
}
