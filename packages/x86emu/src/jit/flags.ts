/** Flag helpers the compiled code calls (kept out of the generated source). */
import type { Cpu } from '../cpu/cpu.js';
import { LF_NONE, PARITY } from '../cpu/lazy-flags.js';
import { Flag } from '../state.js';

const ARITH = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.OF;

/**
 * RFLAGS after a 32-bit IMUL with low half `low` (unsigned): what exec/alu.ts `mulFlags` leaves
 * (SF/ZF/PF from the low half, AF clear, CF = OF = `overflow`; SDM Vol. 2 IMUL), materialized.
 */
export function imulFlags(cpu: Cpu, low: number, overflow: boolean): void {
  const s = cpu.state;
  let f = s.rflags[0] & ~ARITH;
  if (PARITY[low & 0xff] === 1) f |= Flag.PF;
  if (low === 0) f |= Flag.ZF;
  if (low >= 0x80000000) f |= Flag.SF;
  if (overflow) f |= Flag.CF | Flag.OF;
  s.rflags[0] = f;
  cpu.lfOp = LF_NONE;
}
