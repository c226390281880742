/**
 * MSI-X (PCI Local Bus Spec 3.0 6.8.2), as QEMU's `hw/pci/msix.c` models it: a capability in
 * configuration space (Message Control: table size, Function Mask, MSI-X Enable; Table and PBA
 * offset/BIR), and a memory BAR of its own holding the vector table (16 bytes per vector:
 * message address low/high, message data, vector control) and the Pending Bit Array.
 *
 * A vector the device signals while it is masked (its own mask bit or the function mask) is not
 * lost: its pending bit is set, and the message goes out when the vector is unmasked (6.8.3.4).
 */
import type { PciDevice } from './pci-device.js';

export const PCI_CAP_ID_MSIX = 0x11;
/** Message Control bits (6.8.2.3). */
export const PCI_MSIX_FLAGS_QSIZE = 0x07ff;
export const PCI_MSIX_FLAGS_MASKALL = 0x4000;
export const PCI_MSIX_FLAGS_ENABLE = 0x8000;
/** Vector table entry fields (6.8.2.6–6.8.2.9). */
export const PCI_MSIX_ENTRY_SIZE = 16;
export const PCI_MSIX_ENTRY_LOWER_ADDR = 0;
export const PCI_MSIX_ENTRY_UPPER_ADDR = 4;
export const PCI_MSIX_ENTRY_DATA = 8;
export const PCI_MSIX_ENTRY_VECTOR_CTRL = 12;
export const PCI_MSIX_ENTRY_CTRL_MASKBIT = 1;
/** Where the PBA starts in the BAR (QEMU's virtio puts it at half of its 4 KiB MSI-X BAR). */
export const MSIX_PBA_OFFSET = 0x800;
const MSIX_BAR_SIZE = 0x1000;
/** The largest table that fits below the PBA. */
const MSIX_MAX_VECTORS = MSIX_PBA_OFFSET / PCI_MSIX_ENTRY_SIZE;

/** Sends one message on the APIC bus: `Vm.signalMsi`'s address and data. */
export type MsiSink = (addressLo: number, addressHi: number, data: number) => void;

export class Msix {
  /** The vector table, 4 dwords per vector. */
  readonly table: Uint32Array;
  /** One pending bit per vector (6.8.2.10), as bytes for plain indexing. */
  readonly pending: Uint8Array;
  /** The capability's offset in configuration space. */
  readonly cap: number;

  /** Adds the capability to `device` and the table/PBA as its memory BAR `bar`. */
  constructor(
    private readonly device: PciDevice,
    readonly vectors: number,
    bar: number,
    private readonly send: MsiSink,
  ) {
    if (vectors < 1 || vectors > MSIX_MAX_VECTORS)
      throw new RangeError(`${device.name}: ${vectors} MSI-X vectors (1 to ${MSIX_MAX_VECTORS})`);
    this.table = new Uint32Array(vectors * 4);
    this.pending = new Uint8Array(vectors);
    this.cap = device.addCapability(PCI_CAP_ID_MSIX, 12);
    device.set16(this.cap + 2, vectors - 1);
    // Only Function Mask and MSI-X Enable are writable (6.8.2.3).
    device.wmask[this.cap + 3] = (PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE) >> 8;
    device.set32(this.cap + 4, 0 | bar);
    device.set32(this.cap + 8, MSIX_PBA_OFFSET | bar);
    device.registerBar(bar, {
      size: MSIX_BAR_SIZE,
      io: false,
      ops: { read: (o, s) => this.read(o, s), write: (o, s, v) => this.write(o, s, v) },
    });
    this.reset();
  }

  private get control(): number {
    return this.device.get16(this.cap + 2);
  }

  /** MSI-X Enable: while set the function uses its vectors and never INTx# (6.8.2.3). */
  get enabled(): boolean {
    return (this.control & PCI_MSIX_FLAGS_ENABLE) !== 0;
  }

  private masked(vector: number): boolean {
    return (
      (this.control & PCI_MSIX_FLAGS_MASKALL) !== 0 ||
      (this.table[vector * 4 + 3] & PCI_MSIX_ENTRY_CTRL_MASKBIT) !== 0
    );
  }

  /**
   * Signals `vector` (QEMU's `msix_notify`): sent now, or left pending while masked. A vector
   * past the table, or MSI-X disabled, does nothing. Never throws.
   */
  notify(vector: number): void {
    if (!this.enabled || vector < 0 || vector >= this.vectors) return;
    if (this.masked(vector)) {
      this.pending[vector] = 1;
      return;
    }
    this.deliver(vector);
  }

  private deliver(vector: number): void {
    const at = vector * 4;
    this.send(this.table[at], this.table[at + 1], this.table[at + 2]);
  }

  /** Sends every pending vector that is no longer masked (`msix_handle_mask_update`). */
  private firePending(): void {
    if (!this.enabled) return;
    for (let v = 0; v < this.vectors; v++) {
      if (this.pending[v] && !this.masked(v)) {
        this.pending[v] = 0;
        this.deliver(v);
      }
    }
  }

  /** For the device's `configWrite`: a write touching Message Control may unmask vectors. */
  configWritten(offset: number, size: number): void {
    if (offset < this.cap + 4 && offset + size > this.cap + 2) this.firePending();
  }

  private read(offset: number, size: number): number {
    if (offset < MSIX_PBA_OFFSET) {
      const index = offset >>> 2;
      if (index >= this.table.length) return 0;
      return ((this.table[index] >>> (8 * (offset & 3))) & sizeMask(size)) >>> 0;
    }
    // The PBA: bit n is vector n's pending bit, read as qwords or dwords (6.8.2.10).
    let value = 0;
    for (let i = 0; i < size * 8; i++) {
      const vector = (offset - MSIX_PBA_OFFSET) * 8 + i;
      if (vector < this.vectors && this.pending[vector]) value |= 1 << i;
    }
    return value >>> 0;
  }

  private write(offset: number, size: number, value: number): void {
    // The PBA is read-only; table entries take dword writes (6.8.2: software must use dword or
    // qword accesses, QEMU's msix_table_mmio_write takes 4-byte accesses only).
    if (offset >= MSIX_PBA_OFFSET || size !== 4 || offset & 3) return;
    const index = offset >>> 2;
    if (index >= this.table.length) return;
    if ((index & 3) === 3) {
      // Vector Control: only the mask bit is defined; clearing it sends a pending message.
      this.table[index] = value & PCI_MSIX_ENTRY_CTRL_MASKBIT;
      this.firePending();
    } else this.table[index] = value >>> 0;
  }

  /** Function reset (6.8.2.9): every vector masked, nothing pending, MSI-X disabled. */
  reset(): void {
    this.table.fill(0);
    for (let v = 0; v < this.vectors; v++) this.table[v * 4 + 3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
    this.pending.fill(0);
    this.device.set16(this.cap + 2, this.vectors - 1);
  }
}

function sizeMask(size: number): number {
  return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
}
