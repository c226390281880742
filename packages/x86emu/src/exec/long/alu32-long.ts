/**
 * ADD, OR, AND, SUB, XOR, CMP with 32-bit operands in 64-bit mode, one handler per operation and
 * operand form (as `alu64-fast.ts` for REX.W): the legacy handlers serve every operand size and
 * mode, and in a process that runs both 32-bit and 64-bit code their size and address-size
 * switches stay generic. A register result zero-extends into the 64-bit register (SDM Vol. 1
 * 3.4.1.1); flags are recorded lazily exactly as the legacy `aluOp` records them. A memory
 * destination keeps the legacy handler.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import { LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SUB } from '../../cpu/lazy-flags.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { setFlags64 } from './alu64.js';
import { readM32 } from './mem-slot64.js';

/** The r/m dword: a register's low half, or memory through the 64-bit effective address. */
function readE32(cpu: Cpu, i: Insn): number {
  return i.mod === 3 ? cpu.state.gpr[i.rm] : readM32(cpu, i);
}

function add32(cpu: Cpu, d: number, s: number): void {
  const g = cpu.state.gpr;
  const v = g[d];
  const r = (v + s) >>> 0;
  g[d] = r;
  cpu.state.gprHigh[d] = 0;
  cpu.setLazy(LF_ADD, v, s, r, 4);
}
/** SUB (write) or CMP (no write). */
function sub32(cpu: Cpu, d: number, s: number, write: boolean): void {
  const g = cpu.state.gpr;
  const v = g[d];
  const r = (v - s) >>> 0;
  if (write) {
    g[d] = r;
    cpu.state.gprHigh[d] = 0;
  }
  cpu.setLazy(LF_SUB, v, s, r, 4);
}
function or32(cpu: Cpu, d: number, s: number): void {
  const g = cpu.state.gpr;
  const v = g[d];
  const r = (v | s) >>> 0;
  g[d] = r;
  cpu.state.gprHigh[d] = 0;
  cpu.setLazy(LF_LOGIC, v, s, r, 4);
}
function and32(cpu: Cpu, d: number, s: number): void {
  const g = cpu.state.gpr;
  const v = g[d];
  const r = (v & s) >>> 0;
  g[d] = r;
  cpu.state.gprHigh[d] = 0;
  cpu.setLazy(LF_LOGIC, v, s, r, 4);
}
function xor32(cpu: Cpu, d: number, s: number): void {
  const g = cpu.state.gpr;
  const v = g[d];
  const r = (v ^ s) >>> 0;
  g[d] = r;
  cpu.state.gprHigh[d] = 0;
  cpu.setLazy(LF_LOGIC, v, s, r, 4);
}

/** The four forms of one operation; `slow` is the legacy handler, used for a memory destination. */
interface Forms {
  /** Ev,Gv with a register destination. */
  evGv(slow: Handler): Handler;
  /** Gv,Ev: register destination, register or memory source. */
  gvEv: Handler;
  /** Ev,Iz / Ev,IbS (81, 83) with a register destination. */
  evI(slow: Handler): Handler;
  /** eAX,Iz. */
  aI: Handler;
}

const FORMS: (Forms | null)[] = [
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? add32(cpu, i.rm, cpu.state.gpr[i.reg]) : slow(cpu, i)),
    gvEv: (cpu, i) => add32(cpu, i.reg, readE32(cpu, i)),
    evI: (slow) => (cpu, i) => (i.mod === 3 ? add32(cpu, i.rm, i.imm >>> 0) : slow(cpu, i)),
    aI: (cpu, i) => add32(cpu, 0, i.imm >>> 0),
  },
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? or32(cpu, i.rm, cpu.state.gpr[i.reg]) : slow(cpu, i)),
    gvEv: (cpu, i) => or32(cpu, i.reg, readE32(cpu, i)),
    evI: (slow) => (cpu, i) => (i.mod === 3 ? or32(cpu, i.rm, i.imm >>> 0) : slow(cpu, i)),
    aI: (cpu, i) => or32(cpu, 0, i.imm >>> 0),
  },
  null, // ADC
  null, // SBB
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? and32(cpu, i.rm, cpu.state.gpr[i.reg]) : slow(cpu, i)),
    gvEv: (cpu, i) => and32(cpu, i.reg, readE32(cpu, i)),
    evI: (slow) => (cpu, i) => (i.mod === 3 ? and32(cpu, i.rm, i.imm >>> 0) : slow(cpu, i)),
    aI: (cpu, i) => and32(cpu, 0, i.imm >>> 0),
  },
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? sub32(cpu, i.rm, cpu.state.gpr[i.reg], true) : slow(cpu, i)),
    gvEv: (cpu, i) => sub32(cpu, i.reg, readE32(cpu, i), true),
    evI: (slow) => (cpu, i) => (i.mod === 3 ? sub32(cpu, i.rm, i.imm >>> 0, true) : slow(cpu, i)),
    aI: (cpu, i) => sub32(cpu, 0, i.imm >>> 0, true),
  },
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? xor32(cpu, i.rm, cpu.state.gpr[i.reg]) : slow(cpu, i)),
    gvEv: (cpu, i) => xor32(cpu, i.reg, readE32(cpu, i)),
    evI: (slow) => (cpu, i) => (i.mod === 3 ? xor32(cpu, i.rm, i.imm >>> 0) : slow(cpu, i)),
    aI: (cpu, i) => xor32(cpu, 0, i.imm >>> 0),
  },
  {
    evGv: (slow) => (cpu, i) => (i.mod === 3 ? sub32(cpu, i.rm, cpu.state.gpr[i.reg], false) : slow(cpu, i)),
    gvEv: (cpu, i) => sub32(cpu, i.reg, readE32(cpu, i), false),
    evI: (slow) => (cpu, i) => (i.mod === 3 ? sub32(cpu, i.rm, i.imm >>> 0, false) : slow(cpu, i)),
    aI: (cpu, i) => sub32(cpu, 0, i.imm >>> 0, false),
  },
];

/** INC/DEC r32 (FF /0, /1; 40H–4FH are REX prefixes in 64-bit mode): CF is kept (SDM Vol. 2 INC). */
function incDec32(cpu: Cpu, d: number, dec: boolean): void {
  const g = cpu.state.gpr;
  const v = g[d];
  const cf = cpu.getCF() ? 1 : 0;
  const r = (dec ? v - 1 : v + 1) >>> 0;
  g[d] = r;
  cpu.state.gprHigh[d] = 0;
  cpu.setLazy(dec ? LF_DEC : LF_INC, v, 1, r, 4);
  cpu.lfAux = cf;
}
const INC_EV =
  (legacy: Handler): Handler =>
  (cpu, i) =>
    i.mod === 3 ? incDec32(cpu, i.rm, false) : legacy(cpu, i);
const DEC_EV =
  (legacy: Handler): Handler =>
  (cpu, i) =>
    i.mod === 3 ? incDec32(cpu, i.rm, true) : legacy(cpu, i);

/**
 * IMUL r32, r/m32 (0F AF) and IMUL r32, r/m32, imm (69, 6B): the low dword of the signed product;
 * CF = OF = the product does not fit in 32 bits. The double product a·b (|a·b| ≤ 2^62) is rounded
 * but exact whenever it fits in 32 bits, so comparing it with the exact low dword decides. Flags
 * lazily as a 64-bit record of the sign-extended low dword: SF, ZF, PF as of the low dword, AF 0
 * (the legacy handler's values).
 */
function imul32(cpu: Cpu, d: number, a: number, b: number): void {
  const low = Math.imul(a, b);
  const of = a * b !== low ? 1 : 0;
  cpu.state.gpr[d] = low;
  cpu.state.gprHigh[d] = 0;
  setFlags64(cpu, low >>> 0, low < 0 ? 0xffffffff : 0, of, of, 0);
}
const IMUL2: Handler = (cpu, i) => imul32(cpu, i.reg, readE32(cpu, i) | 0, cpu.state.gpr[i.reg] | 0);
const IMUL3: Handler = (cpu, i) => imul32(cpu, i.reg, readE32(cpu, i) | 0, i.imm | 0);

const ALU_NAMES = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];

/**
 * The 64-bit-mode handler of an ALU row with 32-bit operands, or null where the legacy handler
 * serves (ADC, SBB, byte forms, rows that are not ALU rows); also INC/DEC r/m32 and IMUL r32. `legacy` is the row's legacy handler.
 */
export function makeAlu32Long(row: OpcodeRow, legacy: Handler): Handler | null {
  if (row.mnemonic === 'IMUL2') return IMUL2;
  if (row.mnemonic === 'IMUL3') return IMUL3;
  if (row.operands === 'Ev' && row.mnemonic === 'INC') return INC_EV(legacy);
  if (row.operands === 'Ev' && row.mnemonic === 'DEC') return DEC_EV(legacy);
  const f = FORMS[ALU_NAMES.indexOf(row.mnemonic)];
  if (f === null || f === undefined) return null;
  switch (row.operands) {
    case 'Ev,Gv':
      return f.evGv(legacy);
    case 'Gv,Ev':
      return f.gvEv;
    case 'eAX,Iz':
      return f.aI;
    case 'Ev,Iz':
    case 'Ev,IbS':
      return f.evI(legacy);
    default:
      return null;
  }
}
