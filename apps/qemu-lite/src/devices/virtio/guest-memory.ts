/**
 * Guest RAM as a device doing DMA sees it: little-endian loads and stores at guest-physical
 * addresses, each checked against the RAM's end. A device never reaches past RAM: an address
 * outside it is a `GuestMemoryError` the device turns into its own error status, never a
 * JavaScript RangeError escaping into the vCPU loop.
 */
export class GuestMemoryError extends Error {
  constructor(
    readonly gpa: number,
    readonly length: number,
  ) {
    super(`guest-physical 0x${gpa.toString(16)}+${length} is outside RAM`);
    this.name = 'GuestMemoryError';
  }
}

export class GuestMemory {
  private readonly view: DataView;

  constructor(readonly ram: Uint8Array) {
    this.view = new DataView(ram.buffer, ram.byteOffset, ram.byteLength);
  }

  /** Throws GuestMemoryError unless [gpa, gpa + length) is inside RAM. */
  check(gpa: number, length: number): void {
    if (!(gpa >= 0 && length >= 0 && gpa + length <= this.ram.length))
      throw new GuestMemoryError(gpa, length);
  }

  /** The bytes at [gpa, gpa + length), a view (no copy). */
  slice(gpa: number, length: number): Uint8Array {
    this.check(gpa, length);
    return this.ram.subarray(gpa, gpa + length);
  }

  read16(gpa: number): number {
    this.check(gpa, 2);
    return this.view.getUint16(gpa, true);
  }

  read32(gpa: number): number {
    this.check(gpa, 4);
    return this.view.getUint32(gpa, true);
  }

  /** A 64-bit field as a plain number; above 2^53 it is outside any RAM anyway (→ Infinity-safe). */
  read64(gpa: number): number {
    this.check(gpa, 8);
    return this.view.getUint32(gpa + 4, true) * 0x100000000 + this.view.getUint32(gpa, true);
  }

  write16(gpa: number, value: number): void {
    this.check(gpa, 2);
    this.view.setUint16(gpa, value, true);
  }

  write32(gpa: number, value: number): void {
    this.check(gpa, 4);
    this.view.setUint32(gpa, value, true);
  }
}
