/**
 * SSE comparisons on float32/float64 bit patterns (SDM Vol. 2 CMPSS/CMPSD, COMISS/UCOMISS):
 * CMPccSS's eight predicates and the EFLAGS of (U)COMISS/SD. Operands as in sse-float.ts.
 */
import { FE_DENORMAL, FE_INVALID } from './exceptions.js';
import { MXCSR_DAZ } from './mxcsr.js';
import { classify32, classify64, FClass } from './sse-bits.js';
import { lessThan } from './sse-float.js';

export const REL_LESS = 0;
export const REL_EQUAL = 1;
export const REL_GREATER = 2;
export const REL_UNORDERED = 3;

/** The relation of the last sseCompare. */
export const CMP = { relation: REL_UNORDERED };

/**
 * Compares a with b, sets CMP.relation and returns FE_* flags: IE for an SNaN, or for any NaN
 * when `signalQNaN` (COMISS, and CMPSS's LT/LE/NLT/NLE predicates); DE for a denormal operand
 * unless DAZ reads it as zero.
 */
export function sseCompare(
  wide: boolean,
  ahi: number,
  alo: number,
  bhi: number,
  blo: number,
  mxcsr: number,
  signalQNaN: boolean,
): number {
  let ca = wide ? classify64(ahi, alo) : classify32(alo);
  let cb = wide ? classify64(bhi, blo) : classify32(blo);
  if (ca >= FClass.QNaN || cb >= FClass.QNaN) {
    CMP.relation = REL_UNORDERED;
    return signalQNaN || ca === FClass.SNaN || cb === FClass.SNaN ? FE_INVALID : 0;
  }
  let flags = 0;
  if (ca === FClass.Denormal || cb === FClass.Denormal) {
    if (mxcsr & MXCSR_DAZ) {
      if (ca === FClass.Denormal) {
        ca = FClass.Zero;
        ahi = (ahi & 0x80000000) >>> 0;
        alo = wide ? 0 : (alo & 0x80000000) >>> 0;
      }
      if (cb === FClass.Denormal) {
        cb = FClass.Zero;
        bhi = (bhi & 0x80000000) >>> 0;
        blo = wide ? 0 : (blo & 0x80000000) >>> 0;
      }
    } else flags = FE_DENORMAL;
  }
  if (lessThan(wide, ahi | 0, alo | 0, bhi | 0, blo | 0)) CMP.relation = REL_LESS;
  else if (lessThan(wide, bhi | 0, blo | 0, ahi | 0, alo | 0)) CMP.relation = REL_GREATER;
  else CMP.relation = REL_EQUAL;
  return flags;
}

/** CMPSS/CMPSD predicate imm8 & 7 (EQ, LT, LE, UNORD, NEQ, NLT, NLE, ORD): true/false, flags. */
export const CMPPRED = { result: false };
export function sseCmpPredicate(
  predicate: number,
  wide: boolean,
  ahi: number,
  alo: number,
  bhi: number,
  blo: number,
  mxcsr: number,
): number {
  const p = predicate & 7;
  // LT, LE, NLT, NLE signal on QNaN (SDM Vol. 2 Table 3-1).
  const signal = (p & 3) === 1 || (p & 3) === 2;
  const flags = sseCompare(wide, ahi, alo, bhi, blo, mxcsr, signal);
  const rel = CMP.relation;
  let r: boolean;
  switch (p & 3) {
    case 0:
      r = rel === REL_EQUAL;
      break;
    case 1:
      r = rel === REL_LESS;
      break;
    case 2:
      r = rel === REL_LESS || rel === REL_EQUAL;
      break;
    default:
      r = rel === REL_UNORDERED;
  }
  CMPPRED.result = p & 4 ? !r : r;
  return flags;
}

/** EFLAGS (ZF, PF, CF) of COMISS/UCOMISS for a relation; OF, SF, AF are cleared. */
export function comiEflags(relation: number): number {
  switch (relation) {
    case REL_LESS:
      return 0x01;
    case REL_EQUAL:
      return 0x40;
    case REL_GREATER:
      return 0;
    default:
      return 0x45;
  }
}
