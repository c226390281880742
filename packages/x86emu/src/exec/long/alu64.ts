/**
 * Integer arithmetic and logic with 64-bit operands (REX.W): ADD…CMP, TEST, INC/DEC, NOT/NEG,
 * CMPXCHG, XADD, CDQE/CQO, IMUL r64. Halves in plain numbers; the flags are recorded lazily as
 * one `LF_ARITH64` record (result halves, CF/OF/AF precomputed).
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import { LF_ARITH64 } from '../../cpu/lazy-flags.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { rmwLinear } from '../operands.js';
import { readE64, readLin64, setReg64, signHi, TWO32, writeLin64 } from './operands64.js';

/** Result of the last `alu64`: low and high halves. */
let resLo = 0;
let resHi = 0;

/**
 * Records CF, PF, AF, ZF, SF, OF of a 64-bit result lazily (`LF_ARITH64`: computed only when read);
 * `cf`, `of`, `af` are 0/1.
 */
export function setFlags64(cpu: Cpu, lo: number, hi: number, cf: number, of: number, af: number): void {
  cpu.lfOp = LF_ARITH64;
  cpu.lfRes = lo;
  cpu.lfResHi = hi;
  cpu.lfAux = cf | (of << 1);
  cpu.lfDst = af << 4;
  cpu.lfSrc = lo;
  cpu.lfSize = 8;
}

/** The eight ALU operations (opcode bits 5:3) on 64-bit halves; result in resLo/resHi. */
export function alu64(cpu: Cpu, op: number, dLo: number, dHi: number, sLo: number, sHi: number): void {
  switch (op) {
    case 0:
    case 2: {
      // ADD / ADC
      const cin = op === 2 && cpu.getCF() ? 1 : 0;
      const lo = dLo + sLo + cin;
      const c = lo >= TWO32 ? 1 : 0;
      const hi = dHi + sHi + c;
      resLo = lo >>> 0;
      resHi = hi >>> 0;
      setFlags64(
        cpu,
        resLo,
        resHi,
        hi >= TWO32 ? 1 : 0,
        ((dHi ^ resHi) & (sHi ^ resHi)) >>> 31,
        ((dLo ^ sLo ^ resLo) >>> 4) & 1,
      );
      return;
    }
    case 3:
    case 5:
    case 7: {
      // SBB / SUB / CMP
      const bin = op === 3 && cpu.getCF() ? 1 : 0;
      const lo = dLo - sLo - bin;
      const b = lo < 0 ? 1 : 0;
      const hi = dHi - sHi - b;
      resLo = lo >>> 0;
      resHi = hi >>> 0;
      setFlags64(
        cpu,
        resLo,
        resHi,
        hi < 0 ? 1 : 0,
        ((dHi ^ sHi) & (dHi ^ resHi)) >>> 31,
        ((dLo ^ sLo ^ resLo) >>> 4) & 1,
      );
      return;
    }
    case 1:
      resLo = (dLo | sLo) >>> 0;
      resHi = (dHi | sHi) >>> 0;
      break;
    case 4:
      resLo = (dLo & sLo) >>> 0;
      resHi = (dHi & sHi) >>> 0;
      break;
    default:
      resLo = (dLo ^ sLo) >>> 0;
      resHi = (dHi ^ sHi) >>> 0;
      break;
  }
  // Logic: CF = OF = 0, AF cleared (undefined; as the 32-bit forms do).
  setFlags64(cpu, resLo, resHi, 0, 0, 0);
}

const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];

const K_INC = 8;
const K_DEC = 9;
const K_NOT = 10;
const K_NEG = 11;

/** Operation `kind` (0–7 the ALU operations, then K_*) on d and s; result in resLo/resHi. */
function compute64(cpu: Cpu, kind: number, dLo: number, dHi: number, sLo: number, sHi: number): void {
  if (kind < 8) {
    alu64(cpu, kind, dLo, dHi, sLo, sHi);
    return;
  }
  if (kind === K_NOT) {
    resLo = ~dLo >>> 0;
    resHi = ~dHi >>> 0;
  } else if (kind === K_NEG) {
    alu64(cpu, 5, 0, 0, dLo, dHi);
  } else {
    // INC/DEC keep CF (SDM INC, DEC).
    const cf = cpu.getCF() ? 1 : 0;
    alu64(cpu, kind === K_DEC ? 5 : 0, dLo, dHi, 1, 0);
    cpu.lfAux = (cpu.lfAux & ~1) | cf; // the LF_ARITH64 record's CF bit
  }
}

/**
 * Read-modify-write of an r/m64: result of `kind` with source s; the old value stays in lo64/hi64.
 * False when a LOCK'd one lost a race on shared RAM and runs again (no register may be written).
 */
function rmw64(cpu: Cpu, i: Insn, write: boolean, kind: number, sLo: number, sHi: number): boolean {
  if (i.mod === 3) {
    const r = i.rm;
    cpu.lo64 = cpu.state.gpr[r];
    cpu.hi64 = cpu.state.gprHigh[r];
    compute64(cpu, kind, cpu.lo64, cpu.hi64, sLo, sHi);
    if (write) setReg64(cpu, r, resLo, resHi);
    return true;
  }
  if (!write) {
    readE64(cpu, i);
    compute64(cpu, kind, cpu.lo64, cpu.hi64, sLo, sHi);
    return true;
  }
  const lin = rmwLinear(cpu, i, 8);
  readLin64(cpu, lin);
  const oLo = cpu.lo64;
  const oHi = cpu.hi64;
  compute64(cpu, kind, oLo, oHi, sLo, sHi);
  // LOCK under emulate(): the write is a compare-exchange against what was read (KVM emulates
  // locked instructions with cmpxchg); a lost race re-emulates the instruction.
  if (i.lock && cpu.linearOps !== null) {
    if (!cpu.linearOps.cmpxchg(lin, 8, oLo, oHi, resLo, resHi)) throw C.EMUL_RETRY;
  } else if (i.lock && cpu.lockedMemory !== null) {
    if (!cpu.lockedMemory.cmpxchg(lin, 8, oLo, oHi, resLo, resHi)) {
      cpu.lockedMemory.retry();
      return false;
    }
  } else writeLin64(cpu, lin, resLo, resHi);
  cpu.lo64 = oLo;
  cpu.hi64 = oHi;
  return true;
}

/**
 * The size-generic handler of an ALU row with 64-bit operands; `makeAlu64` (alu64-fast.ts) uses it
 * for ADC, SBB and every memory destination.
 */
export function makeAlu64Generic(row: OpcodeRow): Handler {
  const op = ALU_NAMES.indexOf(row.mnemonic);
  const write = op !== 7;
  switch (row.operands) {
    case 'Ev,Gv':
      return (cpu, i) => rmw64(cpu, i, write, op, cpu.state.gpr[i.reg], cpu.state.gprHigh[i.reg]);
    case 'Gv,Ev':
      return (cpu, i) => {
        readE64(cpu, i);
        alu64(cpu, op, cpu.state.gpr[i.reg], cpu.state.gprHigh[i.reg], cpu.lo64, cpu.hi64);
        if (write) setReg64(cpu, i.reg, resLo, resHi);
      };
    case 'eAX,Iz':
      return (cpu, i) => {
        alu64(cpu, op, cpu.state.gpr[0], cpu.state.gprHigh[0], i.imm >>> 0, signHi(i.imm));
        if (write) setReg64(cpu, 0, resLo, resHi);
      };
    default:
      // Ev,Iz / Ev,IbS: the immediate is sign-extended to 64 bits.
      return (cpu, i) => rmw64(cpu, i, write, op, i.imm >>> 0, signHi(i.imm));
  }
}

export function makeTest64(row: OpcodeRow): Handler {
  if (row.operands === 'eAX,Iz')
    return (cpu, i) => alu64(cpu, 4, cpu.state.gpr[0], cpu.state.gprHigh[0], i.imm >>> 0, signHi(i.imm));
  if (row.operands === 'Ev,Iz') return (cpu, i) => rmw64(cpu, i, false, 4, i.imm >>> 0, signHi(i.imm));
  return (cpu, i) => rmw64(cpu, i, false, 4, cpu.state.gpr[i.reg], cpu.state.gprHigh[i.reg]);
}

/** INC/DEC r/m64 (FF /0, /1). */
export function makeIncDec64(row: OpcodeRow): Handler {
  const kind = row.mnemonic === 'DEC' ? K_DEC : K_INC;
  return (cpu, i) => rmw64(cpu, i, true, kind, 0, 0);
}

/** NOT/NEG r/m64 (F7 /2, /3). */
export function makeNotNeg64(row: OpcodeRow): Handler {
  const kind = row.mnemonic === 'NEG' ? K_NEG : K_NOT;
  return (cpu, i) => rmw64(cpu, i, true, kind, 0, 0);
}

/** CDQE (REX.W 98): sign-extend EAX into RAX. */
export const CDQE: Handler = (cpu) => {
  cpu.state.gprHigh[0] = signHi(cpu.state.gpr[0]);
};
/** CQO (REX.W 99): sign of RAX into every bit of RDX. */
export const CQO: Handler = (cpu) => {
  const v = cpu.state.gprHigh[0] & 0x80000000 ? 0xffffffff : 0;
  setReg64(cpu, 2, v, v);
};

/** XADD r/m64, r64: the old destination goes to the source register. */
export const XADD64: Handler = (cpu, i) => {
  if (!rmw64(cpu, i, true, 0, cpu.state.gpr[i.reg], cpu.state.gprHigh[i.reg])) return;
  if (i.mod === 3 && i.rm === i.reg) return;
  setReg64(cpu, i.reg, cpu.lo64, cpu.hi64);
};

/** CMPXCHG r/m64, r64: RAX against the destination, which is always written (memory form). */
export const CMPXCHG64: Handler = (cpu, i) => {
  const s = cpu.state;
  const aLo = s.gpr[0];
  const aHi = s.gprHigh[0];
  const nLo = s.gpr[i.reg];
  const nHi = s.gprHigh[i.reg];
  let dLo: number;
  let dHi: number;
  let lin = -1;
  if (i.mod === 3) {
    dLo = s.gpr[i.rm];
    dHi = s.gprHigh[i.rm];
  } else {
    lin = rmwLinear(cpu, i, 8);
    // emulate(): the ops' atomic compare-exchange decides; so does the shared memory's under LOCK.
    const ops = cpu.linearOps ?? (i.lock ? cpu.lockedMemory : null);
    if (ops !== null) {
      const ok = ops.cmpxchg(lin, 8, aLo, aHi, nLo, nHi);
      dLo = ok ? aLo : ops.curLo;
      dHi = ok ? aHi : ops.curHi;
      alu64(cpu, 7, aLo, aHi, dLo, dHi);
      if (!ok) setReg64(cpu, 0, dLo, dHi);
      return;
    }
    readLin64(cpu, lin);
    dLo = cpu.lo64;
    dHi = cpu.hi64;
  }
  alu64(cpu, 7, aLo, aHi, dLo, dHi);
  const equal = aLo === dLo && aHi === dHi;
  if (lin >= 0) writeLin64(cpu, lin, equal ? nLo : dLo, equal ? nHi : dHi);
  else if (equal) setReg64(cpu, i.rm, nLo, nHi);
  if (!equal) setReg64(cpu, 0, dLo, dHi);
};

// ---------------------------------------------------------------- multiplication

/** Unsigned 64 × 64 → 128-bit product; result in PROD[0..3] (dwords, low first). */
const PROD = new Uint32Array(4);
/** 32 × 32 → 64-bit product of unsigned dwords into P_LO/P_HI (16-bit halves keep it exact). */
let pLo = 0;
let pHi = 0;
function mul32(a: number, b: number): void {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const mid = (ll >>> 16) + ((aL * bH) & 0xffff) + ((aH * bL) & 0xffff);
  pLo = (((mid & 0xffff) << 16) | (ll & 0xffff)) >>> 0;
  pHi = aH * bH + Math.floor((aL * bH) / 65536) + Math.floor((aH * bL) / 65536) + Math.floor(mid / 65536);
}
function mulu64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  mul32(aLo, bLo);
  const w0 = pLo;
  let w1 = pHi;
  let w2 = 0;
  let w3 = 0;
  if (bHi !== 0) {
    mul32(aLo, bHi);
    w1 += pLo;
    w2 += pHi;
  }
  if (aHi !== 0) {
    mul32(aHi, bLo);
    w1 += pLo;
    w2 += pHi;
    if (bHi !== 0) {
      mul32(aHi, bHi);
      w2 += pLo;
      w3 += pHi;
    }
  }
  // Carries between dwords (each partial sum < 2^34: exact).
  const c1 = Math.floor(w1 / TWO32);
  w2 += c1;
  const c2 = Math.floor(w2 / TWO32);
  PROD[0] = w0;
  PROD[1] = w1 - c1 * TWO32;
  PROD[2] = w2 - c2 * TWO32;
  PROD[3] = w3 + c2;
}
function negate128(): void {
  let c = 1;
  for (let k = 0; k < 4; k++) {
    const v = (~PROD[k] >>> 0) + c;
    PROD[k] = v >>> 0;
    c = v >= TWO32 ? 1 : 0;
  }
}
/** Signed 64 × 64 → 128 into PROD. */
function muls64(aLo: number, aHi: number, bLo: number, bHi: number): void {
  const na = (aHi & 0x80000000) !== 0;
  const nb = (bHi & 0x80000000) !== 0;
  if (na) {
    aLo = (~aLo + 1) >>> 0;
    aHi = (~aHi + (aLo === 0 ? 1 : 0)) >>> 0;
  }
  if (nb) {
    bLo = (~bLo + 1) >>> 0;
    bHi = (~bHi + (bLo === 0 ? 1 : 0)) >>> 0;
  }
  mulu64(aLo, aHi, bLo, bHi);
  if (na !== nb) negate128();
}

/** MUL/IMUL flags: CF = OF = the upper half is significant; SF/ZF/PF from the low half. */
function mulFlags64(cpu: Cpu, overflow: boolean): void {
  setFlags64(cpu, PROD[0], PROD[1], overflow ? 1 : 0, overflow ? 1 : 0, 0);
}
function signedOverflow(): boolean {
  const ext = PROD[1] & 0x80000000 ? 0xffffffff : 0;
  return PROD[2] !== ext || PROD[3] !== ext;
}

/** High dword of the unsigned 32 × 32-bit product a·b, exact (b split in 16-bit halves: < 2^49). */
function mulHi32(a: number, b: number): number {
  const t1 = a * (b & 0xffff);
  const t2 = a * (b >>> 16);
  const t2hi = Math.floor(t2 / 65536);
  return t2hi + Math.floor(((t2 - t2hi * 65536) * 65536 + t1) / TWO32);
}

const TWO62 = 2 ** 62;
const TWO65 = 2 ** 65;

/**
 * IMUL r64, r/m64 (0F AF) and IMUL r64, r/m64, imm (69, 6B). The destination is the low 64 bits
 * (the same for signed and unsigned operands: three 32-bit multiplies); CF = OF = the signed
 * product does not fit, decided by the product of the operands as doubles (relative error under
 * 2^-50) unless it lies within a factor of 2 of 2^63, where the exact 128-bit product decides.
 */
export function makeImulN64(row: OpcodeRow): Handler {
  const three = row.mnemonic === 'IMUL3';
  return (cpu, i) => {
    readE64(cpu, i);
    const aLo = cpu.lo64;
    const aHi = cpu.hi64;
    const bLo = three ? i.imm >>> 0 : cpu.state.gpr[i.reg];
    const bHi = three ? signHi(i.imm) : cpu.state.gprHigh[i.reg];
    const lo = Math.imul(aLo, bLo) >>> 0;
    const hi = (mulHi32(aLo, bLo) + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) >>> 0;
    const p = Math.abs(((aHi | 0) * TWO32 + aLo) * ((bHi | 0) * TWO32 + bLo));
    let overflow = p >= TWO65;
    if (p >= TWO62 && !overflow) {
      muls64(aLo, aHi, bLo, bHi);
      overflow = signedOverflow();
    }
    setReg64(cpu, i.reg, lo, hi);
    setFlags64(cpu, lo, hi, overflow ? 1 : 0, overflow ? 1 : 0, 0);
  };
}

/** Group 3 MUL/IMUL/DIV/IDIV r/m64: RDX:RAX (SDM Vol. 2 MUL, DIV). */
export function makeMulDiv64(row: OpcodeRow): Handler {
  const kind = row.mnemonic;
  return (cpu, i) => {
    readE64(cpu, i);
    const s = cpu.state;
    if (kind === 'MUL' || kind === 'IMUL') {
      if (kind === 'MUL') mulu64(s.gpr[0], s.gprHigh[0], cpu.lo64, cpu.hi64);
      else muls64(s.gpr[0], s.gprHigh[0], cpu.lo64, cpu.hi64);
      setReg64(cpu, 0, PROD[0], PROD[1]);
      setReg64(cpu, 2, PROD[2], PROD[3]);
      mulFlags64(cpu, kind === 'MUL' ? (PROD[2] | PROD[3]) !== 0 : signedOverflow());
      return;
    }
    divide128(cpu, cpu.lo64, cpu.hi64, kind === 'IDIV');
  };
}

/**
 * RDX:RAX ÷ r/m64 (SDM Vol. 2 DIV, IDIV): #DE for a zero divisor or a quotient that does not fit.
 * Restoring binary long division over the 128-bit dividend: 128 steps of shifts and subtracts on
 * dword halves, no BigInt.
 */
const DIVIDEND = new Uint32Array(4);
function divide128(cpu: Cpu, dLo: number, dHi: number, signed: boolean): void {
  const s = cpu.state;
  if ((dLo | dHi) === 0) cpu.raise(C.DE, 0, false);
  const n = DIVIDEND;
  n[0] = s.gpr[0];
  n[1] = s.gprHigh[0];
  n[2] = s.gpr[2];
  n[3] = s.gprHigh[2];
  let negN = false;
  let negD = false;
  if (signed) {
    if (n[3] & 0x80000000) {
      negN = true;
      let c = 1;
      for (let k = 0; k < 4; k++) {
        const v = (~n[k] >>> 0) + c;
        n[k] = v >>> 0;
        c = v >= TWO32 ? 1 : 0;
      }
    }
    if (dHi & 0x80000000) {
      negD = true;
      dLo = (~dLo + 1) >>> 0;
      dHi = (~dHi + (dLo === 0 ? 1 : 0)) >>> 0;
    }
  }
  // Quotient must fit in 64 bits: the high 64 bits of the dividend must be below the divisor.
  if (n[3] > dHi || (n[3] === dHi && n[2] >= dLo)) cpu.raise(C.DE, 0, false);
  let rLo = n[2];
  let rHi = n[3];
  let qLo = n[0];
  let qHi = n[1];
  for (let k = 0; k < 64; k++) {
    // (r:q) <<= 1
    const top = rHi >>> 31;
    rHi = ((rHi << 1) | (rLo >>> 31)) >>> 0;
    rLo = ((rLo << 1) | (qHi >>> 31)) >>> 0;
    qHi = ((qHi << 1) | (qLo >>> 31)) >>> 0;
    qLo = (qLo << 1) >>> 0;
    if (top || rHi > dHi || (rHi === dHi && rLo >= dLo)) {
      const lo = rLo - dLo;
      rLo = lo >>> 0;
      rHi = (rHi - dHi - (lo < 0 ? 1 : 0)) >>> 0;
      qLo = (qLo | 1) >>> 0;
    }
  }
  if (signed) {
    const negQ = negN !== negD;
    const limitHi = negQ ? 0x80000000 : 0x7fffffff;
    if (qHi > limitHi || (negQ && qHi === 0x80000000 && qLo !== 0)) cpu.raise(C.DE, 0, false);
    if (negQ) {
      qLo = (~qLo + 1) >>> 0;
      qHi = (~qHi + (qLo === 0 ? 1 : 0)) >>> 0;
    }
    if (negN) {
      rLo = (~rLo + 1) >>> 0;
      rHi = (~rHi + (rLo === 0 ? 1 : 0)) >>> 0;
    }
  }
  setReg64(cpu, 0, qLo, qHi);
  setReg64(cpu, 2, rLo, rHi);
}
