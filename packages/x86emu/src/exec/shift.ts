/** Shifts and rotates (SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD). */
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import { LF_LOGIC } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag } from '../state.js';
import { linRead, linWrite, mask, readG, rmwLinear, sext } from './operands.js';

function setCfOf(cpu: Cpu, cf: number, of: number): void {
  cpu.materializeFlags();
  const s = cpu.state;
  s.rflags[0] = (s.rflags[0] & ~(Flag.CF | Flag.OF)) | (cf ? Flag.CF : 0) | (of ? Flag.OF : 0);
}
/** Result flags of a shift: SF/ZF/PF from the result, AF cleared, then CF and OF. */
function shiftFlags(cpu: Cpu, r: number, size: number, cf: number, of: number): void {
  cpu.setLazy(LF_LOGIC, 0, 0, r, size);
  setCfOf(cpu, cf, of);
}

function msbOf(bits: number, x: number): number {
  return (x >>> (bits - 1)) & 1;
}

/** One shift/rotate of `v` (masked, `size` bytes) by `count` (already masked to 5 bits, nonzero). */
export function shiftOp(cpu: Cpu, op: number, v: number, count: number, size: number): number {
  const bits = size * 8;
  let r: number;
  switch (op) {
    case 0: {
      // ROL: count mod width; CF = LSB of result; OF = MSB xor CF.
      const c = count % bits;
      r = c === 0 ? v : mask((v << c) | (v >>> (bits - c)), size);
      const cf = r & 1;
      setCfOf(cpu, cf, msbOf(bits, r) ^ cf);
      return r;
    }
    case 1: {
      const c = count % bits;
      r = c === 0 ? v : mask((v >>> c) | (v << (bits - c)), size);
      const cf = msbOf(bits, r);
      setCfOf(cpu, cf, msbOf(bits, r) ^ ((r >>> (bits - 2)) & 1));
      return r;
    }
    case 2: {
      // RCL through CF: rotate a (width+1)-bit value (SDM: count mod 9 / 17 for 8 / 16 bits).
      const c = size === 4 ? count : count % (bits + 1);
      let cf = cpu.getCF() ? 1 : 0;
      r = v;
      for (let k = 0; k < c; k++) {
        const out = msbOf(bits, r);
        r = mask((r << 1) | cf, size);
        cf = out;
      }
      setCfOf(cpu, cf, msbOf(bits, r) ^ cf);
      return r;
    }
    case 3: {
      const c = size === 4 ? count : count % (bits + 1);
      let cf = cpu.getCF() ? 1 : 0;
      r = v;
      const of = msbOf(bits, v) ^ cf;
      for (let k = 0; k < c; k++) {
        const out = r & 1;
        r = mask((r >>> 1) | (cf << (bits - 1)), size);
        cf = out;
      }
      setCfOf(cpu, cf, of);
      return r;
    }
    case 4:
    case 6: {
      // SHL/SAL: CF = last bit out; OF = MSB(result) xor CF.
      const cf = count > bits ? 0 : (v >>> (bits - count)) & 1;
      r = count >= 32 ? 0 : mask(v << count, size);
      shiftFlags(cpu, r, size, cf, msbOf(bits, r) ^ cf);
      return r;
    }
    case 5: {
      // SHR: OF = MSB of the original operand.
      const cf = count > bits ? 0 : (v >>> (count - 1)) & 1;
      r = count >= 32 ? 0 : mask(v >>> count, size);
      shiftFlags(cpu, r, size, cf, msbOf(bits, v));
      return r;
    }
    default: {
      // SAR: OF = 0.
      const sv = sext(v, size);
      const c = Math.min(count, 31);
      const cf = (sv >> (c - 1)) & 1;
      r = mask(sv >> c, size);
      shiftFlags(cpu, r, size, cf, 0);
      return r;
    }
  }
}

export function makeShift(row: OpcodeRow): Handler {
  const op = ['ROL', 'ROR', 'RCL', 'RCR', 'SHL', 'SHR', 'SAL', 'SAR'].indexOf(row.mnemonic);
  const byte = row.operands.startsWith('Eb');
  const src = row.operands.endsWith('CL') ? 2 : row.operands.endsWith('1') ? 1 : 0;
  return (cpu: Cpu, i: Insn) => {
    const size = byte ? 1 : i.opSize;
    const count = (src === 2 ? cpu.state.gpr[1] : src === 1 ? 1 : i.imm) & 0x1f;
    if (i.mod === 3) {
      if (count === 0) {
        // The destination is still written: a 32-bit one zero-extends in 64-bit mode (undefined
        // upper half elsewhere).
        if (size === 4) cpu.state.gprHigh[i.rm] = 0;
        return;
      }
      cpu.setReg(i.rm, size, i.rex, shiftOp(cpu, op, cpu.getReg(i.rm, size, i.rex), count, size));
    } else {
      const lin = rmwLinear(cpu, i, size);
      const v = linRead(cpu, lin, size);
      if (count === 0) return;
      linWrite(cpu, lin, size, shiftOp(cpu, op, v, count, size));
    }
  };
}

/** SHLD/SHRD: double-precision shifts; count mod 32, nothing happens for 0. */
export function makeShxd(row: OpcodeRow): Handler {
  const left = row.mnemonic === 'SHLD';
  const byCl = row.operands.endsWith('CL');
  return (cpu: Cpu, i: Insn) => {
    const size = i.opSize;
    const count = (byCl ? cpu.state.gpr[1] : i.imm) & 0x1f;
    const src = readG(cpu, i, size);
    let lin = -1;
    let dst: number;
    if (i.mod === 3) dst = cpu.getReg(i.rm, size, i.rex);
    else {
      lin = rmwLinear(cpu, i, size);
      dst = linRead(cpu, lin, size);
    }
    if (count === 0) {
      if (lin < 0 && size === 4) cpu.state.gprHigh[i.rm] = 0;
      return;
    }
    let r: number;
    let cf: number;
    if (size === 4) {
      if (left) {
        r = ((dst << count) | (src >>> (32 - count))) >>> 0;
        cf = (dst >>> (32 - count)) & 1;
      } else {
        r = ((dst >>> count) | (src << (32 - count))) >>> 0;
        cf = (dst >>> (count - 1)) & 1;
      }
    } else {
      // 16-bit: shift the 32-bit concatenation. A count above 16 is undefined in the SDM; the
      // CPU (long64 difftest, AMD) shifts DST:SRC:SRC left / SRC:SRC:DST right as 48 bits: past
      // 16, SRC's own bits come in again after it.
      if (left) {
        const v = ((dst << 16) | src) >>> 0;
        r =
          count > 16
            ? ((((src << 16) | src) << (count - 16)) >>> 16) & 0xffff
            : ((v << count) >>> 16) & 0xffff;
        cf = (v >>> (32 - count)) & 1;
      } else {
        const v = ((src << 16) | dst) >>> 0;
        r = count > 16 ? ((((src << 16) | src) >>> 0) >>> (count - 16)) & 0xffff : (v >>> count) & 0xffff;
        cf = (v >>> (count - 1)) & 1;
      }
    }
    const sb = size === 4 ? 0x80000000 : 0x8000;
    shiftFlags(cpu, r, size, cf, (r ^ dst) & sb ? 1 : 0);
    if (lin < 0) cpu.setReg(i.rm, size, i.rex, r);
    else linWrite(cpu, lin, size, r);
  };
}
