/**
 * The MCFG table (PCI Firmware Specification 3.0, 4.1.2): where the PCI Express enhanced
 * configuration access mechanism (ECAM, "MMCONFIG") window of each segment is, as QEMU's
 * `build_mcfg` writes it for q35. 36-byte header, 8 reserved bytes, then one 16-byte
 * allocation per window:
 *
 *   0 Base Address (8)   8 PCI Segment Group (2)   10 Start Bus (1)   11 End Bus (1)   12 reserved (4)
 */
import { finishSdt, SDT_HEADER_SIZE, startSdt } from './sdt.js';

export const MCFG_TABLE_SIZE = SDT_HEADER_SIZE + 8 + 16;

export interface McfgParams {
  /** The window's guest-physical address (bus `startBus`'s configuration space). */
  baseGpa: number;
  startBus: number;
  endBus: number;
}

export function buildMcfg(p: McfgParams): Uint8Array {
  const w = startSdt('MCFG', MCFG_TABLE_SIZE, 1);
  const at = SDT_HEADER_SIZE + 8;
  w.u64(at, p.baseGpa);
  w.u16(at + 8, 0);
  w.u8(at + 10, p.startBus);
  w.u8(at + 11, p.endBus);
  return finishSdt(w);
}
