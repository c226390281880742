/**
 * x87 stack faults (SDM Vol. 1 8.5.1.1): an instruction that reads an empty register (stack
 * underflow) or pushes onto a full one (stack overflow) raises IE with SF set, and C1 says
 * which (1 = overflow, 0 = underflow). The register file is the caller's; this gives the
 * status bits and the masked response.
 */
import { FE_INVALID, SW_C1 } from './exceptions.js';
import { type Ext80, INDEFINITE_HI, INDEFINITE_SE } from './float80.js';

/** Status word bit 6: stack fault (meaningful with IE). */
export const SW_SF = 0x40;

/**
 * The status bits of a stack fault; when IE is masked and `out` is given (a register
 * destination), the real indefinite is written to it. Memory destinations of a masked
 * underflow receive their format's indefinite (F32_INDEFINITE, the integer or BCD
 * indefinite) instead. With IE unmasked nothing is written and the stack is not changed.
 */
export function stackFault(overflow: boolean, cw: number, out: Ext80 | null): number {
  if (out !== null && cw & FE_INVALID) {
    out.signExp = INDEFINITE_SE;
    out.hi = INDEFINITE_HI;
    out.lo = 0;
  }
  return FE_INVALID | SW_SF | (overflow ? SW_C1 : 0);
}
