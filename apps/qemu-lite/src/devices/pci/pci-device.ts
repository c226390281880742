/**
 * A conventional PCI function's 256-byte configuration space (PCI Local Bus Spec 3.0, 6.1),
 * modelled as QEMU's `PCIDevice` does: the bytes, a write mask (`wmask`, the bits software may
 * change) and a write-1-to-clear mask. BAR sizing needs no code of its own: a BAR's writable bits
 * are exactly its address bits, so writing all ones reads back the size mask (spec 6.2.5.1).
 */

/** Configuration-space offsets (PCI 3.0 6.1, type 0 header). */
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION_ID = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BASE_ADDRESS_0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_SUBSYSTEM_ID = 0x2e;
export const PCI_CAPABILITY_LIST = 0x34;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_COMMAND_INTX_DISABLE = 0x400;
export const PCI_STATUS_INTERRUPT = 0x8;
export const PCI_STATUS_CAP_LIST = 0x10;
export const PCI_HEADER_TYPE_MULTI_FUNCTION = 0x80;

export const PCI_BASE_ADDRESS_SPACE_IO = 0x1;
export const PCI_BASE_ADDRESS_MEM_TYPE_32 = 0x0;

/** What a BAR decodes: accesses at `offset` inside it, `size` 1, 2 or 4 bytes. Never throws. */
export interface PciBarOps {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

export interface PciBar {
  /** Size in bytes, a power of two (I/O at least 4, memory at least 16: PCI 3.0 6.2.5.1). */
  size: number;
  io: boolean;
  ops: PciBarOps;
}

export interface PciIds {
  vendorId: number;
  deviceId: number;
  revision: number;
  /** Class code, programming interface in the low byte (0x060000: host bridge). */
  classCode: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** INTA# = 1 … INTD# = 4; 0 for none. */
  interruptPin?: number;
  headerType?: number;
}

/** Where the bus routes a function's INTx line: called with the level the device drives. */
export type IntxSink = (level: number) => void;

export class PciDevice {
  readonly config = new Uint8Array(256);
  readonly wmask = new Uint8Array(256);
  readonly bars: (PciBar | undefined)[] = new Array(6).fill(undefined);
  /** Next free byte for a capability (after the standard header). */
  private capNext = 0x40;
  /** Set by the bus when the function is plugged in. */
  intx: IntxSink = () => {};
  private intxLevel = 0;

  constructor(
    readonly name: string,
    ids: PciIds,
  ) {
    this.set16(PCI_VENDOR_ID, ids.vendorId);
    this.set16(PCI_DEVICE_ID, ids.deviceId);
    this.config[PCI_REVISION_ID] = ids.revision;
    this.config[PCI_CLASS_PROG] = ids.classCode & 0xff;
    this.set16(PCI_CLASS_PROG + 1, ids.classCode >>> 8);
    this.config[PCI_HEADER_TYPE] = ids.headerType ?? 0;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, ids.subsystemVendorId ?? 0);
    this.set16(PCI_SUBSYSTEM_ID, ids.subsystemId ?? 0);
    this.config[PCI_INTERRUPT_PIN] = ids.interruptPin ?? 0;
    // Software may change the command register's I/O, memory, bus-master and INTx-disable bits
    // (the rest we do not implement: hardwired 0, PCI 3.0 6.2.2) and the interrupt line.
    this.set16(PCI_COMMAND, 0, this.wmask);
    this.wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    this.wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
    this.wmask[PCI_INTERRUPT_LINE] = 0xff;
  }

  /** Declares BAR `index`: its low bits say I/O or 32-bit memory, its address bits are writable. */
  registerBar(index: number, bar: PciBar): void {
    const min = bar.io ? 4 : 16;
    if (bar.size < min || (bar.size & (bar.size - 1)) !== 0)
      throw new RangeError(`${this.name}: BAR ${index} size ${bar.size} is not a power of two ≥ ${min}`);
    this.bars[index] = bar;
    const offset = PCI_BASE_ADDRESS_0 + 4 * index;
    this.set32(offset, bar.io ? PCI_BASE_ADDRESS_SPACE_IO : PCI_BASE_ADDRESS_MEM_TYPE_32);
    this.set32(offset, ~(bar.size - 1) & (bar.io ? 0xfffffffc : 0xfffffff0), this.wmask);
  }

  /**
   * Appends a capability (PCI 3.0 6.7) of `length` bytes with ID `id`, linked into the list;
   * returns its offset so the caller fills its body.
   */
  addCapability(id: number, length: number): number {
    const offset = this.capNext;
    if (offset + length > 0x100) throw new RangeError(`${this.name}: capabilities overflow config space`);
    this.capNext = (offset + length + 3) & ~3;
    this.config[offset] = id;
    this.config[offset + 1] = this.config[PCI_CAPABILITY_LIST];
    this.config[PCI_CAPABILITY_LIST] = offset;
    this.config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
    return offset;
  }

  /** Where BAR `index` decodes now, or -1 (absent, unassigned or its space disabled). */
  barAddress(index: number): number {
    const bar = this.bars[index];
    if (!bar) return -1;
    const command = this.get16(PCI_COMMAND);
    if (!(command & (bar.io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY))) return -1;
    const raw = this.get32(PCI_BASE_ADDRESS_0 + 4 * index);
    const address = (raw & (bar.io ? 0xfffffffc : 0xfffffff0)) >>> 0;
    // All ones in the address bits is a BAR being sized, not placed (as QEMU's pci_bar_address).
    if (address === 0 || address + bar.size > (bar.io ? 0x10000 : 0x100000000)) return -1;
    return address;
  }

  /** A configuration read of `size` bytes at `offset` (within the dword, little-endian). */
  configRead(offset: number, size: number): number {
    let value = 0;
    for (let i = size - 1; i >= 0; i--) value = (value << 8) | this.config[(offset + i) & 0xff];
    return value >>> 0;
  }

  /** A configuration write: only the bits `wmask` allows change. */
  configWrite(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const at = (offset + i) & 0xff;
      const mask = this.wmask[at];
      this.config[at] = (this.config[at] & ~mask) | ((value >>> (8 * i)) & mask);
    }
    // INTx disable masks a line that is up (PCI 3.0 6.2.2, bit 10): re-drive it.
    if (offset <= PCI_COMMAND + 1 && offset + size > PCI_COMMAND + 1) this.driveIntx();
  }

  /** The function's INTx# level (the interrupt status bit follows it whatever INTx disable says). */
  setIntx(level: number): void {
    this.intxLevel = level ? 1 : 0;
    if (this.intxLevel) this.config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else this.config[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
    this.driveIntx();
  }

  private driveIntx(): void {
    const disabled = this.get16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE;
    this.intx(disabled ? 0 : this.intxLevel);
  }

  /** System reset: command, BARs and interrupt line back to 0 (QEMU's pci_do_device_reset). */
  reset(): void {
    this.config[PCI_COMMAND] = 0;
    this.config[PCI_COMMAND + 1] = 0;
    for (let i = 0; i < 6; i++) {
      const bar = this.bars[i];
      if (bar) this.set32(PCI_BASE_ADDRESS_0 + 4 * i, bar.io ? PCI_BASE_ADDRESS_SPACE_IO : 0);
    }
    this.config[PCI_INTERRUPT_LINE] = 0;
    this.setIntx(0);
  }

  get16(offset: number): number {
    return this.config[offset] | (this.config[offset + 1] << 8);
  }

  get32(offset: number): number {
    return (this.get16(offset) | (this.get16(offset + 2) << 16)) >>> 0;
  }

  set16(offset: number, value: number, bytes: Uint8Array = this.config): void {
    bytes[offset] = value & 0xff;
    bytes[offset + 1] = (value >>> 8) & 0xff;
  }

  set32(offset: number, value: number, bytes: Uint8Array = this.config): void {
    this.set16(offset, value & 0xffff, bytes);
    this.set16(offset + 2, value >>> 16, bytes);
  }
}
