/**
 * x87 loads and stores (SDM Vol. 2 FLD, FILD, FBLD, FST/FSTP, FIST/FISTP, FISTTP, FBSTP, FXCH,
 * FLD1/FLDZ/FLDPI/…): every memory format, register moves, and the stack faults of pushing
 * onto a full register (overflow: IE, SF, C1 = 1) or reading an empty one (underflow: C1 = 0).
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import {
  BCD,
  Ext80,
  F32_INDEFINITE,
  F64_INDEFINITE_HI,
  FE_INVALID,
  fbld,
  fbstp,
  fist,
  fldConstant,
  fstFloat,
  INDEFINITE_HI,
  INDEFINITE_SE,
  stackFault,
} from '../../fpu/index.js';
import { roundingOf } from '../../fpu/x87-control.js';
import {
  FMT_F32,
  FMT_F64,
  FMT_F80,
  FMT_I16,
  FMT_I32,
  FMT_I64,
  OPND,
  read80,
  readOperand,
  write80,
} from './mem.js';
import { isEmpty, pop, push, readSt, writeSt } from './stack.js';
import { fpuEnter, mergeFlags, recordDp, recordIp, SW_C1 } from './status.js';

const A = new Ext80();
const B = new Ext80();
const W = { hi: 0, lo: 0 };

/**
 * Pushes `x` (with the conversion flags `lf`): stack overflow when ST(7) is in use (masked: the
 * real indefinite is pushed). Returns false when an unmasked exception stopped the push.
 */
export function pushChecked(cpu: Cpu, x: Ext80, lf: number): boolean {
  const s = cpu.state;
  if (!isEmpty(s, 7)) {
    if (mergeFlags(s, stackFault(true, s.fpuControl[0], x), SW_C1)) return false;
    push(s, x);
    return true;
  }
  // An unmasked DE of a denormal float32/float64 still loads (the conversion is exact, as the
  // CPU does); an unmasked IE (SNaN) loads nothing.
  if (mergeFlags(s, lf, SW_C1) && lf & ~s.fpuControl[0] & FE_INVALID) return false;
  push(s, x);
  return true;
}

function formatOf(row: OpcodeRow): number {
  switch (row.op) {
    case 0xd9:
      return FMT_F32;
    case 0xdd:
      return row.ext === 1 ? FMT_I64 : FMT_F64;
    case 0xdb:
      return row.ext === 5 || row.ext === 7 ? FMT_F80 : FMT_I32;
    default: // DF
      return row.ext === 5 || row.ext === 7 ? FMT_I64 : FMT_I16;
  }
}

/** FLD m32fp/m64fp/m80fp, FILD m16/m32/m64int. */
export function makeLoad(row: OpcodeRow): Handler {
  const fmt = formatOf(row);
  return (cpu, i) => {
    fpuEnter(cpu);
    const ea = cpu.ea(i);
    const lf = readOperand(cpu, i, ea, fmt, OPND);
    recordIp(cpu, i);
    recordDp(cpu, i, ea);
    pushChecked(cpu, OPND, lf);
  };
}

/** FBLD m80bcd. */
export const FBLD: Handler = (cpu, i) => {
  fpuEnter(cpu);
  const ea = cpu.ea(i);
  read80(cpu, i, ea, A);
  recordIp(cpu, i);
  recordDp(cpu, i, ea);
  fbld(A.signExp, A.hi, A.lo, OPND);
  pushChecked(cpu, OPND, 0);
};

/** FLD ST(i): pushes a copy of ST(i) (read before the push). */
export const FLD_STI: Handler = (cpu, i) => {
  fpuEnter(cpu);
  recordIp(cpu, i);
  const s = cpu.state;
  const sti = i.rm & 7;
  if (isEmpty(s, sti)) {
    if (mergeFlags(s, stackFault(false, s.fpuControl[0], A), SW_C1)) return;
    push(s, A);
    return;
  }
  readSt(s, sti, A);
  pushChecked(cpu, A, 0);
};

/** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (D9 E8-EE: the constant is ModRM.rm). */
export const FLD_CONST: Handler = (cpu, i) => {
  fpuEnter(cpu);
  recordIp(cpu, i);
  fldConstant(i.rm & 7, roundingOf(cpu.state.fpuControl[0]), A);
  pushChecked(cpu, A, 0);
};

/** Stores W (the converted ST(0)) in `fmt`. */
function storeWord(cpu: Cpu, i: Insn, ea: number, fmt: number): void {
  const seg = i.memSeg;
  switch (fmt) {
    case FMT_F32:
    case FMT_I32:
      cpu.write(seg, ea, 4, W.lo);
      break;
    case FMT_I16:
      cpu.write(seg, ea, 2, W.lo & 0xffff);
      break;
    default:
      cpu.write64(seg, ea, W.lo, W.hi);
  }
}

/** The masked response to a stack underflow in a store: the format's indefinite. */
function indefiniteOf(fmt: number): void {
  W.hi = fmt === FMT_F64 ? F64_INDEFINITE_HI : fmt === FMT_I64 ? 0x80000000 : 0;
  W.lo = fmt === FMT_F32 ? F32_INDEFINITE : fmt === FMT_I32 ? 0x80000000 : fmt === FMT_I16 ? 0x8000 : 0;
}

/**
 * FST/FSTP m32fp/m64fp, FIST/FISTP m16/m32(/m64)int, FISTTP (`truncate`). An unmasked exception
 * stores nothing and does not pop (SDM Vol. 1 8.5); ST(0) empty: underflow, masked → indefinite.
 */
function makeStore(fmt: number, popAfter: boolean, truncate: boolean): Handler {
  const bits = fmt === FMT_I16 ? 16 : fmt === FMT_I32 ? 32 : 64;
  return (cpu, i) => {
    fpuEnter(cpu);
    const s = cpu.state;
    const cw = s.fpuControl[0];
    const ea = cpu.ea(i);
    recordIp(cpu, i);
    recordDp(cpu, i, ea);
    let f: number;
    if (isEmpty(s, 0)) {
      f = stackFault(false, cw, null);
      indefiniteOf(fmt);
    } else {
      readSt(s, 0, A);
      if (fmt === FMT_F32 || fmt === FMT_F64) f = fstFloat(A, cw, fmt === FMT_F64, W);
      else f = fist(A, cw, bits, truncate, W);
    }
    if (f & ~cw & 0x1f) {
      // Unmasked: nothing stored, no pop; but the destination is still checked for writing, and
      // a #PF or #GP there comes first (as the CPU does).
      const size = fmt === FMT_I16 ? 2 : fmt === FMT_F32 || fmt === FMT_I32 ? 4 : 8;
      cpu.probeWrite(cpu.segAddr(i.memSeg, ea, size, true), size);
      mergeFlags(s, f, SW_C1, true);
      return;
    }
    // The store first: a #PF or #GP there leaves the status word and the stack untouched.
    storeWord(cpu, i, ea, fmt);
    mergeFlags(s, f, SW_C1, true);
    if (popAfter) pop(s);
  };
}

export function makeStoreRow(row: OpcodeRow): Handler {
  const fmt = formatOf(row);
  const ext = row.ext ?? 0;
  // FISTTP (reg 1) always pops, as FISTP (3, 7) does.
  return makeStore(fmt, ext === 1 || ext === 3 || ext === 7, ext === 1);
}

/** FSTP m80fp: the register's bits as they are (underflow, masked: the indefinite). */
export const FSTP_M80: Handler = (cpu, i) => {
  fpuEnter(cpu);
  const s = cpu.state;
  const ea = cpu.ea(i);
  recordIp(cpu, i);
  recordDp(cpu, i, ea);
  if (isEmpty(s, 0)) {
    const f = stackFault(false, s.fpuControl[0], null);
    if (f & ~s.fpuControl[0] & FE_INVALID) {
      cpu.probeWrite(cpu.segAddr(i.memSeg, ea, 10, true), 10); // checked even so, as in makeStore
      mergeFlags(s, f, SW_C1);
      return;
    }
    write80(cpu, i, ea, INDEFINITE_SE, INDEFINITE_HI, 0);
    mergeFlags(s, f, SW_C1);
  } else {
    readSt(s, 0, A);
    write80(cpu, i, ea, A.signExp, A.hi, A.lo);
    mergeFlags(s, 0, SW_C1);
  }
  pop(s);
};

/** FBSTP m80bcd: ST(0) rounded by RC to 18 BCD digits, then pop. */
export const FBSTP: Handler = (cpu, i) => {
  fpuEnter(cpu);
  const s = cpu.state;
  const cw = s.fpuControl[0];
  const ea = cpu.ea(i);
  recordIp(cpu, i);
  recordDp(cpu, i, ea);
  let f: number;
  if (isEmpty(s, 0)) {
    f = stackFault(false, cw, null);
    BCD.top = 0xffff;
    BCD.mid = 0xc0000000;
    BCD.low = 0;
  } else {
    readSt(s, 0, A);
    f = fbstp(A, cw);
  }
  if (f & ~cw & 0x1f) {
    cpu.probeWrite(cpu.segAddr(i.memSeg, ea, 10, true), 10); // checked even so, as in makeStore
    mergeFlags(s, f, SW_C1, true);
    return;
  }
  write80(cpu, i, ea, BCD.top, BCD.mid, BCD.low);
  mergeFlags(s, f, SW_C1, true);
  pop(s);
};

/**
 * FST/FSTP ST(i) (DD D0/D8, and the aliases D9 D8, DF D0/D8): a copy, no conversion. The D9 D8+i
 * alias (`underflow` false) with an empty ST(0) writes nothing and only pops, without a stack
 * fault, as the referee CPU does.
 */
export function makeStoreSti(popAfter: boolean, underflow = true): Handler {
  return (cpu, i) => {
    fpuEnter(cpu);
    recordIp(cpu, i);
    const s = cpu.state;
    if (!underflow && isEmpty(s, 0)) {
      mergeFlags(s, 0, SW_C1);
      if (popAfter) pop(s);
      return;
    }
    if (isEmpty(s, 0)) {
      if (mergeFlags(s, stackFault(false, s.fpuControl[0], A), SW_C1)) return;
    } else {
      readSt(s, 0, A);
      mergeFlags(s, 0, SW_C1);
    }
    writeSt(s, i.rm & 7, A);
    if (popAfter) pop(s);
  };
}

/**
 * FXCH ST(i) (D9 C8, and the aliases DD C8, DF C8). An empty operand is a stack underflow;
 * masked, it takes the indefinite before the exchange (SDM Vol. 2 FXCH).
 */
export const FXCH: Handler = (cpu, i) => {
  fpuEnter(cpu);
  recordIp(cpu, i);
  const s = cpu.state;
  const sti = i.rm & 7;
  let f = 0;
  if (isEmpty(s, 0) || isEmpty(s, sti)) {
    f = stackFault(false, s.fpuControl[0], null);
    if (mergeFlags(s, f, SW_C1)) return;
  } else mergeFlags(s, 0, SW_C1);
  readSt(s, 0, A);
  readSt(s, sti, B);
  if (f !== 0) {
    if (isEmpty(s, 0)) A.set(INDEFINITE_SE, INDEFINITE_HI, 0);
    if (isEmpty(s, sti)) B.set(INDEFINITE_SE, INDEFINITE_HI, 0);
  }
  writeSt(s, 0, B);
  writeSt(s, sti, A);
};
