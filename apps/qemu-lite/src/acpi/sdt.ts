/**
 * The System Description Table header every ACPI table but the RSDP and FACS starts with
 * (ACPI 6.4 5.2.6, Table 5.4), and a little-endian writer for table bodies.
 *
 *   0 Signature (4)   4 Length (4)   8 Revision   9 Checksum   10 OEMID (6)
 *   16 OEM Table ID (8)   24 OEM Revision (4)   28 Creator ID (4)   32 Creator Revision (4)
 */
import { setChecksum } from './checksum.js';

export const SDT_HEADER_SIZE = 36;
/** OEMID and creator as QEMU's firmware writes them, so guests that look for QEMU find it. */
export const ACPI_OEM_ID = 'BOCHS ';
export const ACPI_OEM_TABLE_PREFIX = 'BXPC';
export const ACPI_CREATOR_ID = 'QLTE';

/** A growable little-endian byte buffer for one table. */
export class TableWriter {
  bytes: Uint8Array;
  private view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(at: number, v: number): void {
    this.bytes[at] = v;
  }
  u16(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }
  u32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }
  /** A 64-bit field whose value fits in 32 bits (every address here is below 4 GiB). */
  u64(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
    this.view.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
  }
  /** ASCII, padded with spaces to `width` (OEM fields are space-padded by convention). */
  ascii(at: number, text: string, width = text.length): void {
    for (let i = 0; i < width; i++) this.bytes[at + i] = i < text.length ? text.charCodeAt(i) : 0x20;
  }
}

/**
 * A table `length` bytes long with its header filled in (signature, length, revision, the OEM
 * and creator fields); the checksum is set by `finishSdt` once the body is written.
 */
export function startSdt(signature: string, length: number, revision: number): TableWriter {
  const w = new TableWriter(length);
  w.ascii(0, signature, 4);
  w.u32(4, length);
  w.u8(8, revision);
  w.ascii(10, ACPI_OEM_ID, 6);
  w.ascii(16, `${ACPI_OEM_TABLE_PREFIX}${signature}`, 8);
  w.u32(24, 1);
  w.ascii(28, ACPI_CREATOR_ID, 4);
  w.u32(32, 1);
  return w;
}

/** Sets the header's checksum (offset 9) over the whole table and returns its bytes. */
export function finishSdt(w: TableWriter): Uint8Array {
  setChecksum(w.bytes, 0, w.bytes.length, 9);
  return w.bytes;
}

/** ACPI Generic Address Structure (ACPI 6.4 5.2.3.2): 12 bytes. */
export const GAS_SIZE = 12;
/** Address space ID 1: System I/O. */
export const GAS_SYSTEM_IO = 1;
/** Access size 1 byte, 2 word, 3 dword (ACPI 6.4 Table 5.1). */
export const GAS_ACCESS_BYTE = 1;
export const GAS_ACCESS_WORD = 2;
export const GAS_ACCESS_DWORD = 3;

/** Writes a System I/O GAS at `at`; a port of 0 writes an all-zero GAS ("not present"). */
export function writeIoGas(
  w: TableWriter,
  at: number,
  port: number,
  bitWidth: number,
  accessSize: number,
): void {
  if (port === 0) return;
  w.u8(at, GAS_SYSTEM_IO);
  w.u8(at + 1, bitWidth);
  w.u8(at + 2, 0);
  w.u8(at + 3, accessSize);
  w.u64(at + 4, port);
}
