/** Data movement in 64-bit mode: MOV forms with 64-bit operands, moffs64, MOVSXD, MOVZX/MOVSX, LEA, XCHG, PUSH/POP, CMOVcc. */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { readE, rmwLinear } from '../operands.js';
import {
  readE64,
  readLin64,
  readM64,
  setReg64,
  signHi,
  writeE64,
  writeLin64,
  writeM64,
} from './operands64.js';
import { addRsp, peek64, pop64, push64 } from './stack64.js';

export function makeMov64(row: OpcodeRow): Handler {
  switch (row.operands) {
    case 'Ev,Gv':
      return (cpu, i) => writeE64(cpu, i, cpu.state.gpr[i.reg] | 0, cpu.state.gprHigh[i.reg] | 0);
    case 'Gv,Ev':
      return (cpu, i) => {
        readE64(cpu, i);
        setReg64(cpu, i.reg, cpu.lo64, cpu.hi64);
      };
    case 'Zv,Iv':
      // MOV r64, imm64 (REX.W B8+r): the only 8-byte immediate (SDM MOV).
      return (cpu, i) => setReg64(cpu, i.rm, i.imm >>> 0, i.imm2 >>> 0);
    case 'Ev,Iz':
      return (cpu, i) => writeE64(cpu, i, i.imm, signHi(i.imm) | 0);
    default:
      return MOV_UNREACHABLE;
  }
}
const MOV_UNREACHABLE: Handler = (cpu) => cpu.ud();

/**
 * MOV with moffs in 64-bit mode (A0–A3): the offset is 8 bytes (4 with 67H), the operand 1, 2,
 * 4 or 8 bytes. Used for every operand size, since the legacy forms truncate the offset.
 */
export function makeMovMoffs64(row: OpcodeRow): Handler {
  const byte = row.operands === 'AL,Ob' || row.operands === 'Ob,AL';
  const load = row.operands.startsWith('AL') || row.operands.startsWith('eAX');
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize;
    const seg = i.memSeg;
    // A 4-byte moffs (67H) is zero-extended, an 8-byte one is the signed number the decoder made.
    const off = i.adSize === 4 ? i.disp >>> 0 : i.disp;
    if (load) {
      if (size === 8) {
        readM64(cpu, seg, off);
        setReg64(cpu, 0, cpu.lo64, cpu.hi64);
      } else cpu.setReg(0, size, 0, cpu.read(seg, off, size));
    } else if (size === 8) writeM64(cpu, seg, off, cpu.state.gpr[0], cpu.state.gprHigh[0]);
    else cpu.write(seg, off, size, cpu.getReg(0, size, 0));
  };
}

/**
 * LSS/LFS/LGS r64, m16:64 (REX.W 0F B2/B4/B5): the 8-byte offset, then the selector after it; the
 * segment is loaded (and may fault) before the register is written (SDM LDS/LES/LFS/LGS/LSS,
 * "m16:64"). AMD64 has no m16:64 form (its REX.W loads m16:32), x86emu follows its CPUID vendor,
 * Intel. Was #UD (the long64 garbage difftest).
 */
export function makeLoadFar64(row: OpcodeRow): Handler {
  const seg = { LSS: 2, LFS: 4, LGS: 5 }[row.mnemonic] as number;
  return (cpu, i) => {
    const ea = cpu.ea(i);
    readM64(cpu, i.memSeg, ea);
    const lo = cpu.lo64;
    const hi = cpu.hi64;
    cpu.loadSeg(seg, cpu.read(i.memSeg, ea + 8, 2));
    setReg64(cpu, i.reg, lo, hi);
  };
}

/** MOVSXD r64, r/m32 (REX.W 63): sign-extends; without REX.W a plain 32-bit move (SDM MOVSX/MOVSXD). */
export const MOVSXD: Handler = (cpu, i) => {
  const v = readE(cpu, i, 4);
  if (i.opSize === 8) setReg64(cpu, i.reg, v, signHi(v));
  else cpu.setReg(i.reg, i.opSize, i.rex, v);
};

/** MOVZX/MOVSX r64, r/m8|16. */
export function makeMovx64(row: OpcodeRow): Handler {
  const signed = row.mnemonic === 'MOVSX';
  const src = row.operands.endsWith('Eb') ? 1 : 2;
  return (cpu, i) => {
    let v = readE(cpu, i, src);
    if (signed) v = src === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
    setReg64(cpu, i.reg, v >>> 0, signed ? signHi(v) : 0);
  };
}

/**
 * LEA in 64-bit mode, every operand size: the exact effective address (32-bit with 67H),
 * truncated to the operand size; a 32-bit result zero-extends.
 */
export const LEA64: Handler = (cpu, i) => {
  cpu.eaHalves(i);
  if (i.opSize === 8) setReg64(cpu, i.reg, cpu.lo64, cpu.hi64);
  else cpu.setReg(i.reg, i.opSize, i.rex, i.opSize === 4 ? cpu.lo64 : cpu.lo64 & 0xffff);
};

export function makeXchg64(row: OpcodeRow): Handler {
  if (row.operands === 'Zv,eAX')
    return (cpu, i) => {
      const s = cpu.state;
      const lo = s.gpr[0];
      const hi = s.gprHigh[0];
      setReg64(cpu, 0, s.gpr[i.rm], s.gprHigh[i.rm]);
      setReg64(cpu, i.rm, lo, hi);
    };
  return (cpu, i) => {
    const s = cpu.state;
    const lo = s.gpr[i.reg];
    const hi = s.gprHigh[i.reg];
    if (i.mod === 3) {
      setReg64(cpu, i.reg, s.gpr[i.rm], s.gprHigh[i.rm]);
      setReg64(cpu, i.rm, lo, hi);
      return;
    }
    const lin = rmwLinear(cpu, i, 8);
    readLin64(cpu, lin);
    // XCHG with memory is always locked: under emulate() or on shared RAM a compare-exchange, retried
    // until it holds.
    const ops = cpu.linearOps ?? cpu.lockedMemory;
    if (ops !== null) {
      let oLo = cpu.lo64;
      let oHi = cpu.hi64;
      while (!ops.cmpxchg(lin, 8, oLo, oHi, lo, hi)) {
        oLo = ops.curLo;
        oHi = ops.curHi;
      }
      setReg64(cpu, i.reg, oLo, oHi);
      return;
    }
    writeLin64(cpu, lin, lo, hi);
    setReg64(cpu, i.reg, cpu.lo64, cpu.hi64);
  };
}

/** CMOVcc r64, r/m64: the source is read (and may fault) whatever the condition; a false condition still zero-extends nothing. */
export const CMOVCC64: Handler = (cpu, i) => {
  readE64(cpu, i);
  if (cpu.cond(i.op & 0xf)) setReg64(cpu, i.reg, cpu.lo64, cpu.hi64);
};

// ---------------------------------------------------------------- stack (d64: 8 bytes, 2 with 66H)

export function makePush64(row: OpcodeRow): Handler {
  if (row.operands === 'Zv')
    return (cpu, i) => push64(cpu, cpu.state.gpr[i.rm] | 0, cpu.state.gprHigh[i.rm] | 0, i.opSize);
  if (row.operands === 'Ev')
    return (cpu, i) => {
      if (i.opSize === 8) readE64(cpu, i);
      else cpu.lo64 = readE(cpu, i, 2);
      push64(cpu, cpu.lo64, cpu.hi64, i.opSize);
    };
  // PUSH imm: sign-extended to the operand size.
  return (cpu, i) => push64(cpu, i.opSize === 8 ? i.imm | 0 : i.imm & 0xffff, signHi(i.imm) | 0, i.opSize);
}

export function makePop64(row: OpcodeRow): Handler {
  if (row.operands === 'Zv')
    return (cpu, i) => {
      pop64(cpu, i.opSize);
      if (i.opSize === 8) setReg64(cpu, i.rm, cpu.lo64, cpu.hi64);
      else cpu.setReg(i.rm, 2, 0, cpu.lo64);
    };
  // POP r/m64: RSP is incremented before the destination address is computed (SDM POP).
  return (cpu, i) => {
    const s = cpu.state;
    peek64(cpu, 0, i.opSize);
    const lo = cpu.lo64;
    const hi = cpu.hi64;
    const oldLo = s.gpr[4];
    const oldHi = s.gprHigh[4];
    addRsp(cpu, i.opSize);
    try {
      if (i.opSize === 8) writeE64(cpu, i, lo, hi);
      else if (i.mod === 3) cpu.setReg(i.rm, 2, 0, lo);
      else cpu.write(i.memSeg, cpu.ea(i), 2, lo);
    } catch (e) {
      s.gpr[4] = oldLo;
      s.gprHigh[4] = oldHi;
      throw e;
    }
  };
}

/** LEAVE: RSP ← RBP, then pop RBP. */
export const LEAVE64: Handler = (cpu, i) => {
  const s = cpu.state;
  const oldLo = s.gpr[4];
  const oldHi = s.gprHigh[4];
  s.gpr[4] = s.gpr[5];
  s.gprHigh[4] = s.gprHigh[5];
  try {
    pop64(cpu, i.opSize);
  } catch (e) {
    s.gpr[4] = oldLo;
    s.gprHigh[4] = oldHi;
    throw e;
  }
  if (i.opSize === 8) setReg64(cpu, 5, cpu.lo64, cpu.hi64);
  else cpu.setReg(5, 2, 0, cpu.lo64);
};
