/** Integer arithmetic and logic (SDM Vol. 1 7.3.2–7.3.3): ADD…CMP, TEST, INC/DEC, NOT/NEG, MUL/DIV, XADD, CMPXCHG. */
import * as C from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import { LF_ADC, LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SBB, LF_SUB } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag } from '../state.js';
import {
  isByteForm,
  linRead,
  linWrite,
  mask,
  readE,
  readG,
  rmwLinear,
  rmwWrite,
  sext,
  writeG,
} from './operands.js';

/** The eight ALU operations, numbered as in opcode bits 5:3 / ModRM.reg of group 1. */
export function aluOp(cpu: Cpu, op: number, dst: number, src: number, size: number): number {
  let r: number;
  switch (op) {
    case 0:
      r = mask(dst + src, size);
      cpu.setLazy(LF_ADD, dst, src, r, size);
      return r;
    case 1:
      r = mask(dst | src, size);
      cpu.setLazy(LF_LOGIC, dst, src, r, size);
      return r;
    case 2: {
      const c = cpu.getCF() ? 1 : 0;
      r = mask(dst + src + c, size);
      cpu.setLazy(c ? LF_ADC : LF_ADD, dst, src, r, size);
      return r;
    }
    case 3: {
      const c = cpu.getCF() ? 1 : 0;
      r = mask(dst - src - c, size);
      cpu.setLazy(c ? LF_SBB : LF_SUB, dst, src, r, size);
      return r;
    }
    case 4:
      r = mask(dst & src, size);
      cpu.setLazy(LF_LOGIC, dst, src, r, size);
      return r;
    case 5:
    case 7:
      r = mask(dst - src, size);
      cpu.setLazy(LF_SUB, dst, src, r, size);
      return r;
    default:
      r = mask(dst ^ src, size);
      cpu.setLazy(LF_LOGIC, dst, src, r, size);
      return r;
  }
}

const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];

/** Builds the handler of one ALU row from its operand form. */
export function makeAlu(row: OpcodeRow): Handler {
  const op = ALU_NAMES.indexOf(row.mnemonic);
  const byte = isByteForm(row.operands);
  const noWrite = op === 7;
  switch (row.operands) {
    case 'Eb,Gb':
    case 'Ev,Gv':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        const src = readG(cpu, i, size);
        if (i.mod === 3) {
          const r = aluOp(cpu, op, cpu.getReg(i.rm, size, i.rex), src, size);
          if (!noWrite) cpu.setReg(i.rm, size, i.rex, r);
        } else if (noWrite) {
          aluOp(cpu, op, readE(cpu, i, size), src, size);
        } else {
          const lin = rmwLinear(cpu, i, size);
          const old = linRead(cpu, lin, size);
          rmwWrite(cpu, i, lin, size, old, aluOp(cpu, op, old, src, size));
        }
      };
    case 'Gb,Eb':
    case 'Gv,Ev':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        const r = aluOp(cpu, op, readG(cpu, i, size), readE(cpu, i, size), size);
        if (!noWrite) writeG(cpu, i, size, r);
      };
    case 'AL,Ib':
    case 'eAX,Iz':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        const r = aluOp(cpu, op, cpu.getReg(0, size, 0), mask(i.imm, size), size);
        if (!noWrite) cpu.setReg(0, size, 0, r);
      };
    default:
      // Eb,Ib / Ev,Iz / Ev,IbS (group 1)
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        const src = mask(i.imm, size);
        if (i.mod === 3) {
          const r = aluOp(cpu, op, cpu.getReg(i.rm, size, i.rex), src, size);
          if (!noWrite) cpu.setReg(i.rm, size, i.rex, r);
        } else if (noWrite) {
          aluOp(cpu, op, readE(cpu, i, size), src, size);
        } else {
          const lin = rmwLinear(cpu, i, size);
          const old = linRead(cpu, lin, size);
          rmwWrite(cpu, i, lin, size, old, aluOp(cpu, op, old, src, size));
        }
      };
  }
}

export function makeTest(row: OpcodeRow): Handler {
  const byte = isByteForm(row.operands);
  if (row.operands === 'AL,Ib' || row.operands === 'eAX,Iz')
    return (cpu, i) => {
      const size = byte ? 1 : i.opSize;
      aluOp(cpu, 4, cpu.getReg(0, size, 0), mask(i.imm, size), size);
    };
  if (row.operands.endsWith('I') || row.operands.endsWith('Ib') || row.operands.endsWith('Iz'))
    return (cpu, i) => {
      const size = byte ? 1 : i.opSize;
      aluOp(cpu, 4, readE(cpu, i, size), mask(i.imm, size), size);
    };
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize;
    aluOp(cpu, 4, readE(cpu, i, size), readG(cpu, i, size), size);
  };
}

/** INC/DEC keep CF (SDM Vol. 2 INC): the lazy state carries it in the aux slot. */
function incDec(cpu: Cpu, v: number, size: number, dec: boolean): number {
  const cf = cpu.getCF() ? 1 : 0;
  const r = mask(dec ? v - 1 : v + 1, size);
  cpu.setLazy(dec ? LF_DEC : LF_INC, v, 1, r, size);
  cpu.lfAux = cf;
  return r;
}

export function makeIncDec(row: OpcodeRow): Handler {
  const dec = row.mnemonic === 'DEC';
  if (row.operands === 'Zv')
    return (cpu, i) => {
      cpu.setReg(i.rm, i.opSize, 0, incDec(cpu, cpu.getReg(i.rm, i.opSize, 0), i.opSize, dec));
    };
  const byte = row.operands === 'Eb';
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize;
    if (i.mod === 3) cpu.setReg(i.rm, size, i.rex, incDec(cpu, cpu.getReg(i.rm, size, i.rex), size, dec));
    else {
      const lin = rmwLinear(cpu, i, size);
      const old = linRead(cpu, lin, size);
      rmwWrite(cpu, i, lin, size, old, incDec(cpu, old, size, dec));
    }
  };
}

export function makeNotNeg(row: OpcodeRow): Handler {
  const neg = row.mnemonic === 'NEG';
  const byte = row.operands === 'Eb';
  const f = (cpu: Cpu, v: number, size: number): number => {
    if (!neg) return mask(~v, size);
    const r = mask(-v, size);
    cpu.setLazy(LF_SUB, 0, v, r, size);
    return r;
  };
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize;
    if (i.mod === 3) cpu.setReg(i.rm, size, i.rex, f(cpu, cpu.getReg(i.rm, size, i.rex), size));
    else {
      const lin = rmwLinear(cpu, i, size);
      const old = linRead(cpu, lin, size);
      rmwWrite(cpu, i, lin, size, old, f(cpu, old, size));
    }
  };
}

// 64-bit products as two halves, without BigInt. The scratch is a typed array: module-level
// `let` bindings would box every non-Smi result in a fresh HeapNumber.
const MUL = new Uint32Array(2);
function mulu32(a: number, b: number): void {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  MUL[0] = ((mid & 0xffff) << 16) | (ll & 0xffff);
  MUL[1] = hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536);
}
function muls32(a: number, b: number): void {
  const neg = a < 0 !== b < 0;
  mulu32(Math.abs(a) >>> 0, Math.abs(b) >>> 0);
  if (neg) negate64();
}
function negate64(): void {
  MUL[0] = ~MUL[0] + 1;
  MUL[1] = ~MUL[1] + (MUL[0] === 0 ? 1 : 0);
}

/** MUL/IMUL flags: CF = OF = 1 when the upper half is significant; SF/ZF/PF from the low half. */
function mulFlags(cpu: Cpu, overflow: boolean, low: number, size: number): void {
  cpu.setLazy(LF_LOGIC, 0, 0, mask(low, size), size);
  cpu.materializeFlags();
  const s = cpu.state;
  if (overflow) s.rflags[0] |= Flag.CF | Flag.OF;
  else s.rflags[0] &= ~(Flag.CF | Flag.OF);
}

export function makeMulDiv(row: OpcodeRow): Handler {
  const byte = row.operands === 'Eb';
  const kind = row.mnemonic;
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize;
    const src = readE(cpu, i, size);
    const g = cpu.state.gpr;
    switch (kind) {
      case 'MUL':
        if (size === 1) {
          const r = (g[0] & 0xff) * src;
          cpu.setReg(0, 2, 0, r);
          mulFlags(cpu, r > 0xff, r, 1);
        } else if (size === 2) {
          const r = (g[0] & 0xffff) * src;
          cpu.setReg(0, 2, 0, r & 0xffff);
          cpu.setReg(2, 2, 0, r >>> 16);
          mulFlags(cpu, r > 0xffff, r, 2);
        } else {
          mulu32(g[0], src);
          cpu.setReg(0, 4, 0, MUL[0]);
          cpu.setReg(2, 4, 0, MUL[1]);
          mulFlags(cpu, MUL[1] !== 0, MUL[0], 4);
        }
        return;
      case 'IMUL':
        if (size === 1) {
          const r = ((g[0] << 24) >> 24) * sext(src, 1);
          cpu.setReg(0, 2, 0, r & 0xffff);
          mulFlags(cpu, r !== (r << 24) >> 24, r, 1);
        } else if (size === 2) {
          const r = ((g[0] << 16) >> 16) * sext(src, 2);
          cpu.setReg(0, 2, 0, r & 0xffff);
          cpu.setReg(2, 2, 0, (r >> 16) & 0xffff);
          mulFlags(cpu, r !== (r << 16) >> 16, r, 2);
        } else {
          muls32(g[0] | 0, src | 0);
          cpu.setReg(0, 4, 0, MUL[0]);
          cpu.setReg(2, 4, 0, MUL[1]);
          mulFlags(cpu, MUL[1] !== ((MUL[0] | 0) < 0 ? 0xffffffff : 0), MUL[0], 4);
        }
        return;
      case 'DIV':
        divide(cpu, src, size, false);
        return;
      default:
        divide(cpu, src, size, true);
        return;
    }
  };
}

/** DIV/IDIV (SDM Vol. 2 DIV, IDIV): #DE on a zero divisor or a quotient that does not fit. */
function divide(cpu: Cpu, src: number, size: number, signed: boolean): void {
  const g = cpu.state.gpr;
  if (src === 0) cpu.raise(C.DE, 0, false);
  if (size === 1 || size === 2) {
    const dividend = size === 1 ? g[0] & 0xffff : (((g[2] & 0xffff) << 16) | (g[0] & 0xffff)) >>> 0;
    let q: number;
    let r: number;
    if (signed) {
      const n = size === 1 ? (dividend << 16) >> 16 : dividend | 0;
      const d = sext(src, size);
      q = Math.trunc(n / d);
      r = n - q * d;
      const lim = size === 1 ? 0x80 : 0x8000;
      if (q >= lim || q < -lim) cpu.raise(C.DE, 0, false);
    } else {
      q = Math.floor(dividend / src);
      r = dividend - q * src;
      if (q > (size === 1 ? 0xff : 0xffff)) cpu.raise(C.DE, 0, false);
    }
    if (size === 1) cpu.setReg(0, 2, 0, ((r & 0xff) << 8) | (q & 0xff));
    else {
      cpu.setReg(0, 2, 0, q & 0xffff);
      cpu.setReg(2, 2, 0, r & 0xffff);
    }
    return;
  }
  let hi = g[2];
  let lo = g[0];
  let d = src >>> 0;
  let negQ = false;
  let negR = false;
  if (signed) {
    if (hi & 0x80000000) {
      negR = true;
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    }
    if (d & 0x80000000) {
      d = -(d | 0) >>> 0;
      negQ = !negR;
    } else negQ = negR;
  }
  if (hi >= d) cpu.raise(C.DE, 0, false);
  // Long division in two 16-bit steps: every partial dividend stays below 2^48 (exact in a double).
  let rem = hi;
  let num = rem * 65536 + (lo >>> 16);
  const qh = Math.floor(num / d);
  rem = num - qh * d;
  num = rem * 65536 + (lo & 0xffff);
  const ql = Math.floor(num / d);
  rem = num - ql * d;
  let q = qh * 65536 + ql;
  if (signed) {
    if (negQ ? q > 0x80000000 : q > 0x7fffffff) cpu.raise(C.DE, 0, false);
    if (negQ) q = -q;
    if (negR) rem = -rem;
  }
  cpu.setReg(0, 4, 0, q >>> 0);
  cpu.setReg(2, 4, 0, rem >>> 0);
}

/** IMUL r, r/m (0F AF) and IMUL r, r/m, imm (69, 6B): truncated signed product. */
export function makeImulN(row: OpcodeRow): Handler {
  const three = row.mnemonic === 'IMUL3';
  return (cpu, i) => {
    const size = i.opSize;
    const a = sext(readE(cpu, i, size), size);
    const b = three ? sext(mask(i.imm, size), size) : sext(readG(cpu, i, size), size);
    let low: number;
    let overflow: boolean;
    if (size === 2) {
      const r = a * b;
      low = r & 0xffff;
      overflow = r !== (r << 16) >> 16;
    } else {
      muls32(a, b);
      low = MUL[0];
      overflow = MUL[1] !== ((MUL[0] | 0) < 0 ? 0xffffffff : 0);
    }
    writeG(cpu, i, size, low);
    mulFlags(cpu, overflow, low, size);
  };
}

export const XADD: Handler = (cpu: Cpu, i: Insn) => {
  const size = i.op === 0x1c0 ? 1 : i.opSize;
  const src = readG(cpu, i, size);
  if (i.mod === 3) {
    const dst = cpu.getReg(i.rm, size, i.rex);
    const r = aluOp(cpu, 0, dst, src, size);
    writeG(cpu, i, size, dst);
    cpu.setReg(i.rm, size, i.rex, r);
  } else {
    const lin = rmwLinear(cpu, i, size);
    const dst = linRead(cpu, lin, size);
    const r = aluOp(cpu, 0, dst, src, size);
    if (rmwWrite(cpu, i, lin, size, dst, r)) writeG(cpu, i, size, dst);
  }
};

/** CMPXCHG (SDM Vol. 2): compare accumulator with r/m; the destination is always written (memory form). */
export const CMPXCHG: Handler = (cpu: Cpu, i: Insn) => {
  const size = i.op === 0x1b0 ? 1 : i.opSize;
  const acc = cpu.getReg(0, size, 0);
  const src = readG(cpu, i, size);
  if (i.mod === 3) {
    const dst = cpu.getReg(i.rm, size, i.rex);
    aluOp(cpu, 7, acc, dst, size);
    if (acc === dst) cpu.setReg(i.rm, size, i.rex, src);
    else cpu.setReg(0, size, 0, dst);
    return;
  }
  const lin = rmwLinear(cpu, i, size);
  // emulate(): the ops' atomic compare-exchange decides; so does the shared memory's under LOCK.
  const ops = cpu.linearOps ?? (i.lock ? cpu.lockedMemory : null);
  if (ops !== null) {
    const ok = ops.cmpxchg(lin, size, acc, 0, src, 0);
    const dst = ok ? acc : ops.curLo;
    aluOp(cpu, 7, acc, dst, size);
    if (!ok) cpu.setReg(0, size, 0, dst);
    return;
  }
  const dst = linRead(cpu, lin, size);
  aluOp(cpu, 7, acc, dst, size);
  if (acc === dst) linWrite(cpu, lin, size, src);
  else {
    linWrite(cpu, lin, size, dst);
    cpu.setReg(0, size, 0, dst);
  }
};

/** CMPXCHG8B m64 (SDM Vol. 2): EDX:EAX vs m64; ZF only. */
export const CMPXCHG8B: Handler = (cpu: Cpu, i: Insn) => {
  const g = cpu.state.gpr;
  const lin = rmwLinear(cpu, i, 8);
  let lo: number;
  let hi: number;
  let equal: boolean;
  const ops = cpu.linearOps ?? (i.lock ? cpu.lockedMemory : null);
  if (ops !== null) {
    equal = ops.cmpxchg(lin, 8, g[0], g[2], g[3], g[1]);
    lo = equal ? g[0] : ops.curLo;
    hi = equal ? g[2] : ops.curHi;
  } else {
    lo = linRead(cpu, lin, 4);
    hi = linRead(cpu, (lin + 4) >>> 0, 4);
    equal = lo === g[0] && hi === g[2];
    if (equal) {
      linWrite(cpu, lin, 4, g[3]);
      linWrite(cpu, (lin + 4) >>> 0, 4, g[1]);
    } else {
      linWrite(cpu, lin, 4, lo);
      linWrite(cpu, (lin + 4) >>> 0, 4, hi);
    }
  }
  cpu.materializeFlags();
  if (equal) cpu.state.rflags[0] |= Flag.ZF;
  else {
    cpu.state.rflags[0] &= ~Flag.ZF;
    cpu.setReg(0, 4, 0, lo);
    cpu.setReg(2, 4, 0, hi);
  }
};

export const CBW: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  if (i.opSize === 2) cpu.setReg(0, 2, 0, ((g[0] << 24) >> 24) & 0xffff);
  else cpu.setReg(0, 4, 0, (g[0] << 16) >> 16);
};
export const CWD: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  if (i.opSize === 2) cpu.setReg(2, 2, 0, g[0] & 0x8000 ? 0xffff : 0);
  else cpu.setReg(2, 4, 0, g[0] & 0x80000000 ? 0xffffffff : 0);
};
