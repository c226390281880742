/**
 * The I/O port bus: 65536 ports, each mapped to at most one device through a table indexed by
 * port number (dispatch by table, as KVM's exit handlers). A port nobody claims reads as all
 * ones and ignores writes, as an ISA bus with nothing decoding the address does; such accesses
 * are counted so `-d unimp` can show what a guest probed.
 */
import type { PortIoDevice } from './types.js';

const NONE = 0xffff;

export class IoBus {
  private readonly devices: PortIoDevice[] = [];
  /** Device index per port, NONE where unclaimed. */
  private readonly table = new Uint16Array(0x10000).fill(NONE);
  /** Unclaimed accesses by port (sparse). */
  readonly unclaimed = new Map<number, number>();

  /** Claims ports [base, base + count) for `device`. Overlaps are a programming error. */
  register(base: number, count: number, device: PortIoDevice): void {
    if (base < 0 || count <= 0 || base + count > 0x10000) {
      throw new RangeError(`${device.name}: ports 0x${base.toString(16)}+${count} are outside the bus`);
    }
    let index = this.devices.indexOf(device);
    if (index < 0) {
      index = this.devices.length;
      this.devices.push(device);
    }
    for (let port = base; port < base + count; port++) {
      const owner = this.table[port];
      if (owner !== NONE) {
        throw new Error(
          `${device.name}: port 0x${port.toString(16)} is already ${this.devices[owner].name}'s`,
        );
      }
      this.table[port] = index;
    }
  }

  /**
   * System reset: every device's `reset`, in registration order (the machine registers the PIC
   * first, so a device that lowers its line on reset finds the PIC already reset).
   */
  reset(): void {
    for (const device of this.devices) device.reset?.();
  }

  /** The device on `port`, or undefined. */
  deviceAt(port: number): PortIoDevice | undefined {
    const index = this.table[port & 0xffff];
    return index === NONE ? undefined : this.devices[index];
  }

  /**
   * Whether port I/O at `port` leaves guest RAM as it was: an unclaimed port, or a device that
   * says so (`PortIoDevice.writesNoGuestRam`).
   */
  writesNoGuestRam(port: number): boolean {
    const index = this.table[port & 0xffff];
    return index === NONE || this.devices[index].writesNoGuestRam === true;
  }

  ioIn(port: number, size: number): number {
    const index = this.table[port & 0xffff];
    if (index === NONE) {
      this.unclaimed.set(port, (this.unclaimed.get(port) ?? 0) + 1);
      return size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    }
    return this.devices[index].ioIn(port, size);
  }

  ioOut(port: number, size: number, value: number): void {
    const index = this.table[port & 0xffff];
    if (index === NONE) {
      this.unclaimed.set(port, (this.unclaimed.get(port) ?? 0) + 1);
      return;
    }
    this.devices[index].ioOut(port, size, value);
  }
}
