/**
 * The HPET description table (IA-PC HPET specification 1.0a, 3.2.4), as QEMU's `build_hpet`
 * writes it for its one HPET: the event timer block ID (GCAP_ID's low half, kept in step with
 * the device), the register block in system memory, HPET number 0, no minimum periodic tick, no
 * page protection. 56 bytes.
 *
 *   36 Event Timer Block ID (4)   40 Base Address (GAS, 12)   52 HPET Number (1)
 *   53 Main Counter Minimum Clock Tick in Periodic Mode (2)   55 Page Protection (1)
 */
import { finishSdt, GAS_SIZE, SDT_HEADER_SIZE, startSdt } from './sdt.js';

/** Address space ID 0: System Memory (ACPI 6.4 Table 5.1). */
const GAS_SYSTEM_MEMORY = 0;
export const HPET_TABLE_SIZE = SDT_HEADER_SIZE + 4 + GAS_SIZE + 1 + 2 + 1;

export interface HpetTableParams {
  /** GCAP_ID bits 31:0 of the device. */
  eventTimerBlockId: number;
  /** Its register block's guest-physical address. */
  baseGpa: number;
}

export function buildHpetTable(p: HpetTableParams): Uint8Array {
  const w = startSdt('HPET', HPET_TABLE_SIZE, 1);
  w.u32(36, p.eventTimerBlockId);
  // A GAS with QEMU's values: system memory, register width, offset and access size 0.
  w.u8(40, GAS_SYSTEM_MEMORY);
  w.u64(44, p.baseGpa);
  w.u8(52, 0);
  w.u16(53, 0);
  w.u8(55, 0);
  return finishSdt(w);
}
