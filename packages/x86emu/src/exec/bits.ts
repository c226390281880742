/** Bit instructions (SDM Vol. 2 BT/BTS/BTR/BTC, BSF/BSR, BSWAP, SETcc, CMOVcc). */
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag } from '../state.js';
import { linRead, readE, readG, rmwWrite, sext, writeE, writeG } from './operands.js';

/** BT family. With a register bit offset and a memory operand, the offset selects any bit relative to the address. */
export function makeBt(row: OpcodeRow): Handler {
  const op = ['BT', 'BTS', 'BTR', 'BTC'].indexOf(row.mnemonic);
  const imm = row.operands.endsWith('Ib');
  return (cpu: Cpu, i: Insn) => {
    const size = i.opSize;
    const bits = size * 8;
    let off: number;
    if (imm) off = i.imm & (bits - 1);
    else off = readG(cpu, i, size);
    let v: number;
    let bit: number;
    if (i.mod === 3) {
      bit = off & (bits - 1);
      v = cpu.getReg(i.rm, size, i.rex);
      setCf(cpu, (v >>> bit) & 1);
      if (op !== 0) cpu.setReg(i.rm, size, i.rex, modify(op, v, bit, size));
      return;
    }
    let ea = cpu.ea(i);
    if (!imm) {
      const so = sext(off, size);
      ea += Math.floor(so / bits) * size;
      ea = i.adSize === 2 ? ea & 0xffff : ea >>> 0;
      bit = ((so % bits) + bits) % bits;
    } else bit = off;
    const seg = i.memSeg;
    if (op === 0) {
      v = cpu.read(seg, ea, size);
      setCf(cpu, (v >>> bit) & 1);
      return;
    }
    const lin = cpu.segAddr(seg, ea, size, true);
    cpu.alignCheck(lin, size); // #AC before the page, as the CPU (see rmwLinear)
    cpu.probeWrite(lin, size);
    v = linRead(cpu, lin, size);
    setCf(cpu, (v >>> bit) & 1);
    rmwWrite(cpu, i, lin, size, v, modify(op, v, bit, size));
  };
}
function modify(op: number, v: number, bit: number, size: number): number {
  const m = 1 << bit;
  const r = op === 1 ? v | m : op === 2 ? v & ~m : v ^ m;
  return size === 4 ? r >>> 0 : r & 0xffff;
}
function setCf(cpu: Cpu, cf: number): void {
  cpu.materializeFlags();
  const s = cpu.state;
  s.rflags[0] = cf ? s.rflags[0] | Flag.CF : s.rflags[0] & ~Flag.CF;
}

/** BSF/BSR: ZF = 1 and destination unchanged when the source is 0. */
export function makeBsx(row: OpcodeRow): Handler {
  const reverse = row.mnemonic === 'BSR';
  return (cpu: Cpu, i: Insn) => {
    const size = i.opSize;
    const v = readE(cpu, i, size);
    cpu.materializeFlags();
    const s = cpu.state;
    if (v === 0) {
      s.rflags[0] |= Flag.ZF;
      return;
    }
    s.rflags[0] &= ~Flag.ZF;
    writeG(cpu, i, size, reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v));
  };
}

export const BSWAP: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  const v = g[i.rm];
  // With a 16-bit operand the result is undefined (SDM BSWAP); Intel parts give zero in the low word.
  if (i.opSize === 2) g[i.rm] = v & 0xffff0000;
  else cpu.setReg(i.rm, 4, 0, ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0);
};

export const SETCC: Handler = (cpu, i) => {
  writeE(cpu, i, 1, cpu.cond(i.op & 0xf) ? 1 : 0);
};

/** CMOVcc reads its source even when the condition is false (so memory faults happen). */
export const CMOVCC: Handler = (cpu, i) => {
  const v = readE(cpu, i, i.opSize);
  if (cpu.cond(i.op & 0xf)) writeG(cpu, i, i.opSize, v);
  // A 32-bit CMOVcc zero-extends its destination in 64-bit mode even when the condition is false
  // (SDM Vol. 2 CMOVcc); the upper half is undefined elsewhere, so clearing it is right there too.
  else if (i.opSize === 4) cpu.state.gprHigh[i.reg] = 0;
};
