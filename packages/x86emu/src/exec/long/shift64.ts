/**
 * Shifts, rotates and bit instructions with 64-bit operands (SDM Vol. 2 SAL/SAR/SHL/SHR,
 * RCL/RCR/ROL/ROR, SHLD/SHRD, BT/BTS/BTR/BTC, BSF/BSR, BSWAP): counts masked to 6 bits.
 */
import { EMUL_RETRY } from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';
import { rmwLinear, rmwWrite } from '../operands.js';
import { setFlags64 } from './alu64.js';
import { readE64, readLin64, setReg64, signed64, writeLin64 } from './operands64.js';

let oLo = 0;
let oHi = 0;

function shl(lo: number, hi: number, c: number): void {
  if (c === 0) {
    oLo = lo;
    oHi = hi;
  } else if (c < 32) {
    oHi = ((hi << c) | (lo >>> (32 - c))) >>> 0;
    oLo = (lo << c) >>> 0;
  } else {
    oHi = (lo << (c - 32)) >>> 0;
    oLo = 0;
  }
}
function shr(lo: number, hi: number, c: number, arith: boolean): void {
  const fill = arith && hi & 0x80000000 ? 0xffffffff : 0;
  if (c === 0) {
    oLo = lo;
    oHi = hi;
  } else if (c < 32) {
    oLo = ((lo >>> c) | (hi << (32 - c))) >>> 0;
    oHi = arith ? (hi >> c) >>> 0 : hi >>> c;
  } else {
    oLo = arith ? (hi >> (c - 32)) >>> 0 : hi >>> (c - 32);
    oHi = fill;
  }
}
function bit(lo: number, hi: number, n: number): number {
  return n < 32 ? (lo >>> n) & 1 : (hi >>> (n - 32)) & 1;
}
function setCfOf(cpu: Cpu, cf: number, of: number): void {
  cpu.materializeFlags();
  const s = cpu.state;
  s.rflags[0] = (s.rflags[0] & ~(Flag.CF | Flag.OF)) | (cf ? Flag.CF : 0) | (of ? Flag.OF : 0);
}

/** One shift/rotate `op` (group 2 numbering) of lo:hi by c (1–63); result in oLo/oHi, flags set. */
function shift64(cpu: Cpu, op: number, lo: number, hi: number, c: number): void {
  switch (op) {
    case 0: {
      shl(lo, hi, c);
      const aLo = oLo;
      const aHi = oHi;
      shr(lo, hi, 64 - c, false);
      oLo = (aLo | oLo) >>> 0;
      oHi = (aHi | oHi) >>> 0;
      const cf = oLo & 1;
      setCfOf(cpu, cf, (oHi >>> 31) ^ cf);
      return;
    }
    case 1: {
      shr(lo, hi, c, false);
      const aLo = oLo;
      const aHi = oHi;
      shl(lo, hi, 64 - c);
      oLo = (aLo | oLo) >>> 0;
      oHi = (aHi | oHi) >>> 0;
      const msb = oHi >>> 31;
      setCfOf(cpu, msb, msb ^ ((oHi >>> 30) & 1));
      return;
    }
    case 2:
    case 3: {
      // RCL/RCR: a 65-bit rotation through CF, one bit at a time (c ≤ 63).
      let cf = cpu.getCF() ? 1 : 0;
      let rl = lo;
      let rh = hi;
      const of0 = (hi >>> 31) ^ cf;
      for (let k = 0; k < c; k++) {
        if (op === 2) {
          const out = rh >>> 31;
          rh = ((rh << 1) | (rl >>> 31)) >>> 0;
          rl = ((rl << 1) | cf) >>> 0;
          cf = out;
        } else {
          const out = rl & 1;
          rl = ((rl >>> 1) | (rh << 31)) >>> 0;
          rh = ((rh >>> 1) | (cf << 31)) >>> 0;
          cf = out;
        }
      }
      oLo = rl;
      oHi = rh;
      setCfOf(cpu, cf, op === 2 ? (rh >>> 31) ^ cf : of0);
      return;
    }
    case 4:
    case 6: {
      const cf = bit(lo, hi, 64 - c);
      shl(lo, hi, c);
      setFlags64(cpu, oLo, oHi, cf, (oHi >>> 31) ^ cf, 0);
      return;
    }
    case 5: {
      const cf = bit(lo, hi, c - 1);
      shr(lo, hi, c, false);
      setFlags64(cpu, oLo, oHi, cf, hi >>> 31, 0);
      return;
    }
    default: {
      const cf = bit(lo, hi, c - 1);
      shr(lo, hi, c, true);
      setFlags64(cpu, oLo, oHi, cf, 0, 0);
    }
  }
}

export function makeShift64(row: OpcodeRow): Handler {
  const op = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'].indexOf(row.mnemonic);
  const src = row.operands.endsWith('CL') ? 2 : row.operands.endsWith('1') ? 1 : 0;
  return (cpu: Cpu, i: Insn) => {
    const count = (src === 2 ? cpu.state.gpr[1] : src === 1 ? 1 : i.imm) & 0x3f;
    if (i.mod === 3) {
      if (count === 0) return;
      shift64(cpu, op, cpu.state.gpr[i.rm], cpu.state.gprHigh[i.rm], count);
      setReg64(cpu, i.rm, oLo, oHi);
      return;
    }
    const lin = rmwLinear(cpu, i, 8);
    readLin64(cpu, lin);
    if (count === 0) return;
    shift64(cpu, op, cpu.lo64, cpu.hi64, count);
    writeLin64(cpu, lin, oLo, oHi);
  };
}

/** SHLD/SHRD r/m64, r64, count (mod 64; nothing for 0). */
export function makeShxd64(row: OpcodeRow): Handler {
  const left = row.mnemonic === 'SHLD';
  const byCl = row.operands.endsWith('CL');
  return (cpu: Cpu, i: Insn) => {
    const c = (byCl ? cpu.state.gpr[1] : i.imm) & 0x3f;
    const sLo = cpu.state.gpr[i.reg];
    const sHi = cpu.state.gprHigh[i.reg];
    let lin = -1;
    if (i.mod === 3) readE64(cpu, i);
    else {
      lin = rmwLinear(cpu, i, 8);
      readLin64(cpu, lin);
    }
    if (c === 0) return;
    const dLo = cpu.lo64;
    const dHi = cpu.hi64;
    let cf: number;
    if (left) {
      cf = bit(dLo, dHi, 64 - c);
      shr(sLo, sHi, 64 - c, false);
      const fLo = oLo;
      const fHi = oHi;
      shl(dLo, dHi, c);
      oLo = (oLo | fLo) >>> 0;
      oHi = (oHi | fHi) >>> 0;
    } else {
      cf = bit(dLo, dHi, c - 1);
      shl(sLo, sHi, 64 - c);
      const fLo = oLo;
      const fHi = oHi;
      shr(dLo, dHi, c, false);
      oLo = (oLo | fLo) >>> 0;
      oHi = (oHi | fHi) >>> 0;
    }
    const rLo = oLo;
    const rHi = oHi;
    setFlags64(cpu, rLo, rHi, cf, ((rHi ^ dHi) >>> 31) & 1, 0);
    if (lin < 0) setReg64(cpu, i.rm, rLo, rHi);
    else writeLin64(cpu, lin, rLo, rHi);
  };
}

/**
 * BT/BTS/BTR/BTC in 64-bit mode, every operand size: with a register bit offset and a memory
 * operand the offset is signed and selects any bit relative to the 64-bit address.
 */
export function makeBt64(row: OpcodeRow): Handler {
  const op = ['BT', 'BTS', 'BTR', 'BTC'].indexOf(row.mnemonic);
  const imm = row.operands.endsWith('Ib');
  return (cpu: Cpu, i: Insn) => {
    const size = i.opSize;
    const bits = size * 8;
    const s = cpu.state;
    if (i.mod === 3) {
      const b = (imm ? i.imm : s.gpr[i.reg]) & (bits - 1);
      if (size === 8) {
        const lo = s.gpr[i.rm];
        const hi = s.gprHigh[i.rm];
        setCf(cpu, bit(lo, hi, b));
        if (op !== 0) {
          const m = b < 32 ? 1 << b : 0;
          const mh = b >= 32 ? 1 << (b - 32) : 0;
          setReg64(cpu, i.rm, modify(op, lo, m), modify(op, hi, mh));
        }
      } else {
        const v = cpu.getReg(i.rm, size, i.rex);
        setCf(cpu, (v >>> b) & 1);
        if (op !== 0) cpu.setReg(i.rm, size, i.rex, modify(op, v, 1 << b) & (size === 4 ? -1 : 0xffff));
      }
      return;
    }
    let ea = cpu.ea(i);
    let b: number;
    if (imm) b = i.imm & (bits - 1);
    else {
      // Signed bit offset of the operand size (SDM BT: "bit offset operand … -2^63 to 2^63 − 1").
      if (size === 8) {
        // The byte displacement (offset SAR 6) × 8 = (offset SAR 3) with bits 2:0 clear, taken
        // in 32-bit halves: a 64-bit offset as one double loses its low bits above 2^53 (the
        // long64 difftest's BTC/BTS faulted at the wrong CR2).
        const lo = s.gpr[i.reg];
        const hi = s.gprHigh[i.reg];
        const dLo = ((lo >>> 3) | (hi << 29)) & ~7;
        if (i.adSize === 4) ea = (ea + (dLo >>> 0)) >>> 0;
        else ea += signed64(dLo >>> 0, hi >> 3);
      } else {
        const off = size === 4 ? s.gpr[i.reg] | 0 : (s.gpr[i.reg] << 16) >> 16;
        ea += Math.floor(off / bits) * size;
        if (i.adSize === 4) ea = ea >>> 0;
      }
      b = s.gpr[i.reg] & (bits - 1);
    }
    // The whole operand is accessed (a fault reports its first byte's page), as the CPU does.
    if (size === 8) {
      const lin = cpu.segAddr(i.memSeg, ea, 8, op !== 0);
      // #AC before the page, as the CPU (see rmwLinear; readLin64 checks it for BT).
      if (op !== 0) {
        cpu.alignCheck(lin, 8);
        cpu.probeWrite(lin, 8);
      }
      readLin64(cpu, lin);
      const lo = cpu.lo64;
      const hi = cpu.hi64;
      setCf(cpu, bit(lo, hi, b));
      if (op === 0) return;
      const nLo = modify(op, lo, b < 32 ? 1 << b : 0);
      const nHi = modify(op, hi, b >= 32 ? 1 << (b - 32) : 0);
      if (i.lock && cpu.linearOps !== null) {
        if (!cpu.linearOps.cmpxchg(lin, 8, lo, hi, nLo, nHi)) throw EMUL_RETRY;
      } else if (i.lock && cpu.lockedMemory !== null) {
        if (!cpu.lockedMemory.cmpxchg(lin, 8, lo, hi, nLo, nHi)) cpu.lockedMemory.retry();
      } else writeLin64(cpu, lin, nLo, nHi);
      return;
    }
    if (op === 0) {
      setCf(cpu, (cpu.read(i.memSeg, ea, size) >>> b) & 1);
      return;
    }
    const lin = cpu.segAddr(i.memSeg, ea, size, true);
    cpu.alignCheck(lin, size);
    cpu.probeWrite(lin, size);
    const v = cpu.linRead(lin, size, cpu.dataAccess(false));
    setCf(cpu, (v >>> b) & 1);
    rmwWrite(cpu, i, lin, size, v, modify(op, v, 1 << b) & (size === 4 ? -1 : 0xffff));
  };
}
function modify(op: number, v: number, m: number): number {
  const r = op === 1 ? v | m : op === 2 ? v & ~m : op === 3 ? v ^ m : v;
  return r >>> 0;
}
function setCf(cpu: Cpu, cf: number): void {
  cpu.materializeFlags();
  const s = cpu.state;
  s.rflags[0] = cf ? s.rflags[0] | Flag.CF : s.rflags[0] & ~Flag.CF;
}

/** BSF/BSR r64, r/m64: ZF = 1 and the destination unchanged for a zero source. */
export function makeBsx64(row: OpcodeRow): Handler {
  const reverse = row.mnemonic === 'BSR';
  return (cpu: Cpu, i: Insn) => {
    readE64(cpu, i);
    const lo = cpu.lo64;
    const hi = cpu.hi64;
    cpu.materializeFlags();
    const s = cpu.state;
    if ((lo | hi) === 0) {
      s.rflags[0] |= Flag.ZF;
      return;
    }
    s.rflags[0] &= ~Flag.ZF;
    let n: number;
    if (reverse) n = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
    else n = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
    setReg64(cpu, i.reg, n, 0);
  };
}

/** BSWAP r64: the eight bytes reversed. */
export const BSWAP64: Handler = (cpu, i) => {
  const s = cpu.state;
  const lo = s.gpr[i.rm];
  const hi = s.gprHigh[i.rm];
  const sw = (v: number) => ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0;
  setReg64(cpu, i.rm, sw(hi), sw(lo));
};
