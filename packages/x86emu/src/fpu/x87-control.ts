/**
 * Decoding the x87 control word (SDM Vol. 1 8.1.5): exception masks (bits 0-5), precision
 * control (bits 9-8) and rounding control (bits 11-10), into roundPack's arguments.
 */
import { MODE_BIAS_ADJUST, MODE_MASK_OE, MODE_MASK_UE, MODE_TRAP_BARE } from './round.js';

/**
 * Significand bits for PC = 00, 01, 10, 11 (SDM Table 8-2). 01 is "reserved"; the CPU rounds
 * to 64 bits there, as for 11 (measured on the referee host, an AMD EPYC).
 */
const PC_BITS = [24, 64, 53, 64];

export function precisionOf(cw: number): number {
  return PC_BITS[(cw >>> 8) & 3];
}

export function roundingOf(cw: number): number {
  return (cw >>> 10) & 3;
}

/** roundPack mode for a result delivered to an x87 register. */
export function registerMode(cw: number): number {
  return (cw & (MODE_MASK_OE | MODE_MASK_UE)) | MODE_BIAS_ADJUST;
}

/** roundPack mode for a result stored to memory (unmasked O/U: nothing stored, SDM 8.5.4). */
export function memoryMode(cw: number): number {
  return (cw & (MODE_MASK_OE | MODE_MASK_UE)) | MODE_TRAP_BARE;
}
