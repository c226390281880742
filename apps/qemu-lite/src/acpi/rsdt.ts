/**
 * The root tables: RSDT (32-bit entries, ACPI 6.4 5.2.7) and XSDT (64-bit entries, 5.2.8),
 * each a header followed by the physical addresses of the other tables (not the FACS or DSDT,
 * which the FADT points to).
 */
import { finishSdt, SDT_HEADER_SIZE, startSdt } from './sdt.js';

export function buildRsdt(tableGpas: readonly number[]): Uint8Array {
  const w = startSdt('RSDT', SDT_HEADER_SIZE + 4 * tableGpas.length, 1);
  for (let i = 0; i < tableGpas.length; i++) w.u32(SDT_HEADER_SIZE + 4 * i, tableGpas[i]);
  return finishSdt(w);
}

export function buildXsdt(tableGpas: readonly number[]): Uint8Array {
  const w = startSdt('XSDT', SDT_HEADER_SIZE + 8 * tableGpas.length, 1);
  for (let i = 0; i < tableGpas.length; i++) w.u64(SDT_HEADER_SIZE + 8 * i, tableGpas[i]);
  return finishSdt(w);
}
