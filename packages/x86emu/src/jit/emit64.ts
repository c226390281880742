/**
 * JavaScript source for the 64-bit operand forms (REX.W) the block compiler specialises in
 * 64-bit mode: each register a pair of locals `rg<n>`/`rh<n>` (low/high halves, unsigned 32-bit
 * numbers: no BigInt), memory through mem64.ts, and the arithmetic flags as the interpreter's
 * LF_ARITH64 record (exec/long/alu64.ts setFlags64) in the block's locals: `fr`/`frh` the result,
 * `fa` CF (bit 0) and OF (bit 1), `fd` AF in bit 4, `fs` = `fr`. Each emitter mirrors one
 * interpreter handler (exec/long/alu64-fast.ts, alu64.ts, move64.ts) and returns null for a form
 * it leaves to it. Operands are read before anything is written (precise exceptions).
 */
import { LF_ARITH64 } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import type { EmitCtx, Emitted } from './emit.js';
import { cfBit, condExpr } from './flags.js';
import { memOk64, memRead8, memRead64m, memWrite64m } from './mem64.js';
import { ALU_OPS } from './rows.js';
import { emitShift64 } from './shift64.js';
import { emitCall64, emitRet64, emitStack64 } from './stack64.js';

const TWO32 = 4294967296;

/** Writes a 64-bit register (both halves) and marks it for the stores at exits. */
export function setReg64(r: number, lo: string, hi: string): string {
  return `rg${r} = ${lo}; rh${r} = ${hi}; dm |= ${1 << r};`;
}

/** Records an LF_ARITH64 result: halves `rl`/`rH`, CF and OF bits (0/1 expressions), AF bit. */
export function arith64(rl: string, rH: string, cf: string, of: string, af: string): string {
  return `fo = ${LF_ARITH64}; fr = ${rl}; frh = ${rH}; fs = ${rl}; fa = ${cf} | (${of} << 1); fd = ${af} << 4; fp = 1;`;
}

/** [statements, low, high] of the r/m operand (register halves, or 8 bytes of memory into `m`). */
function loadE64(i: Insn, ctx: EmitCtx): [string, string, string] {
  if (i.mod === 3) return ['', `rg${i.rm}`, `rh${i.rm}`];
  return [memRead8(i, 'm', ctx.next, ctx.hi), 'ml', 'mh'];
}

/** The high half of a sign-extended 32-bit immediate. */
function immHi(imm: number): number {
  return imm < 0 ? 0xffffffff : 0;
}

/** The operation (ADD, OR, AND, SUB, XOR, CMP, TEST) on dl:dh and sl:sh into rl:rH, with its flags. */
function alu(op: number): string {
  if (op === 0)
    return `const lo = dl + sl; const hi = dh + sh + (lo > 4294967295 ? 1 : 0); const rl = lo >>> 0; const rH = hi >>> 0;
${arith64('rl', 'rH', '(hi > 4294967295 ? 1 : 0)', '(((dh ^ rH) & (sh ^ rH)) >>> 31)', '(((dl ^ sl ^ rl) >>> 4) & 1)')}`;
  if (op === 5 || op === 7)
    return `const lo = dl - sl; const hi = dh - sh - (lo < 0 ? 1 : 0); const rl = lo >>> 0; const rH = hi >>> 0;
${arith64('rl', 'rH', '(hi < 0 ? 1 : 0)', '(((dh ^ sh) & (dh ^ rH)) >>> 31)', '(((dl ^ sl ^ rl) >>> 4) & 1)')}`;
  const o = op === 1 ? '|' : op === 6 ? '^' : '&';
  return `const rl = (dl ${o} sl) >>> 0; const rH = (dh ${o} sh) >>> 0; ${arith64('rl', 'rH', '0', '0', '0')}`;
}

/**
 * Source for a 64-bit-operand instruction in 64-bit mode, or null (its handler runs it).
 * Sets `ctx.pend` to LF_ARITH64 after an ALU operation.
 */
export function emitInsn64(i: Insn, row: OpcodeRow, ctx: EmitCtx): Emitted | null {
  const m = row.mnemonic;
  const ops = row.operands;
  const mem = i.hasModrm && i.mod !== 3;
  if (i.lock || (mem && !memOk64(i))) return null;
  if (m === 'PUSH' || m === 'POP') return emitStack64(i, m, ops, ctx.next, ctx.hi);
  if (m === 'SHL' || m === 'SAL' || m === 'SHR' || m === 'SAR') {
    const e = emitShift64(i, m, ops);
    if (e !== null) ctx.pend = LF_ARITH64;
    return e;
  }
  // NOT Ev only: F6 /2 (NOT Eb) stays a byte operation under REX.W (SDM Vol. 2 2.2.1.2).
  if (m === 'NOT' && ops === 'Ev' && !mem)
    return { code: setReg64(i.rm, `(~rg${i.rm}) >>> 0`, `(~rh${i.rm}) >>> 0`), memory: false, branch: false };
  if (m === 'CMOVCC') {
    // The source is read (and may fault) whatever the condition (exec/long/move64.ts CMOVCC64).
    const [pre, l, h] = loadE64(i, ctx);
    const code = `{ ${pre} const vl = ${l}; const vh = ${h}; if (${condExpr(i.op & 0xf, ctx.pend)}) { ${setReg64(i.reg, 'vl', 'vh')} } }`;
    return { code, memory: mem, branch: false };
  }
  if (m === 'CALL' && ops === 'Jz') return emitCall64(i, ctx);
  if (m === 'RET') return emitRet64(i, ops, ctx);
  let op = ALU_OPS.indexOf(m);
  if (m === 'TEST') op = 8;
  if (op >= 0 && op !== 2 && op !== 3) {
    const write = op !== 7 && op !== 8;
    let pre = '';
    let d: [string, string];
    let s: [string, string];
    let out = -1;
    if (ops === 'Ev,Gv') {
      // A memory destination is read-modify-write (the handler probes the write first).
      if (mem && write) return null;
      const [p, l, h] = loadE64(i, ctx);
      pre = p;
      d = [l, h];
      s = [`rg${i.reg}`, `rh${i.reg}`];
      out = write ? i.rm : -1;
    } else if (ops === 'Gv,Ev' && op !== 8) {
      const [p, l, h] = loadE64(i, ctx);
      pre = p;
      d = [`rg${i.reg}`, `rh${i.reg}`];
      s = [l, h];
      out = write ? i.reg : -1;
    } else if (ops === 'eAX,Iz') {
      d = ['rg0', 'rh0'];
      s = [`${i.imm >>> 0}`, `${immHi(i.imm)}`];
      out = write ? 0 : -1;
    } else if (ops === 'Ev,Iz' || ops === 'Ev,IbS') {
      if (mem && write) return null;
      const [p, l, h] = loadE64(i, ctx);
      pre = p;
      d = [l, h];
      s = [`${i.imm >>> 0}`, `${immHi(i.imm)}`];
      out = write ? i.rm : -1;
    } else return null;
    const code = `{ ${pre} const dl = ${d[0]}; const dh = ${d[1]}; const sl = ${s[0]}; const sh = ${s[1]};
${alu(op === 8 ? 4 : op)}${out >= 0 ? ` ${setReg64(out, 'rl', 'rH')}` : ''} }`;
    ctx.pend = LF_ARITH64;
    return { code, memory: mem, branch: false };
  }
  if ((m === 'INC' || m === 'DEC') && ops === 'Ev' && !mem) {
    // INC/DEC keep CF (SDM Vol. 2 INC, DEC): the record's CF bit is the CF before.
    const cf = cfBit(ctx.pend);
    const r = i.rm;
    const body =
      m === 'INC'
        ? `const lo = dl + 1; const hi = dh + (lo > 4294967295 ? 1 : 0); const rl = lo >>> 0; const rH = hi >>> 0;
${arith64('rl', 'rH', 'c', '(((dh ^ rH) & rH) >>> 31)', '(((dl ^ 1 ^ rl) >>> 4) & 1)')}`
        : `const lo = dl - 1; const hi = dh - (lo < 0 ? 1 : 0); const rl = lo >>> 0; const rH = hi >>> 0;
${arith64('rl', 'rH', 'c', '((dh & (dh ^ rH)) >>> 31)', '(((dl ^ 1 ^ rl) >>> 4) & 1)')}`;
    const code = `{ const c = ${cf}; const dl = rg${r}; const dh = rh${r}; ${body} ${setReg64(r, 'rl', 'rH')} }`;
    ctx.pend = LF_ARITH64;
    return { code, memory: false, branch: false };
  }
  if (m === 'MOV') {
    if (ops === 'Ev,Gv')
      return mem
        ? {
            code: memWrite64m(i, 8, `rg${i.reg}`, `rh${i.reg}`, ctx.next, ctx.hi),
            memory: true,
            branch: false,
          }
        : { code: setReg64(i.rm, `rg${i.reg}`, `rh${i.reg}`), memory: false, branch: false };
    if (ops === 'Gv,Ev') {
      const [pre, l, h] = loadE64(i, ctx);
      return { code: `{ ${pre} ${setReg64(i.reg, l, h)} }`, memory: mem, branch: false };
    }
    if (ops === 'Zv,Iv')
      return { code: setReg64(i.rm, `${i.imm >>> 0}`, `${i.imm2 >>> 0}`), memory: false, branch: false };
    if (ops === 'Ev,Iz') {
      const lo = `${i.imm >>> 0}`;
      const hi = `${immHi(i.imm)}`;
      return mem
        ? { code: memWrite64m(i, 8, lo, hi, ctx.next, ctx.hi), memory: true, branch: false }
        : { code: setReg64(i.rm, lo, hi), memory: false, branch: false };
    }
    return null;
  }
  if (m === 'MOVSXD') {
    // MOVSXD r64, r/m32 (REX.W 63): the dword sign-extended (SDM Vol. 2 MOVSX/MOVSXD).
    const pre = mem ? memRead64m(i, 4, 'm', ctx.next, ctx.hi) : '';
    const v = mem ? 'm' : `rg${i.rm}`;
    return {
      code: `{ ${pre} const v = ${v}; ${setReg64(i.reg, 'v', '((v | 0) < 0 ? 4294967295 : 0)')} }`,
      memory: mem,
      branch: false,
    };
  }
  if (m === 'LEA' && mem) {
    // Every bit of the 64-bit address (Cpu.eaHalves): LEA does not check canonicality.
    if (i.ripRel) {
      const a = (ctx.hi | 0) * TWO32 + ctx.next + i.disp;
      const hi = Math.floor(a / TWO32);
      return { code: setReg64(i.reg, `${a - hi * TWO32}`, `${hi >>> 0}`), memory: false, branch: false };
    }
    let lo = `${i.disp >>> 0}`;
    let hi = `${i.disp < 0 ? -1 : 0}`;
    if (i.base >= 0) {
      lo += ` + rg${i.base}`;
      hi += ` + rh${i.base}`;
    }
    if (i.index >= 0) {
      lo += ` + rg${i.index} * ${1 << i.scale}`;
      hi += ` + (rh${i.index} << ${i.scale})`;
    }
    const code = `{ const lo = ${lo}; const c = Math.floor(lo / ${TWO32}); ${setReg64(i.reg, `(lo - c * ${TWO32})`, `((${hi}) + c) >>> 0`)} }`;
    return { code, memory: false, branch: false };
  }
  return null;
}
