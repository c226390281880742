/**
 * MXCSR (SDM Vol. 1 10.2.3): flags in bits 0-5, DAZ bit 6, masks in bits 7-12 (same order as
 * the flags), rounding control bits 14-13, FTZ bit 15. Bits 16-31 are reserved (#GP on LDMXCSR;
 * MXCSR_MASK from FXSAVE says which bits exist: 0xffff here).
 */
import { MODE_FTZ } from './round.js';

export const MXCSR_DAZ = 0x40;
export const MXCSR_FTZ = 0x8000;
export const MXCSR_DEFAULT = 0x1f80;
export const MXCSR_MASK = 0xffff;

export function mxcsrMasks(mxcsr: number): number {
  return (mxcsr >>> 7) & 0x3f;
}

export function mxcsrRounding(mxcsr: number): number {
  return (mxcsr >>> 13) & 3;
}

/** roundPack mode: OE/UE masks and FTZ; unmasked O/U deliver nothing (#XM, SDM 11.5.2). */
export function mxcsrMode(mxcsr: number): number {
  return (mxcsrMasks(mxcsr) & 0x18) | (mxcsr & MODE_FTZ);
}
