/**
 * x87 instructions on ST(0) (and ST(1)) without a memory operand (SDM Vol. 2): FCHS, FABS, FTST,
 * FXAM, FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM, FPREM1, the transcendentals (F2XM1, FYL2X,
 * FYL2XP1, FPATAN, FSIN, FCOS, FSINCOS, FPTAN), FINCSTP, FDECSTP, FFREE, FFREEP, FNOP.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import {
  CC_UNORDERED,
  classify80,
  Ext80,
  F80Class,
  FE_DENORMAL,
  FE_DIVBYZERO,
  FE_INEXACT,
  FE_INVALID,
  f2xm1,
  fpatan,
  fprem80,
  frndint80,
  fscale80,
  fsqrt80,
  ftrig,
  ftst80,
  fxam80,
  fxtract80,
  fyl2x,
  fyl2xp1,
  INDEFINITE_HI,
  INDEFINITE_SE,
  stackFault,
  TRIG_COS,
  TRIG_SIN,
  TRIG_TAN,
} from '../../fpu/index.js';
import { checkFpu } from './fpu-checks.js';
import { pushChecked } from './load-store.js';
import { freeSt, getTop, isEmpty, pop, push, readSt, setTop, writeSt } from './stack.js';
import { fpuEnter, mergeFlags, recordIp, SW_C1, SW_C2, SW_CC } from './status.js';

const PRECOMP = FE_INVALID | FE_DENORMAL | FE_DIVBYZERO;
const A = new Ext80();
const B = new Ext80();
const R = new Ext80();
const R2 = new Ext80();

function enter(cpu: Cpu, i: Parameters<Handler>[1]): void {
  fpuEnter(cpu);
  recordIp(cpu, i);
}

/** Stack underflow: the indefinite to ST(dst) when masked (then the pop); C1 (and `ccMask`) = 0. */
function underflow(cpu: Cpu, dst: number, popAfter: boolean, ccMask = SW_C1): void {
  const s = cpu.state;
  if (mergeFlags(s, stackFault(false, s.fpuControl[0], R), ccMask)) return;
  writeSt(s, dst, R);
  if (popAfter) pop(s);
}

/** FCHS (`neg`) / FABS: the sign bit only, no exception but underflow; C1 = 0. */
function makeSign(neg: boolean): Handler {
  return (cpu, i) => {
    enter(cpu, i);
    const s = cpu.state;
    if (isEmpty(s, 0)) return underflow(cpu, 0, false);
    readSt(s, 0, A);
    A.signExp = neg ? A.signExp ^ 0x8000 : A.signExp & 0x7fff;
    mergeFlags(s, 0, SW_C1);
    writeSt(s, 0, A);
  };
}
export const FCHS = makeSign(true);
export const FABS = makeSign(false);

export const FTST: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  if (isEmpty(s, 0)) {
    mergeFlags(s, stackFault(false, s.fpuControl[0], null) | CC_UNORDERED, SW_CC);
    return;
  }
  readSt(s, 0, A);
  mergeFlags(s, ftst80(A), SW_CC);
};

/** FXAM: class in C3 C2 C0, sign in C1; no exception, an empty register is its own class. */
export const FXAM: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  readSt(s, 0, A);
  mergeFlags(s, fxam80(A, isEmpty(s, 0)), SW_CC);
};

/** ST(0) = f(ST(0)) for FSQRT, FRNDINT, F2XM1 (C1: rounded up). */
function makeUnary(fn: (a: Ext80, out: Ext80, cw: number) => number): Handler {
  return (cpu, i) => {
    enter(cpu, i);
    const s = cpu.state;
    if (isEmpty(s, 0)) return underflow(cpu, 0, false);
    readSt(s, 0, A);
    if (mergeFlags(s, fn(A, R, s.fpuControl[0]), SW_C1)) return;
    writeSt(s, 0, R);
  };
}
export const FSQRT = makeUnary(fsqrt80);
export const FRNDINT = makeUnary(frndint80);
/**
 * F2XM1 outside its domain −1 ≤ x ≤ +1 is undefined in the SDM; the referee host (AMD) returns
 * x unchanged with PE and C1 = 0, which is what this does.
 */
function f2xm1Cpu(a: Ext80, out: Ext80, cw: number): number {
  const e = a.signExp & 0x7fff;
  if (
    classify80(a.signExp, a.hi, a.lo) === F80Class.Normal &&
    (e > 0x3fff || (e === 0x3fff && (a.hi !== 0x80000000 || a.lo !== 0)))
  ) {
    out.copy(a);
    return FE_INEXACT;
  }
  return f2xm1(a, out, cw);
}
export const F2XM1 = makeUnary(f2xm1Cpu);

/** ST(1) = f(ST(0), ST(1)), then pop: FYL2X, FYL2XP1, FPATAN. */
function makeBinaryPop(fn: (x: Ext80, y: Ext80, out: Ext80, cw: number) => number): Handler {
  return (cpu, i) => {
    enter(cpu, i);
    const s = cpu.state;
    if (isEmpty(s, 0) || isEmpty(s, 1)) return underflow(cpu, 1, true);
    readSt(s, 0, A);
    readSt(s, 1, B);
    if (mergeFlags(s, fn(A, B, R, s.fpuControl[0]), SW_C1)) return;
    writeSt(s, 1, R);
    pop(s);
  };
}
export const FYL2X = makeBinaryPop(fyl2x);
/**
 * FYL2XP1 with x ≤ −1 (log of a non-positive number; the SDM documents |x| < 1 − √2/2 only):
 * the referee host (AMD) delivers x itself with PE and C1 = 0, as this does.
 */
function fyl2xp1Cpu(x: Ext80, y: Ext80, out: Ext80, cw: number): number {
  if (
    x.signExp & 0x8000 &&
    (x.signExp & 0x7fff) >= 0x3fff &&
    classify80(x.signExp, x.hi, x.lo) === F80Class.Normal &&
    classify80(y.signExp, y.hi, y.lo) < F80Class.QNaN
  ) {
    out.copy(x);
    return FE_INEXACT;
  }
  return fyl2xp1(x, y, out, cw);
}
export const FYL2XP1 = makeBinaryPop(fyl2xp1Cpu);
export const FPATAN = makeBinaryPop(fpatan);

/** FSCALE: ST(0) = ST(0) × 2^trunc(ST(1)). */
export const FSCALE: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  if (isEmpty(s, 0) || isEmpty(s, 1)) return underflow(cpu, 0, false);
  readSt(s, 0, A);
  readSt(s, 1, B);
  if (mergeFlags(s, fscale80(A, B, R, s.fpuControl[0]), SW_C1)) return;
  writeSt(s, 0, R);
};

/** FPREM (`ieee` false) / FPREM1: ST(0) = partial remainder of ST(0) / ST(1); C0-C3 from it. */
function makePrem(ieee: boolean): Handler {
  return (cpu, i) => {
    enter(cpu, i);
    const s = cpu.state;
    if (isEmpty(s, 0) || isEmpty(s, 1)) return underflow(cpu, 0, false, SW_C1 | SW_C2);
    readSt(s, 0, A);
    readSt(s, 1, B);
    // Without a quotient (NaN, unsupported, ∞ dividend, 0 divisor, an unmasked IE/DE/ZE) C0 and C3 keep their values
    // and C1, C2 are cleared; otherwise C0-C3 come from the reduction (as the CPU does).
    const ca = classify80(A.signExp, A.hi, A.lo);
    const cb = classify80(B.signExp, B.hi, B.lo);
    const f = fprem80(A, B, R, s.fpuControl[0], ieee);
    const noQuotient =
      ca >= F80Class.QNaN ||
      cb >= F80Class.QNaN ||
      ca === F80Class.Infinity ||
      cb === F80Class.Zero ||
      (f & ~s.fpuControl[0] & PRECOMP) !== 0;
    if (mergeFlags(s, f, noQuotient ? SW_C1 | SW_C2 : SW_CC)) return;
    writeSt(s, 0, R);
  };
}
export const FPREM = makePrem(false);
export const FPREM1 = makePrem(true);

/**
 * FSIN / FCOS: |ST(0)| ≥ 2^63 sets C2 and leaves ST(0) (SDM Vol. 2 FSIN); otherwise C2 = 0.
 */
function makeTrig(kind: number): Handler {
  return (cpu, i) => {
    enter(cpu, i);
    const s = cpu.state;
    if (isEmpty(s, 0)) {
      underflow(cpu, 0, false, SW_C1 | SW_C2);
      return;
    }
    readSt(s, 0, A);
    const f = ftrig(A, kind, R, s.fpuControl[0]);
    if (mergeFlags(s, f, SW_C1 | SW_C2) || f & SW_C2) return;
    writeSt(s, 0, R);
  };
}
export const FSIN = makeTrig(TRIG_SIN);
export const FCOS = makeTrig(TRIG_COS);

/** Both results of FPTAN/FSINCOS/FXTRACT set to the indefinite (masked stack fault). */
function pushPairIndefinite(cpu: Cpu, overflow: boolean, ccMask: number): void {
  const s = cpu.state;
  if (mergeFlags(s, stackFault(overflow, s.fpuControl[0], null), ccMask)) return;
  A.set(INDEFINITE_SE, INDEFINITE_HI, 0);
  writeSt(s, 0, A);
  push(s, A);
}

/** FPTAN: ST(0) = tan ST(0), then push 1.0; out of range: C2 = 1, nothing changes. */
export const FPTAN: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  if (isEmpty(s, 0)) return pushPairIndefinite(cpu, false, SW_C1 | SW_C2);
  if (!isEmpty(s, 7)) return pushPairIndefinite(cpu, true, SW_C1 | SW_C2);
  readSt(s, 0, A);
  const f = ftrig(A, TRIG_TAN, R, s.fpuControl[0]);
  if (mergeFlags(s, f, SW_C1 | SW_C2) || f & SW_C2) return;
  writeSt(s, 0, R);
  // A NaN or invalid operand (∞) pushes the NaN result again instead of 1.0 (as the CPU does).
  if (classify80(A.signExp, A.hi, A.lo) < F80Class.Infinity) R.set(0x3fff, 0x80000000, 0);
  push(s, R);
};

/** FSINCOS: ST(0) = sin, then push cos (ST(0) = cos, ST(1) = sin); C2 as FSIN. */
export const FSINCOS: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  if (isEmpty(s, 0)) return pushPairIndefinite(cpu, false, SW_C1 | SW_C2);
  if (!isEmpty(s, 7)) return pushPairIndefinite(cpu, true, SW_C1 | SW_C2);
  readSt(s, 0, A);
  const cw = s.fpuControl[0];
  let f = ftrig(A, TRIG_SIN, R, cw);
  if (f & SW_C2) {
    mergeFlags(s, f, SW_C1 | SW_C2);
    return;
  }
  const fc = ftrig(A, TRIG_COS, R2, cw);
  // C1 reports the rounding of the value left on top (the cosine).
  f = (f & ~SW_C1) | fc;
  if (f & ~cw & PRECOMP) f &= PRECOMP;
  if (mergeFlags(s, f, SW_C1 | SW_C2)) return;
  writeSt(s, 0, R);
  push(s, R2);
};

/** FXTRACT: ST(0) = exponent, then push the significand. */
export const FXTRACT: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  if (isEmpty(s, 0)) return pushPairIndefinite(cpu, false, SW_C1);
  if (!isEmpty(s, 7)) return pushPairIndefinite(cpu, true, SW_C1);
  readSt(s, 0, A);
  if (mergeFlags(s, fxtract80(A, R, R2, s.fpuControl[0]), SW_C1)) return;
  writeSt(s, 0, R);
  pushChecked(cpu, R2, 0);
};

/** FINCSTP / FDECSTP: TOP ± 1, tags unchanged, C1 = 0. */
export const FINCSTP: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  setTop(s, getTop(s) + 1);
  mergeFlags(s, 0, SW_C1);
};
export const FDECSTP: Handler = (cpu, i) => {
  enter(cpu, i);
  const s = cpu.state;
  setTop(s, getTop(s) + 7);
  mergeFlags(s, 0, SW_C1);
};

/** FFREE ST(i); FFREEP ST(i) (DF C0+i, which the CPUs execute as FFREE then pop). */
export const FFREE: Handler = (cpu, i) => {
  enter(cpu, i);
  freeSt(cpu.state, i.rm & 7);
  mergeFlags(cpu.state, 0, SW_C1); // C1 = 0, as the CPU leaves it
};
export const FFREEP: Handler = (cpu, i) => {
  enter(cpu, i);
  freeSt(cpu.state, i.rm & 7);
  pop(cpu.state);
  mergeFlags(cpu.state, 0, SW_C1);
};

export const FNOP: Handler = (cpu, i) => {
  enter(cpu, i);
};

/**
 * FNENI, FNDISI, FNSETPM (DB E0, E1, E4): 8087/287 controls that the 387 and later execute as
 * no-operations (QEMU's translate.c: "287 only, just do nop"); #NM still applies.
 */
export const FNOP_287: Handler = (cpu) => {
  checkFpu(cpu);
};
