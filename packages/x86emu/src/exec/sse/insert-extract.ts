/**
 * Element insert/extract between XMM/MMX registers and GPRs or memory (SDM Vol. 2 PINSRW,
 * PEXTRW, PINSRB/D/Q, PEXTRB/W/D/Q): the element index is the immediate modulo the element count.
 * A register destination is a 32-bit (64-bit with REX.W for the Q forms) GPR, zero-extended.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { checkMmx, checkSse } from './check.js';
import { MMD, xmmLanes } from './lanes.js';
import { mmxEnter, mmxRead, mmxWrite } from './operands.js';

/** Reads `size` (1, 2, 4) bytes of the Ey/Ew/Eb operand: the low bits of a GPR, or memory. */
function readSmall(cpu: Cpu, i: Insn, size: number): number {
  if (i.mod === 3) {
    const g = cpu.state.gpr[i.rm];
    return size === 4 ? g : size === 2 ? g & 0xffff : g & 0xff;
  }
  return cpu.read(i.memSeg, cpu.ea(i), size);
}

/** PINSRW (0F C4, MMX and XMM), PINSRB/PINSRD/PINSRQ (66 0F 3A 20/22). */
export function makePinsr(row: OpcodeRow): Handler {
  const m = row.mnemonic;
  if (m === 'PINSRW' && row.operands.startsWith('P'))
    return (cpu, i) => {
      checkMmx(cpu);
      const v = readSmall(cpu, i, 2);
      mmxRead(cpu, i.reg, MMD, 0);
      MMD.u16[i.imm & 3] = v;
      mmxWrite(cpu, i.reg, MMD, 0);
      mmxEnter(cpu);
    };
  if (m === 'PINSRW')
    return (cpu, i) => {
      checkSse(cpu);
      const v = readSmall(cpu, i, 2);
      xmmLanes(cpu).u16[i.reg * 8 + (i.imm & 7)] = v;
    };
  if (m === 'PINSRB')
    return (cpu, i) => {
      checkSse(cpu);
      const v = readSmall(cpu, i, 1);
      xmmLanes(cpu).u8[i.reg * 16 + (i.imm & 15)] = v;
    };
  // PINSRD, or PINSRQ with REX.W.
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu).u32;
    if (i.rex & 8) {
      let lo: number;
      let hi: number;
      if (i.mod === 3) {
        lo = cpu.state.gpr[i.rm];
        hi = cpu.state.gprHigh[i.rm];
      } else {
        cpu.read64(i.memSeg, cpu.ea(i));
        lo = cpu.lo64;
        hi = cpu.hi64;
      }
      const o = i.reg * 4 + (i.imm & 1) * 2;
      X[o] = lo;
      X[o + 1] = hi;
      return;
    }
    X[i.reg * 4 + (i.imm & 3)] = readSmall(cpu, i, 4);
  };
}

/** Writes an extracted element: to a GPR zero-extended (32-bit write), or `size` bytes to memory. */
function writeSmall(cpu: Cpu, i: Insn, size: number, v: number): void {
  if (i.mod === 3) cpu.setReg(i.rm, 4, 0, v);
  else cpu.write(i.memSeg, cpu.ea(i), size, v);
}

/** PEXTRW (0F C5: Gd,Nq/Udq — the GPR is ModRM.reg) and PEXTRB/W/D/Q (66 0F 3A 14–16: r/m). */
export function makePextr(row: OpcodeRow): Handler {
  const m = row.mnemonic;
  if (m === 'PEXTRW' && row.operands.includes('N'))
    return (cpu, i) => {
      checkMmx(cpu);
      mmxRead(cpu, i.rm, MMD, 0);
      cpu.setReg(i.reg, 4, 0, MMD.u16[i.imm & 3]);
      mmxEnter(cpu);
    };
  if (m === 'PEXTRW' && row.operands.startsWith('G'))
    return (cpu, i) => {
      checkSse(cpu);
      cpu.setReg(i.reg, 4, 0, xmmLanes(cpu).u16[i.rm * 8 + (i.imm & 7)]);
    };
  if (m === 'PEXTRW')
    return (cpu, i) => {
      checkSse(cpu);
      writeSmall(cpu, i, 2, xmmLanes(cpu).u16[i.reg * 8 + (i.imm & 7)]);
    };
  if (m === 'PEXTRB')
    return (cpu, i) => {
      checkSse(cpu);
      writeSmall(cpu, i, 1, xmmLanes(cpu).u8[i.reg * 16 + (i.imm & 15)]);
    };
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu).u32;
    if (i.rex & 8) {
      const o = i.reg * 4 + (i.imm & 1) * 2;
      if (i.mod === 3) {
        cpu.state.gpr[i.rm] = X[o];
        cpu.state.gprHigh[i.rm] = X[o + 1];
      } else cpu.write64(i.memSeg, cpu.ea(i), X[o], X[o + 1]);
      return;
    }
    writeSmall(cpu, i, 4, X[i.reg * 4 + (i.imm & 3)]);
  };
}
