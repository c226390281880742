/**
 * PCI bus 0 of the PC: configuration mechanism #1 (PCI 3.0 3.2.2.3.2; ports 0xcf8 CONFIG_ADDRESS
 * and 0xcfc–0xcff CONFIG_DATA, byte, word or dword at any offset), the functions plugged in,
 * the BARs they decode, their placement and their INTx routing.
 *
 * There is no firmware, so the bus does what SeaBIOS's `pci_setup` does before a kernel runs:
 * it places every BAR (I/O from 0xc000, 32-bit memory from 0xe0000000 below the I/O APIC, the
 * largest first, each aligned to its size), enables I/O, memory and bus mastering, and writes
 * the interrupt line the PIIX routing gives each function's pin.
 */
import type { IrqSink, PortIoDevice } from '../types.js';
import {
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  type PciDevice,
} from './pci-device.js';

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
/** Where SeaBIOS starts PCI I/O BARs (`pci_setup`'s io window, above the ISA ports). */
export const PCI_IO_WINDOW_START = 0xc000;
export const PCI_IO_WINDOW_END = 0x10000;
/**
 * The PCI Express MMCONFIG (ECAM) window for bus 0 (PCIe Base 4.0 7.2.2: bus << 20 | device << 15
 * | function << 12 | register): 1 MiB just below the I/O APIC. QEMU's q35 puts a 256-bus window at
 * 0xb0000000, which qemu-lite's RAM (up to 3 GiB) may cover. The MCFG table names it, and the
 * e820 map reserves it: Linux uses an MMCONFIG area only where the firmware reserved it
 * (`pci_mmcfg_reject_broken` → `is_mmconf_reserved`).
 */
export const PCIE_MMCONFIG_BASE = 0xfeb00000;
export const PCIE_MMCONFIG_SIZE = 0x100000;
/** The 32-bit MMIO window: qemu-lite's RAM ends by 3 GiB; the ECAM window, then the I/O APIC, follow. */
export const PCI_MMIO_WINDOW_START = 0xe0000000;
export const PCI_MMIO_WINDOW_END = PCIE_MMCONFIG_BASE;
/**
 * PIRQA–D → ISA IRQ, as SeaBIOS programs PIIX's PIRQRC registers (`pci_irqs = {10, 10, 11, 11}`);
 * a slot's pin n uses PIRQ (slot + n − 1) mod 4, the swizzle QEMU's `pci_slot_get_pirq` applies.
 */
export const PIIX_PIRQ_IRQS = [10, 10, 11, 11];

/** CONFIG_ADDRESS bit 31: the access is a configuration cycle. */
const CONFIG_ENABLE = 0x80000000;

export class PciBus implements PortIoDevice {
  readonly name = 'pci';
  /** Functions by devfn (device << 3 | function), bus 0 only. */
  private readonly functions: (PciDevice | undefined)[] = new Array(256).fill(undefined);
  /** The same functions as a dense list, for BAR decode on every I/O and MMIO exit. */
  private readonly plugged: PciDevice[] = [];
  private configAddress = 0;
  /** How many functions hold each ISA IRQ up (lines are shared, level-triggered). */
  private readonly irqHolders = new Uint8Array(16);

  /**
   * Devices with input from outside the guest (a socket netdev's frames, which the main thread
   * puts in a shared ring): the vCPU thread calls `poll()` each turn of its loop, after a kick.
   */
  readonly pollers: (() => void)[] = [];

  constructor(private readonly irq: IrqSink) {}

  /** Lets each device with outside input take it now (see `pollers`). */
  poll(): void {
    for (const p of this.pollers) p();
  }

  /** Plugs `device` in at `devfn`; its INTx pin is routed through the PIIX PIRQs. */
  plug(devfn: number, device: PciDevice): void {
    if (devfn < 0 || devfn > 255 || this.functions[devfn])
      throw new Error(`${device.name}: PCI devfn ${devfn} is taken or invalid`);
    this.functions[devfn] = device;
    this.plugged.push(device);
    const pin = device.config[PCI_INTERRUPT_PIN];
    if (pin === 0) return;
    const isaIrq = PIIX_PIRQ_IRQS[((devfn >> 3) + pin - 1) & 3];
    let level = 0;
    device.intx = (next) => {
      if (next === level) return;
      level = next;
      this.irqHolders[isaIrq] += next ? 1 : -1;
      this.irq.setIrq(isaIrq, this.irqHolders[isaIrq] > 0 ? 1 : 0);
    };
  }

  /** The first free slot's devfn (function 0), from slot `from` on. */
  freeSlot(from = 2): number {
    for (let slot = from; slot < 32; slot++) if (!this.functions[slot << 3]) return slot << 3;
    throw new Error('PCI bus 0 is full (32 slots)');
  }

  deviceAt(devfn: number): PciDevice | undefined {
    return this.functions[devfn];
  }

  /** SeaBIOS's `pci_setup`, reduced: BARs placed, decoding and bus mastering on, IRQ lines set. */
  assignResources(): void {
    const bars: { device: PciDevice; index: number; size: number; io: boolean }[] = [];
    for (const device of this.functions) {
      if (!device) continue;
      device.bars.forEach((bar, index) => {
        if (bar) bars.push({ device, index, size: bar.size, io: bar.io });
      });
    }
    bars.sort((a, b) => b.size - a.size);
    let io = PCI_IO_WINDOW_START;
    let mem = PCI_MMIO_WINDOW_START;
    for (const bar of bars) {
      const start = bar.io ? io : mem;
      const address = Math.ceil(start / bar.size) * bar.size;
      if (address + bar.size > (bar.io ? PCI_IO_WINDOW_END : PCI_MMIO_WINDOW_END))
        throw new Error(`${bar.device.name}: BAR ${bar.index} does not fit in the PCI window`);
      bar.device.configWrite(0x10 + 4 * bar.index, 4, address);
      if (bar.io) io = address + bar.size;
      else mem = address + bar.size;
    }
    this.functions.forEach((device, devfn) => {
      if (!device) return;
      const command = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
      device.configWrite(PCI_COMMAND, 2, device.get16(PCI_COMMAND) | command);
      const pin = device.config[PCI_INTERRUPT_PIN];
      if (pin) device.configWrite(PCI_INTERRUPT_LINE, 1, PIIX_PIRQ_IRQS[((devfn >> 3) + pin - 1) & 3]);
    });
  }

  // --- configuration mechanism #1 (ports 0xcf8 and 0xcfc–0xcff) ---

  ioIn(port: number, size: number): number {
    if (port === PCI_CONFIG_ADDRESS) {
      // Only a dword access reaches CONFIG_ADDRESS; narrower ones go to the ISA bus (PCI 3.0
      // 3.2.2.3.2), where nothing answers here: all ones.
      return size === 4 ? this.configAddress : size === 2 ? 0xffff : 0xff;
    }
    const ones = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    const target = this.target(port, size);
    if (!target) return ones;
    return target.device.configRead(target.offset, target.size);
  }

  ioOut(port: number, size: number, value: number): void {
    if (port === PCI_CONFIG_ADDRESS) {
      // Bits 1:0 read back as 0 (the register is dword aligned; type 0 only).
      if (size === 4) this.configAddress = (value & 0xfffffffc) >>> 0;
      return;
    }
    const target = this.target(port, size);
    if (target) target.device.configWrite(target.offset, target.size, value);
  }

  /** The function and register a CONFIG_DATA access selects, or undefined (no cycle, no device). */
  private target(
    port: number,
    size: number,
  ): { device: PciDevice; offset: number; size: number } | undefined {
    const address = this.configAddress;
    if (!(address & CONFIG_ENABLE)) return undefined;
    // Bus 0 only: nothing behind a bridge.
    if ((address >>> 16) & 0xff) return undefined;
    const device = this.functions[(address >>> 8) & 0xff];
    if (!device) return undefined;
    const within = port - PCI_CONFIG_DATA;
    // An access running past the dword is cut at its end (the upper bytes read as all ones).
    return { device, offset: (address & 0xfc) + within, size: Math.min(size, 4 - within) };
  }

  // --- BAR decode, for I/O ports and MMIO exits ---

  /** The BAR decoding [addr, addr+size) in I/O (io) or memory space, or undefined. */
  findBar(
    io: boolean,
    addr: number,
    size: number,
  ): { device: PciDevice; index: number; offset: number } | undefined {
    for (const device of this.plugged) {
      for (let index = 0; index < 6; index++) {
        const bar = device.bars[index];
        if (!bar || bar.io !== io) continue;
        const base = device.barAddress(index);
        if (base >= 0 && addr >= base && addr + size <= base + bar.size)
          return { device, index, offset: addr - base };
      }
    }
    return undefined;
  }

  /** An MMIO read; false when no BAR decodes it (the caller floats it high). */
  mmioRead(gpa: number, data: Uint8Array): boolean {
    if (gpa >= PCIE_MMCONFIG_BASE && gpa < PCIE_MMCONFIG_BASE + PCIE_MMCONFIG_SIZE) {
      this.mmconfigAccess(gpa - PCIE_MMCONFIG_BASE, data, false);
      return true;
    }
    const hit = this.findBar(false, gpa, data.length);
    if (!hit) return false;
    const ops = hit.device.bars[hit.index]!.ops;
    // An 8-byte access is two dword accesses, low first (as a 32-bit PCI bus splits it).
    for (let done = 0; done < data.length; done += 4) {
      const size = Math.min(4, data.length - done);
      const value = ops.read(hit.offset + done, size);
      for (let i = 0; i < size; i++) data[done + i] = (value >>> (8 * i)) & 0xff;
    }
    return true;
  }

  mmioWrite(gpa: number, data: Uint8Array): boolean {
    if (gpa >= PCIE_MMCONFIG_BASE && gpa < PCIE_MMCONFIG_BASE + PCIE_MMCONFIG_SIZE) {
      this.mmconfigAccess(gpa - PCIE_MMCONFIG_BASE, data, true);
      return true;
    }
    const hit = this.findBar(false, gpa, data.length);
    if (!hit) return false;
    const ops = hit.device.bars[hit.index]!.ops;
    for (let done = 0; done < data.length; done += 4) {
      const size = Math.min(4, data.length - done);
      let value = 0;
      for (let i = size - 1; i >= 0; i--) value = (value << 8) | data[done + i];
      ops.write(hit.offset + done, size, value >>> 0);
    }
    return true;
  }

  /**
   * A configuration access through the ECAM window, `offset` bytes into it: bits 19:12 the
   * devfn, 11:0 the register. Our functions are conventional PCI (256 bytes), so the extended
   * space reads all ones and takes no writes, as QEMU's `pci_host_config_read_common` answers
   * past a function's config size; so does an absent function. Each dword of a wider access
   * is its own cycle; a narrower one stays within its dword.
   */
  private mmconfigAccess(offset: number, data: Uint8Array, write: boolean): void {
    const device = this.functions[(offset >>> 12) & 0xff];
    for (let done = 0; done < data.length; ) {
      const reg = (offset + done) & 0xfff;
      const size = Math.min(data.length - done, 4 - (reg & 3));
      if (write) {
        let value = 0;
        for (let i = size - 1; i >= 0; i--) value = (value << 8) | data[done + i];
        if (device && reg < 0x100) device.configWrite(reg, size, value >>> 0);
      } else {
        const value = device && reg < 0x100 ? device.configRead(reg, size) : 0xffffffff;
        for (let i = 0; i < size; i++) data[done + i] = (value >>> (8 * i)) & 0xff;
      }
      done += size;
    }
  }

  /** Port I/O to a BAR; undefined when none decodes `port`. */
  barIoIn(port: number, size: number): number | undefined {
    const hit = this.findBar(true, port, size);
    return hit ? hit.device.bars[hit.index]!.ops.read(hit.offset, size) : undefined;
  }

  barIoOut(port: number, size: number, value: number): boolean {
    const hit = this.findBar(true, port, size);
    if (!hit) return false;
    hit.device.bars[hit.index]!.ops.write(hit.offset, size, value);
    return true;
  }

  /** System reset: every function's reset, CONFIG_ADDRESS cleared, then the firmware's placement. */
  reset(): void {
    this.configAddress = 0;
    for (const device of this.functions) device?.reset();
    this.assignResources();
  }
}
