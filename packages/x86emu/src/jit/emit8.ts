/**
 * JavaScript source for the byte-operand forms the block compiler specialises (exec/alu.ts and
 * exec/move.ts with size 1): ADD/OR/AND/SUB/XOR/CMP and TEST on `Eb,Gb`, `Gb,Eb`, `AL,Ib`,
 * `Eb,Ib`, MOV `Eb,Gb`, `Gb,Eb`, `Eb,Ib`, `Zb,Ib`, and SETcc. Kernel code tests and compares bytes all
 * the time (`test al, al`, flag bytes in structures, `cmp byte [rdi], 0`): in Debian's boot they
 * were a fifth of the instructions compiled blocks ran through the interpreter's handlers.
 *
 * The flags are the interpreter's lazy record with `lfSize` 1, held in the block's locals with
 * the kind tagged `BYTE` (flags.ts). A byte register write keeps the other 56 bits (SDM Vol. 1
 * 3.4.1.1: only 32-bit writes zero-extend): it is compiled in 64-bit mode only, where the block's
 * locals hold both halves; outside it a block stores a written register with its upper half
 * cleared (right after a 32-bit write), which the interpreter's byte write does not do, so those
 * forms stay with the handler.
 * A read-modify-write memory destination stays with the handler too (it probes the write first).
 */
import { LF_ADD, LF_LOGIC, LF_SUB } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { type EmitCtx, type Emitted, memOk, memRead, memWrite, reg8 } from './emit.js';
import { BYTE, condExpr, lazy } from './flags.js';
import { ALU_OPS } from './rows.js';

/** The byte operand forms emitByte knows; emit.ts sends these rows here. */
export const BYTE_FORMS: ReadonlySet<string> = new Set(['Eb,Gb', 'Gb,Eb', 'AL,Ib', 'Eb,Ib', 'Zb,Ib', 'Eb']);

/**
 * A byte register write as `Cpu.setReg(r, 1, v, rex)` does it: AL…BL, AH…BH without REX, SPL…DIL
 * and R8B…R15B with one (SDM Vol. 1 3.7.2.1); the rest of the register is kept.
 */
function setReg8(r: number, rex: number, v: string): string {
  if (r < 4 || rex !== 0) return `rg${r} = ((rg${r} & 0xffffff00) | ${v}) >>> 0; dm |= ${1 << r};`;
  const q = r - 4;
  return `rg${q} = ((rg${q} & 0xffff00ff) | (${v} << 8)) >>> 0; dm |= ${1 << q};`;
}

/** Source for byte-operand instruction `i`, updating `ctx.pend`; null: its handler runs it. */
export function emitByte(i: Insn, row: OpcodeRow, ctx: EmitCtx): Emitted | null {
  const m = row.mnemonic;
  const ops = row.operands;
  const mem = i.hasModrm && i.mod !== 3;
  if (i.lock || (mem && !memOk(i, ctx.long))) return null;
  // The r/m byte: a register, or memory read into `m`.
  const rmRead = (): [string, string] => (mem ? [memRead(i, 1, 'm'), 'm'] : ['', reg8(i.rm, i.rex)]);
  const imm = `${i.imm & 0xff}`;
  if (m === 'SETCC') {
    // SETcc r/m8: 1 or 0 by the condition (exec/bits.ts SETCC), the flags read from the locals.
    const v = `(${condExpr(i.op & 0xf, ctx.pend)} ? 1 : 0)`;
    if (mem) return { code: memWrite(i, 1, v), memory: true, branch: false };
    return ctx.long ? { code: setReg8(i.rm, i.rex, v), memory: false, branch: false } : null;
  }
  if (ops === 'Eb') return null;
  if (m === 'MOV') {
    if (ops === 'Eb,Gb' || ops === 'Eb,Ib') {
      const v = ops === 'Eb,Gb' ? reg8(i.reg, i.rex) : imm;
      if (mem) return { code: memWrite(i, 1, v), memory: true, branch: false };
      return ctx.long ? { code: setReg8(i.rm, i.rex, v), memory: false, branch: false } : null;
    }
    if (!ctx.long) return null;
    if (ops === 'Gb,Eb') {
      const [pre, v] = rmRead();
      return { code: `{ ${pre} const v = ${v}; ${setReg8(i.reg, i.rex, 'v')} }`, memory: mem, branch: false };
    }
    if (ops === 'Zb,Ib') return { code: setReg8(i.rm, i.rex, imm), memory: false, branch: false };
    return null;
  }
  const op = m === 'TEST' ? 4 : ALU_OPS.indexOf(m);
  // ADC/SBB read CF and have kinds of their own (LF_ADC/LF_SBB): the handler.
  if (op < 0 || op === 2 || op === 3 || ops === 'Zb,Ib') return null;
  const write = m !== 'TEST' && op !== 7;
  let pre = '';
  let d: string;
  let s: string;
  let out: 'rm' | 'reg' | 'al' | null = null;
  if (ops === 'Eb,Gb' || ops === 'Eb,Ib') {
    if (mem && write) return null;
    [pre, d] = rmRead();
    s = ops === 'Eb,Gb' ? reg8(i.reg, i.rex) : imm;
    if (write) out = 'rm';
  } else if (ops === 'Gb,Eb') {
    [pre, s] = rmRead();
    d = reg8(i.reg, i.rex);
    if (write) out = 'reg';
  } else {
    d = '(rg0 & 0xff)';
    s = imm;
    if (write) out = 'al';
  }
  if (out !== null && !ctx.long) return null;
  const expr =
    op === 0
      ? '(d + x) & 0xff'
      : op === 1
        ? 'd | x'
        : op === 4
          ? 'd & x'
          : op === 6
            ? 'd ^ x'
            : '(d - x) & 0xff';
  const lf = op === 0 ? LF_ADD : op === 5 || op === 7 ? LF_SUB : LF_LOGIC;
  const store =
    out === 'rm'
      ? setReg8(i.rm, i.rex, 'r')
      : out === 'reg'
        ? setReg8(i.reg, i.rex, 'r')
        : out === 'al'
          ? setReg8(0, 0, 'r')
          : '';
  const code = `{ ${pre} const d = ${d}; const x = ${s}; const r = ${expr}; ${lazy(lf | BYTE, 'd', 'x', 'r')} ${store} }`;
  ctx.pend = lf | BYTE;
  return { code, memory: mem, branch: false };
}
