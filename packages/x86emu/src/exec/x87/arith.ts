/**
 * x87 arithmetic and comparisons in all their operand forms (SDM Vol. 2 FADD/FSUB/FSUBR/FMUL/
 * FDIV/FDIVR and their P and I forms, FCOM/FCOMP/FCOMPP, FICOM/FICOMP, FUCOM/FUCOMP/FUCOMPP,
 * FCOMI/FCOMIP/FUCOMI/FUCOMIP, FCMOVcc), on the exact core of src/fpu.
 *
 * ModRM.reg selects the operation in D8/DA/DC/DE (Vol. 2 Table A-7 ff.): 0 ADD, 1 MUL, 2 COM,
 * 3 COMP, 4 SUB, 5 SUBR, 6 DIV, 7 DIVR. The register forms of DC and DE write ST(i), and there
 * the /4-/7 encodings name the reversed operation (DC E8+i is FSUB ST(i), ST(0) = ST(i) − ST(0)),
 * which is why their operation is reg ^ 1.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { QUIET_BIT } from '../../fpu/float80.js';
import {
  CC_UNORDERED,
  classify80,
  Ext80,
  F80Class,
  FE_DENORMAL,
  FE_DIVBYZERO,
  FE_INVALID,
  fadd80,
  fcom80,
  fdiv80,
  fmul80,
  fsub80,
  stackFault,
} from '../../fpu/index.js';
import { FMT_F32, FMT_F64, FMT_I16, FMT_I32, OPND, readOperand } from './mem.js';
import { isEmpty, pop, readSt, writeSt } from './stack.js';
import {
  fpuEnter,
  mergeFlags,
  recordDp,
  recordIp,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  SW_CC,
  SW_SF,
} from './status.js';

export const OP_ADD = 0;
export const OP_MUL = 1;
export const OP_COM = 2;
export const OP_COMP = 3;
export const OP_SUB = 4;
export const OP_SUBR = 5;
export const OP_DIV = 6;
export const OP_DIVR = 7;

const PRECOMP = FE_INVALID | FE_DENORMAL | FE_DIVBYZERO;

const A = new Ext80();
const B = new Ext80();
const R = new Ext80();

/** dst op src into out (SUBR/DIVR: src op dst). */
function compute(op: number, dst: Ext80, src: Ext80, out: Ext80, cw: number): number {
  switch (op) {
    case OP_ADD:
      return fadd80(dst, src, out, cw);
    case OP_MUL:
      return fmul80(dst, src, out, cw);
    case OP_SUB:
      return fsub80(dst, src, out, cw);
    case OP_SUBR:
      return fsub80(src, dst, out, cw);
    case OP_DIV:
      return fdiv80(dst, src, out, cw);
    default:
      return fdiv80(src, dst, out, cw);
  }
}

/**
 * ST(dst) = ST(dst) op (ST(src), or OPND when src < 0 with `lf` the flags of its conversion),
 * then pops when asked. Stack underflow (an empty operand) is IE with SF (masked: the real
 * indefinite is the result).
 */
function arith(cpu: Cpu, op: number, dst: number, src: number, lf: number, popAfter: boolean): void {
  const s = cpu.state;
  const cw = s.fpuControl[0];
  if (isEmpty(s, dst) || (src >= 0 && isEmpty(s, src))) {
    if (mergeFlags(s, stackFault(false, cw, R), SW_C1)) return;
    writeSt(s, dst, R);
    if (popAfter) pop(s);
    return;
  }
  readSt(s, dst, A);
  const b = src >= 0 ? B : OPND;
  if (src >= 0) readSt(s, src, B);
  // A memory SNaN was quieted by the conversion: make it signalling again, so that the NaN
  // rules (SNaN against SNaN: the larger significand) and IE come out as for a register.
  if (lf & FE_INVALID) OPND.hi = (OPND.hi & ~QUIET_BIT) >>> 0;
  let f = compute(op, A, b, R, cw);
  // A denormal memory operand (normal once converted) is DE, unless IE or ZE takes precedence.
  if (
    lf & FE_DENORMAL &&
    classify80(A.signExp, A.hi, A.lo) < F80Class.QNaN &&
    !(f & (FE_INVALID | FE_DIVBYZERO))
  )
    f |= FE_DENORMAL;
  // An unmasked pre-computation exception ends the instruction before any result (SDM 8.5).
  if (f & ~cw & PRECOMP) f &= PRECOMP;
  if (mergeFlags(s, f, SW_C1)) return;
  writeSt(s, dst, R);
  if (popAfter) pop(s);
}

/**
 * Compares ST(0) with b (FCOM: any NaN is IE; FUCOM, `quiet`: only SNaNs), then pops `pops`
 * times; `eflags`: the result goes to ZF/PF/CF (C3/C2/C0) with OF/SF/AF cleared, instead of
 * to C0/C2/C3 (FCOMI/FUCOMI, SDM Vol. 2 FCOMI), and the condition codes stay (C1 = 0 only after
 * a stack underflow, as the CPU does).
 */
function compare(cpu: Cpu, b: Ext80, lf: number, quiet: boolean, pops: number, eflags: boolean): void {
  const s = cpu.state;
  readSt(s, 0, A);
  let f = fcom80(A, b, quiet);
  f |= lf & FE_INVALID;
  if (lf & FE_DENORMAL && (f & CC_UNORDERED) !== CC_UNORDERED) f |= FE_DENORMAL;
  finishCompare(cpu, f, pops, eflags);
}

function finishCompare(cpu: Cpu, f: number, pops: number, eflags: boolean): void {
  const s = cpu.state;
  let stop: boolean;
  if (eflags) {
    // C0-C3 keep their values, except C1 = 0 after a stack underflow (as the CPU does).
    stop = mergeFlags(s, f & ~SW_CC, f & SW_SF ? SW_C1 : 0);
    // ZF, PF, CF from C3, C2, C0 (SDM Vol. 2 FCOMI Table 3-31); OF, SF, AF cleared.
    const fl = (f & SW_C3 ? 0x40 : 0) | (f & SW_C2 ? 0x04 : 0) | (f & SW_C0 ? 0x01 : 0);
    cpu.setFlags(fl, 0x8d5);
  } else stop = mergeFlags(s, f, SW_CC);
  if (stop) return;
  for (let k = 0; k < pops; k++) pop(s);
}

/** D8/DC/DA/DE with a memory operand: m32fp, m64fp, m32int, m16int. */
export function makeArithMem(row: OpcodeRow): Handler {
  const fmt = row.op === 0xd8 ? FMT_F32 : row.op === 0xdc ? FMT_F64 : row.op === 0xda ? FMT_I32 : FMT_I16;
  const op = row.ext ?? 0;
  return (cpu, i) => {
    fpuEnter(cpu);
    const ea = cpu.ea(i);
    const lf = readOperand(cpu, i, ea, fmt, OPND);
    recordIp(cpu, i);
    recordDp(cpu, i, ea);
    if (op === OP_COM || op === OP_COMP) {
      if (isEmpty(cpu.state, 0)) stackFaultCompare(cpu, op === OP_COMP ? 1 : 0, false);
      else compare(cpu, OPND, lf, false, op === OP_COMP ? 1 : 0, false);
    } else arith(cpu, op, 0, -1, lf, false);
  };
}

/** D8 (ST(0) = ST(0) op ST(i)), DC (ST(i) = ST(i) op ST(0)) and DE (the same, then pop). */
export function makeArithReg(row: OpcodeRow): Handler {
  const toSti = row.op !== 0xd8;
  const ext = row.ext ?? 0;
  const op = toSti && ext >= 4 ? ext ^ 1 : ext;
  const popAfter = row.op === 0xde;
  return (cpu, i) => {
    fpuEnter(cpu);
    recordIp(cpu, i);
    const sti = i.rm & 7;
    if (toSti) arith(cpu, op, sti, 0, 0, popAfter);
    else arith(cpu, op, 0, sti, 0, popAfter);
  };
}

/** Stack underflow in a comparison: IE and SF, "unordered" (SDM Vol. 2 FCOM: C3 C2 C0 = 111). */
function stackFaultCompare(cpu: Cpu, pops: number, eflags: boolean): void {
  finishCompare(cpu, stackFault(false, cpu.state.fpuControl[0], null) | CC_UNORDERED, pops, eflags);
}

/**
 * Register comparisons: FCOM/FCOMP ST(i) (D8 D0/D8, and the aliases DC D0/D8, DE D0 that the
 * CPUs execute the same way), FCOMPP, FUCOM/FUCOMP/FUCOMPP, FCOMI/FUCOMI and their P forms.
 */
export function makeCompareReg(quiet: boolean, pops: number, eflags: boolean): Handler {
  return (cpu, i) => {
    fpuEnter(cpu);
    recordIp(cpu, i);
    const s = cpu.state;
    const sti = i.rm & 7;
    if (isEmpty(s, 0) || isEmpty(s, sti)) {
      stackFaultCompare(cpu, pops, eflags);
      return;
    }
    readSt(s, sti, B);
    compare(cpu, B, 0, quiet, pops, eflags);
  };
}

/** FCMOVcc ST(0), ST(i) (DA/DB C0-DF): the condition is ModRM.reg (B, E, BE, U) and DB negates. */
export function makeFcmov(row: OpcodeRow): Handler {
  // Condition codes in Jcc numbering: B = 2, E = 4, BE = 6, P = 10; +1 negates.
  const cc = [2, 4, 6, 10][row.ext ?? 0] + (row.op === 0xdb ? 1 : 0);
  return (cpu, i) => {
    fpuEnter(cpu);
    recordIp(cpu, i);
    const s = cpu.state;
    const sti = i.rm & 7;
    if (isEmpty(s, 0) || isEmpty(s, sti)) {
      // Underflow: the indefinite goes to ST(0) whatever the condition (as the CPU does).
      if (mergeFlags(s, stackFault(false, s.fpuControl[0], R), SW_C1)) return;
      writeSt(s, 0, R);
      return;
    }
    if (cpu.cond(cc)) {
      readSt(s, sti, A);
      writeSt(s, 0, A);
    }
  };
}
