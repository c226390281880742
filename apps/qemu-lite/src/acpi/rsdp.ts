/**
 * The Root System Description Pointer (ACPI 6.4 5.2.5.3, Table 5.3), revision 2: 36 bytes.
 * An OS finds it by scanning for "RSD PTR " on 16-byte boundaries in the EBDA's first KiB and
 * in 0xE0000–0xFFFFF (5.2.5.1; Linux's `acpi_find_root_pointer`).
 *
 *   0 Signature (8)   8 Checksum (first 20 bytes)   9 OEMID (6)   15 Revision
 *   16 RsdtAddress (4)   20 Length (4)   24 XsdtAddress (8)   32 Extended Checksum   33 reserved (3)
 */
import { setChecksum } from './checksum.js';
import { ACPI_OEM_ID, TableWriter } from './sdt.js';

export const RSDP_SIZE = 36;
/** ACPI 1.0 checksummed the first 20 bytes; the extended checksum covers all 36. */
export const RSDP_V1_SIZE = 20;
export const RSDP_REVISION = 2;

export function buildRsdp(rsdtGpa: number, xsdtGpa: number): Uint8Array {
  const w = new TableWriter(RSDP_SIZE);
  w.ascii(0, 'RSD PTR ');
  w.ascii(9, ACPI_OEM_ID, 6);
  w.u8(15, RSDP_REVISION);
  w.u32(16, rsdtGpa);
  w.u32(20, RSDP_SIZE);
  w.u64(24, xsdtGpa);
  setChecksum(w.bytes, 0, RSDP_V1_SIZE, 8);
  setChecksum(w.bytes, 0, RSDP_SIZE, 32);
  return w.bytes;
}
