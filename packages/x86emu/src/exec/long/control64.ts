/**
 * Near control transfers in 64-bit mode (SDM Vol. 1 6.3.7): RIP is 64 bits, the operand size of
 * near branches is 64 (`f64` rows), and a target that is not canonical is #GP(0) at the branch,
 * before anything (the return address push included) is changed.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { readE64, TWO32 } from './operands64.js';
import { addRsp, peek64, push64 } from './stack64.js';

/**
 * Target halves of the last `relTarget` (low, high). A typed array, not two module variables:
 * a variable holding a number at or above 2^31 (every kernel address) is a heap number, and each
 * branch allocated two.
 */
const TARGET = new Uint32Array(2);

/** RIP (of the next instruction) + rel, sign-extended, into TARGET. */
function relTarget(cpu: Cpu, rel: number): void {
  const r = cpu.state.rip;
  const lo = r[0] + rel;
  // Nearly every branch stays within its 4 GiB: no carry or borrow, no division.
  const carry = lo >= 0 && lo < TWO32 ? 0 : Math.floor(lo / TWO32);
  TARGET[0] = lo - carry * TWO32;
  TARGET[1] = r[1] + carry;
}

/** RIP = TARGET, #GP(0) first unless it is canonical (bits 63:47 equal). */
function jumpToTarget(cpu: Cpu): void {
  const h = TARGET[1] | 0;
  if (h >= 0x8000 || h < -0x8000) cpu.gp0();
  cpu.state.rip[0] = TARGET[0];
  cpu.state.rip[1] = h;
}

/** #GP(0) unless hi:lo is canonical (bits 63:47 equal). */
export function checkCanonical(cpu: Cpu, hi: number): void {
  const h = hi | 0;
  if (h >= 0x8000 || h < -0x8000) cpu.gp0();
}

function jump(cpu: Cpu, lo: number, hi: number): void {
  checkCanonical(cpu, hi);
  cpu.state.rip[0] = lo;
  cpu.state.rip[1] = hi;
}

export const JCC64: Handler = (cpu, i) => {
  if (!cpu.cond(i.op & 0xf)) return;
  relTarget(cpu, i.imm);
  jumpToTarget(cpu);
};
export const JMP64: Handler = (cpu, i) => {
  relTarget(cpu, i.imm);
  jumpToTarget(cpu);
};
export const JMP_IND64: Handler = (cpu, i) => {
  readE64(cpu, i);
  jump(cpu, cpu.lo64, cpu.hi64);
};
export const CALL64: Handler = (cpu, i) => {
  relTarget(cpu, i.imm);
  const lo = TARGET[0] | 0;
  const hi = TARGET[1] | 0;
  if (hi >= 0x8000 || hi < -0x8000) cpu.gp0();
  push64(cpu, cpu.state.rip[0] | 0, cpu.state.rip[1] | 0, 8);
  cpu.state.rip[0] = lo;
  cpu.state.rip[1] = hi;
};
export const CALL_IND64: Handler = (cpu, i) => {
  readE64(cpu, i);
  const lo = cpu.lo64;
  const hi = cpu.hi64;
  checkCanonical(cpu, hi);
  push64(cpu, cpu.state.rip[0] | 0, cpu.state.rip[1] | 0, 8);
  jump(cpu, lo, hi);
};
export function makeRet64(row: OpcodeRow): Handler {
  const imm = row.operands === 'Iw';
  return (cpu, i) => {
    peek64(cpu, 0, 8);
    checkCanonical(cpu, cpu.hi64);
    addRsp(cpu, 8 + (imm ? i.imm : 0));
    cpu.state.rip[0] = cpu.lo64;
    cpu.state.rip[1] = cpu.hi64;
  };
}

/** LOOP/JCXZ count with RCX (ECX with 67H; the 32-bit write zero-extends). */
function decCounter(cpu: Cpu, i: Insn): boolean {
  const s = cpu.state;
  if (i.adSize === 4) {
    s.gpr[1] = s.gpr[1] - 1;
    s.gprHigh[1] = 0;
    return s.gpr[1] !== 0;
  }
  const lo = s.gpr[1];
  s.gpr[1] = lo - 1;
  if (lo === 0) s.gprHigh[1] = s.gprHigh[1] - 1;
  return (s.gpr[1] | s.gprHigh[1]) !== 0;
}
function branch(cpu: Cpu, i: Insn): void {
  relTarget(cpu, i.imm);
  jumpToTarget(cpu);
}
export const LOOP64: Handler = (cpu, i) => {
  if (decCounter(cpu, i)) branch(cpu, i);
};
export const LOOPE64: Handler = (cpu, i) => {
  if (decCounter(cpu, i) && cpu.getZF()) branch(cpu, i);
};
export const LOOPNE64: Handler = (cpu, i) => {
  if (decCounter(cpu, i) && !cpu.getZF()) branch(cpu, i);
};
export const JCXZ64: Handler = (cpu, i) => {
  const s = cpu.state;
  const zero = i.adSize === 4 ? s.gpr[1] === 0 : (s.gpr[1] | s.gprHigh[1]) === 0;
  if (zero) branch(cpu, i);
};
