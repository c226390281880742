/**
 * The floating-point arithmetic core: exact x87 80-bit and SSE float32/float64 operations on
 * plain numbers, each returning the exception flags it raised. Not yet wired to instructions;
 * see README.md beside this file.
 */
export { BCD, fbld, fbstp } from './bcd.js';
export { CC_EQUAL, CC_GREATER, CC_LESS, CC_UNORDERED, fcom80, ftst80, fxam80 } from './compare.js';
export { FLD_1, FLD_L2E, FLD_L2T, FLD_LG2, FLD_LN2, FLD_PI, FLD_Z, fldConstant } from './constants.js';
export { fild, fist, fld32, fld64, fstFloat, magnitudeToExt80 } from './convert.js';
export {
  FE_ALL,
  FE_DENORMAL,
  FE_DIVBYZERO,
  FE_INEXACT,
  FE_INVALID,
  FE_OVERFLOW,
  FE_PRECOMPUTATION,
  FE_UNDERFLOW,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  unmaskedExceptions,
} from './exceptions.js';
export {
  classify80,
  EXP_BIAS,
  EXP_MAX,
  Ext80,
  F80Class,
  hex80,
  INDEFINITE_HI,
  INDEFINITE_SE,
} from './float80.js';
export { fprem80, premN } from './fprem.js';
export { frndint80 } from './frndint.js';
export { fscale80 } from './fscale.js';
export { fxtract80 } from './fxtract.js';
export { MXCSR_DAZ, MXCSR_DEFAULT, MXCSR_FTZ, MXCSR_MASK, mxcsrMasks, mxcsrRounding } from './mxcsr.js';
export { RC_DOWN, RC_NEAREST, RC_UP, RC_ZERO } from './round.js';
export {
  classify32,
  classify64,
  F32_INDEFINITE,
  F64_INDEFINITE_HI,
  FClass,
  type WordPair,
} from './sse-bits.js';
export {
  CMP,
  CMPPRED,
  comiEflags,
  REL_EQUAL,
  REL_GREATER,
  REL_LESS,
  REL_UNORDERED,
  sseCmpPredicate,
  sseCompare,
} from './sse-compare.js';
export { cvtf2si, cvtsd2ss, cvtsi2f, cvtss2sd } from './sse-convert.js';
export {
  SSE_ADD,
  SSE_DIV,
  SSE_MAX,
  SSE_MIN,
  SSE_MUL,
  SSE_SQRT,
  SSE_SUB,
  SseOut,
  sseArith,
} from './sse-float.js';
export { ssePacked } from './sse-packed.js';
export { sseRound } from './sse-round.js';
export { SW_SF, stackFault } from './stack-fault.js';
export { fadd80, fdiv80, fmul80, fsqrt80, fsub80 } from './x87-arith.js';
export { f2xm1, fpatan, ftrig, fyl2x, fyl2xp1, TRIG_COS, TRIG_SIN, TRIG_TAN } from './x87-trans.js';
