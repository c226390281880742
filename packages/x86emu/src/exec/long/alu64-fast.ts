/**
 * ADD, OR, AND, SUB, XOR, CMP with 64-bit operands (REX.W) as one handler per operation and
 * operand form: each its own function literal, so that V8 compiles the operation into it instead
 * of switching on it in the shared `alu64` (the bench's REX.W loop spent about a quarter of its
 * time there). Register operands are computed in place; a memory destination and the
 * carry-in forms (ADC, SBB) keep the generic path of `alu64.ts`. Flags as `alu64` records them.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { makeAlu64Generic, setFlags64 } from './alu64.js';
import { readE64, signHi, TWO32 } from './operands64.js';

/** ADD: register `d` += s (SDM Vol. 2 ADD: OF from the signs, AF the carry out of bit 3). */
function add64(cpu: Cpu, d: number, sLo: number, sHi: number): void {
  const g = cpu.state.gpr;
  const gh = cpu.state.gprHigh;
  const dLo = g[d];
  const dHi = gh[d];
  const lo = dLo + sLo;
  const hi = dHi + sHi + (lo >= TWO32 ? 1 : 0);
  const rLo = lo >>> 0;
  const rHi = hi >>> 0;
  g[d] = rLo;
  gh[d] = rHi;
  setFlags64(
    cpu,
    rLo,
    rHi,
    hi >= TWO32 ? 1 : 0,
    ((dHi ^ rHi) & (sHi ^ rHi)) >>> 31,
    ((dLo ^ sLo ^ rLo) >>> 4) & 1,
  );
}

/** SUB (write) or CMP (no write): register `d` − s. */
function sub64(cpu: Cpu, d: number, sLo: number, sHi: number, write: boolean): void {
  const g = cpu.state.gpr;
  const gh = cpu.state.gprHigh;
  const dLo = g[d];
  const dHi = gh[d];
  const lo = dLo - sLo;
  const hi = dHi - sHi - (lo < 0 ? 1 : 0);
  const rLo = lo >>> 0;
  const rHi = hi >>> 0;
  if (write) {
    g[d] = rLo;
    gh[d] = rHi;
  }
  setFlags64(
    cpu,
    rLo,
    rHi,
    hi < 0 ? 1 : 0,
    ((dHi ^ sHi) & (dHi ^ rHi)) >>> 31,
    ((dLo ^ sLo ^ rLo) >>> 4) & 1,
  );
}

// Logic: CF = OF = 0, AF cleared (undefined; as the 32-bit forms do).
function or64(cpu: Cpu, d: number, sLo: number, sHi: number): void {
  const g = cpu.state.gpr;
  const gh = cpu.state.gprHigh;
  const rLo = (g[d] | sLo) >>> 0;
  const rHi = (gh[d] | sHi) >>> 0;
  g[d] = rLo;
  gh[d] = rHi;
  setFlags64(cpu, rLo, rHi, 0, 0, 0);
}
function and64(cpu: Cpu, d: number, sLo: number, sHi: number): void {
  const g = cpu.state.gpr;
  const gh = cpu.state.gprHigh;
  const rLo = (g[d] & sLo) >>> 0;
  const rHi = (gh[d] & sHi) >>> 0;
  g[d] = rLo;
  gh[d] = rHi;
  setFlags64(cpu, rLo, rHi, 0, 0, 0);
}
function xor64(cpu: Cpu, d: number, sLo: number, sHi: number): void {
  const g = cpu.state.gpr;
  const gh = cpu.state.gprHigh;
  const rLo = (g[d] ^ sLo) >>> 0;
  const rHi = (gh[d] ^ sHi) >>> 0;
  g[d] = rLo;
  gh[d] = rHi;
  setFlags64(cpu, rLo, rHi, 0, 0, 0);
}

/** The four forms of one operation; `slow` is the generic handler, used for a memory destination. */
interface Forms {
  /** Ev,Gv (01, 09, 21, 29, 31, 39) with a register destination. */
  evGv(slow: Handler): Handler;
  /** Gv,Ev (03, 0B, 23, 2B, 33, 3B): register destination, register or memory source. */
  gvEv: Handler;
  /** Ev,Iz / Ev,IbS (81 /op, 83 /op) with a register destination. */
  evI(slow: Handler): Handler;
  /** eAX,Iz (05, 0D, 25, 2D, 35, 3D). */
  aI: Handler;
}

const g = (cpu: Cpu) => cpu.state.gpr;
const gh = (cpu: Cpu) => cpu.state.gprHigh;

const FORMS: (Forms | null)[] = [
  {
    evGv: (slow) => (cpu, i) =>
      i.mod === 3 ? add64(cpu, i.rm, g(cpu)[i.reg], gh(cpu)[i.reg]) : slow(cpu, i),
    gvEv: (cpu, i) => {
      readE64(cpu, i);
      add64(cpu, i.reg, cpu.lo64, cpu.hi64);
    },
    evI: (slow) => (cpu, i) => (i.mod === 3 ? add64(cpu, i.rm, i.imm >>> 0, signHi(i.imm)) : slow(cpu, i)),
    aI: (cpu, i) => add64(cpu, 0, i.imm >>> 0, signHi(i.imm)),
  },
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? or64(cpu, i.rm, g(cpu)[i.reg], gh(cpu)[i.reg]) : slow(cpu, i)),
    gvEv: (cpu, i) => {
      readE64(cpu, i);
      or64(cpu, i.reg, cpu.lo64, cpu.hi64);
    },
    evI: (slow) => (cpu, i) => (i.mod === 3 ? or64(cpu, i.rm, i.imm >>> 0, signHi(i.imm)) : slow(cpu, i)),
    aI: (cpu, i) => or64(cpu, 0, i.imm >>> 0, signHi(i.imm)),
  },
  null, // ADC
  null, // SBB
  {
    evGv: (slow) => (cpu, i) =>
      i.mod === 3 ? and64(cpu, i.rm, g(cpu)[i.reg], gh(cpu)[i.reg]) : slow(cpu, i),
    gvEv: (cpu, i) => {
      readE64(cpu, i);
      and64(cpu, i.reg, cpu.lo64, cpu.hi64);
    },
    evI: (slow) => (cpu, i) => (i.mod === 3 ? and64(cpu, i.rm, i.imm >>> 0, signHi(i.imm)) : slow(cpu, i)),
    aI: (cpu, i) => and64(cpu, 0, i.imm >>> 0, signHi(i.imm)),
  },
  {
    evGv: (slow) => (cpu, i) =>
      i.mod === 3 ? sub64(cpu, i.rm, g(cpu)[i.reg], gh(cpu)[i.reg], true) : slow(cpu, i),
    gvEv: (cpu, i) => {
      readE64(cpu, i);
      sub64(cpu, i.reg, cpu.lo64, cpu.hi64, true);
    },
    evI: (slow) => (cpu, i) =>
      i.mod === 3 ? sub64(cpu, i.rm, i.imm >>> 0, signHi(i.imm), true) : slow(cpu, i),
    aI: (cpu, i) => sub64(cpu, 0, i.imm >>> 0, signHi(i.imm), true),
  },
  {
    evGv: (slow) => (cpu, i) =>
      i.mod === 3 ? xor64(cpu, i.rm, g(cpu)[i.reg], gh(cpu)[i.reg]) : slow(cpu, i),
    gvEv: (cpu, i) => {
      readE64(cpu, i);
      xor64(cpu, i.reg, cpu.lo64, cpu.hi64);
    },
    evI: (slow) => (cpu, i) => (i.mod === 3 ? xor64(cpu, i.rm, i.imm >>> 0, signHi(i.imm)) : slow(cpu, i)),
    aI: (cpu, i) => xor64(cpu, 0, i.imm >>> 0, signHi(i.imm)),
  },
  {
    evGv: (slow) => (cpu, i) =>
      i.mod === 3 ? sub64(cpu, i.rm, g(cpu)[i.reg], gh(cpu)[i.reg], false) : slow(cpu, i),
    gvEv: (cpu, i) => {
      readE64(cpu, i);
      sub64(cpu, i.reg, cpu.lo64, cpu.hi64, false);
    },
    evI: (slow) => (cpu, i) =>
      i.mod === 3 ? sub64(cpu, i.rm, i.imm >>> 0, signHi(i.imm), false) : slow(cpu, i),
    aI: (cpu, i) => sub64(cpu, 0, i.imm >>> 0, signHi(i.imm), false),
  },
];

/** ALU rows with 64-bit operands (ADD…CMP, opcode bits 5:3 in this order). */
const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];

/**
 * The handler of an ALU row with 64-bit operands: the operation's own handler for its form, or
 * the generic one (ADC, SBB).
 */
export function makeAlu64(row: OpcodeRow): Handler {
  const slow = makeAlu64Generic(row);
  const f = FORMS[ALU_NAMES.indexOf(row.mnemonic)];
  if (f === null || f === undefined) return slow;
  switch (row.operands) {
    case 'Ev,Gv':
      return f.evGv(slow);
    case 'Gv,Ev':
      return f.gvEv;
    case 'eAX,Iz':
      return f.aI;
    case 'Ev,Iz':
    case 'Ev,IbS':
      return f.evI(slow);
    default:
      return slow;
  }
}
