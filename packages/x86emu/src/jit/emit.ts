/**
 * JavaScript source for the instructions the block compiler specialises: 32-bit operands,
 * registers in the block's locals `rg0`…`rg15` (written only after every operand is read, so a
 * fault finds them as the interpreter leaves them), memory through `Cpu.read`/`Cpu.write`'s TLB
 * fast path inlined (their segment checks and slow path otherwise),
 * and the arithmetic flags in the block's locals (`fo fd fs fr fa`, the interpreter's lazy-flag
 * fields) until something needs them in the CPU. Each emitter mirrors one interpreter handler
 * (exec/alu.ts, exec/move.ts, exec/control.ts) and returns null for a form it leaves to it.
 */
import { SF_FLAT, SF_LONG, SF_R, SF_W, TLB_MASK } from '../cpu/consts.js';
import { LF_ADD, LF_DEC, LF_INC, LF_LOGIC, LF_SUB } from '../cpu/lazy-flags.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag } from '../state.js';
import { emitSse } from './emit-sse.js';
import { BYTE_FORMS, emitByte } from './emit8.js';
import { emitInsn64 } from './emit64.js';
import { cfBit, condExpr, FLUSH_DYN, flushFlags, lazy, PEND_DYN, PEND_MAT } from './flags.js';
import { memOk64, memRead64m, memWrite64m, UNWIND } from './mem64.js';
import { ALU_OPS } from './rows.js';

export { condExpr, flushFlags } from './flags.js';

/** What the emitter knows at one point of the block. */
export interface EmitCtx {
  /** Lazy-flag operation held in the locals (LF_*), or 0: the flags are in the CPU. */
  pend: number;
  /** EIP of the instruction and of the next one. */
  eip: number;
  next: number;
  /** The block's length (instructions), counted when it jumps to another block of its function. */
  length: number;
  /** Blocks of the same function by their EIP (same RIP[63:32]): [index, length]. */
  region: Map<number, [number, number]>;
  /** Set by the emitter when the block jumps to a block of its function. */
  loops: boolean;
  /** Statements that make the CPU's registers current, for a branch's ways out of the block. */
  sync: string;
  /** 64-bit mode, and RIP[63:32] of the whole block there. */
  long: boolean;
  hi: number;
  /** The EIP at offset 0 of the block's page (EIP minus page offset): which targets lie in it. */
  page0: number;
  /** The flags this instruction writes are overwritten before anything can see them (flag-liveness.ts). */
  flagsDead: boolean;
}

/** The emitted code of one instruction, and whether it touched memory (the block then checks for exits). */
export interface Emitted {
  code: string;
  memory: boolean;
  /** The instruction set RIP and ended the block (a branch). */
  branch: boolean;
}

/**
 * SHL/SAL/SHR/SAR r32 by a constant or by CL, the count masked to 5 bits (SDM Vol. 2
 * SAL/SAR/SHL/SHR). Flags as exec/shift.ts leaves them, held as PEND_MAT: SF/ZF/PF from the
 * result, AF clear, CF the last bit out, OF (defined for 1, x86emu's choice otherwise)
 * MSB(result) ^ CF for SHL, MSB(operand) for SHR, 0 for SAR. A count of 0 changes no flag but
 * still writes the register (its upper half cleared, as the handler does): a constant 0 stays with
 * the handler; for CL, a count of 0 leaves the flags where they are (the CPU, or the locals with
 * `fp` set), any other count replaces them in the locals: `fp` and `fo` tell (PEND_DYN).
 */
function emitShift32(i: Insn, m: string, ops: string, ctx: EmitCtx): Emitted | null {
  const calc = (c: string, c1: string, c32: string): string =>
    m === 'SHR'
      ? `const r = v >>> ${c}; const cf = (v >>> ${c1}) & 1; const of = v >>> 31;`
      : m === 'SAR'
        ? `const r = ((v | 0) >> ${c}) >>> 0; const cf = ((v | 0) >> ${c1}) & 1; const of = 0;`
        : `const r = (v << ${c}) >>> 0; const cf = (v >>> ${c32}) & 1; const of = (r >>> 31) ^ cf;`;
  const rec = `fo = ${PEND_MAT}; fr = r; fa = cf; fs = of; fp = 1; ${setReg32(i.rm, 'r')}`;
  if (ops === 'Ev,CL') {
    ctx.pend = PEND_DYN;
    return {
      code: `{ const v = rg${i.rm}; const c = rg1 & 31; if (c === 0) { ${setReg32(i.rm, 'v')} } else { ${calc('c', '(c - 1)', '(32 - c)')} ${rec} } }`,
      memory: false,
      branch: false,
    };
  }
  const c = (ops === 'Ev,1' ? 1 : i.imm) & 0x1f;
  if (c === 0) return null;
  ctx.pend = PEND_MAT;
  return {
    code: `{ const v = rg${i.rm}; ${calc(`${c}`, `${c - 1}`, `${32 - c}`)} ${rec} }`,
    memory: false,
    branch: false,
  };
}

/**
 * ROL/ROR r32 by a constant (C1 /0 /1 ib, D1 /0 /1), the count masked to 5 bits: CF is the bit
 * rotated into the LSB (ROL) or the MSB (ROR), OF (defined for 1, x86emu's choice otherwise, as
 * exec/shift.ts) MSB(result) ^ CF for ROL and the two top bits' XOR for ROR; SF, ZF, AF, PF are
 * kept (SDM Vol. 2 RCL/RCR/ROL/ROR). Keeping them means building them (the handler's
 * `materializeFlags`), done here only when they can be seen (`flagsDead`). A count of 0: the
 * handler.
 */
function emitRotate32(i: Insn, m: string, ops: string, ctx: EmitCtx): Emitted | null {
  if (ops !== 'Ev,Ib' && ops !== 'Ev,1') return null;
  const c = (ops === 'Ev,1' ? 1 : i.imm) & 0x1f;
  if (c === 0) return null;
  const rol = m === 'ROL';
  const r = rol ? `((v << ${c}) | (v >>> ${32 - c})) >>> 0` : `((v >>> ${c}) | (v << ${32 - c})) >>> 0`;
  let code = `{ const v = rg${i.rm}; const r = ${r}; ${setReg32(i.rm, 'r')}`;
  if (!ctx.flagsDead) {
    const cf = rol ? '(r & 1)' : '(r >>> 31)';
    const of = rol ? '((r >>> 31) ^ (r & 1))' : '((r >>> 31) ^ ((r >>> 30) & 1))';
    code += ` ${flushFlags(ctx.pend)} cpu.materializeFlags(); s.rflags[0] = (s.rflags[0] & ${~(Flag.CF | Flag.OF)}) | ${cf} | (${of} << 11);`;
    ctx.pend = 0;
  }
  return { code: `${code} }`, memory: false, branch: false };
}

/*
 * Guest registers are the block's locals `rg0`…`rg15` (compile.ts loads the ones a block uses,
 * and stores the ones written, marked in `dm`, wherever the CPU's copy must be current: before an
 * interpreted instruction, at every exit, in the fault handler).
 */

/** The effective address of a 32-bit memory operand, as `Cpu.ea` computes it. */
export function ea32(i: Insn): string {
  return ea(i);
}
function ea(i: Insn): string {
  let a = `${i.disp}`;
  if (i.base >= 0) a += ` + rg${i.base}`;
  if (i.index >= 0) a += ` + (rg${i.index} << ${i.scale})`;
  return `((${a}) >>> 0)`;
}

/** Memory operands we inline: 32-bit addressing outside 64-bit mode, 64-bit addressing in it. */
export function memOk(i: Insn, long: boolean): boolean {
  return long ? memOk64(i) : i.adSize === 4 && !i.ripRel;
}

/** The instruction being emitted (its mode, next RIP): the operand helpers below follow it. */
let cur: EmitCtx = {
  pend: 0,
  eip: 0,
  next: 0,
  length: 0,
  region: new Map(),
  loops: false,
  sync: '',
  long: false,
  hi: 0,
  page0: 0,
  flagsDead: false,
};

/**
 * Statements that read `size` bytes of the memory operand into a new const `name`: the TLB fast
 * path of `Cpu.read` inlined for a flat segment (SF_FLAT: the offset is the linear address) and
 * a hit inside one page; anything else (segment checks, misses, MMIO, page splits) calls it.
 * `RP`/`WP` (block locals) are the TLB right needed at the block's CPL, or 0 when #AC checks
 * are on (then every access takes `Cpu.read`'s path, as the interpreter's fast path is off too).
 */
export function memRead(i: Insn, size: number, name: string): string {
  if (cur.long) return memRead64m(i, size, name, cur.next, cur.hi);
  const seg = i.memSeg;
  const [a, x, o, w] = [`a_${name}`, `x_${name}`, `o_${name}`, `w_${name}`];
  const load =
    size === 4
      ? `(${w}[${o}] | (${w}[${o} + 1] << 8) | (${w}[${o} + 2] << 16) | (${w}[${o} + 3] << 24)) >>> 0`
      : size === 2
        ? `${w}[${o}] | (${w}[${o} + 1] << 8)`
        : `${w}[${o}]`;
  return `const ${a} = ${ea(i)}; const ${x} = (${a} >>> 12) & ${TLB_MASK}; const ${o} = ${a} & 0xfff; const ${w} = tv[${x}];
const ${name} = SR${seg} && tt[${x}] === (${a} >>> 24) && ${o} <= ${4096 - size} && (tp[${x}] & RP) !== 0 && ${w} !== null ? ${load} : ((ck = 1), cpu.readOrFault(${seg}, ${a}, ${size}));${UNWIND}`;
}

/**
 * The block's constants `SR<seg>`/`SW<seg>` (which of them `body` uses): the segment is flat and
 * readable/writable (`Cpu.read`/`write`'s fast-path test), computed once per call of the
 * function instead of at every access: nothing in a block loads a segment register (rows.ts).
 */
export function segConsts(body: string): string {
  let c = '';
  for (let seg = 0; seg < 6; seg++) {
    if (body.includes(`SR${seg} `))
      c += `const SR${seg} = (sf[${seg}] & ${SF_R | SF_FLAT | SF_LONG}) === ${SF_R | SF_FLAT}; `;
    if (body.includes(`SW${seg} `))
      c += `const SW${seg} = (sf[${seg}] & ${SF_W | SF_FLAT | SF_LONG}) === ${SF_W | SF_FLAT}; `;
  }
  return c;
}

/** Statements writing `value` (an expression) to the 32-bit memory operand: `Cpu.write` with its fast path inlined. */
export function memWrite32(i: Insn, value: string): string {
  return memWrite(i, 4, value);
}

/** Statements writing `value` to the memory operand, `size` bytes (1 or 4): `Cpu.write` with its fast path inlined. */
export function memWrite(i: Insn, size: 1 | 4, value: string): string {
  if (cur.long) return memWrite64m(i, size, value, '0', cur.next, cur.hi);
  const seg = i.memSeg;
  const store =
    size === 4 ? 'w[o] = v; w[o + 1] = v >>> 8; w[o + 2] = v >>> 16; w[o + 3] = v >>> 24;' : 'w[o] = v;';
  return `{ const a = ${ea(i)}; const v = ${value}; const x = (a >>> 12) & ${TLB_MASK}; const o = a & 0xfff; const w = tv[x];
if (SW${seg} && tt[x] === (a >>> 24) && o <= ${4096 - size} && (tp[x] & WP) !== 0 && w !== null) { ${store} }
else { ck = 1; cpu.writeOrFault(${seg}, a, ${size}, v);${UNWIND} } }`;
}

/** [statements, expression] reading the 32-bit r/m operand. */
function loadE32(i: Insn, name: string): [string, string] {
  return i.mod === 3 ? ['', `rg${i.rm}`] : [memRead(i, 4, name), name];
}

/**
 * A byte register as `Cpu.getReg(r, 1, rex)` reads it: AL…BL, then AH…BH; with any REX prefix
 * (64-bit mode) SPL…DIL and R8B…R15B instead (SDM Vol. 1 3.7.2.1).
 */
export function reg8(r: number, rex: number): string {
  return r < 4 || rex !== 0 ? `(rg${r} & 0xff)` : `((rg${r - 4} >>> 8) & 0xff)`;
}

/** A 32-bit register write; in 64-bit mode it zero-extends (SDM Vol. 1 3.4.1.1). */
export function setReg32(r: number, v: string): string {
  return cur.long ? `rg${r} = ${v}; rh${r} = 0; dm |= ${1 << r};` : `rg${r} = ${v}; dm |= ${1 << r};`;
}

const none: Emitted = { code: '', memory: false, branch: false };

const TWO32 = 0x100000000;

/**
 * Jcc/JMP rel to the constant target `t` (RIP[31:0]; `setHi` stores RIP[63:32] when the branch
 * crosses into another 4 GiB, `check` is the target's limit check). The registers are made
 * current in the CPU on the ways out (`ctx.sync`). A target that starts a block of the same
 * function (`ctx.region`; its CS limit was checked at entry) is jumped to there when the run loop
 * would let it run at once: room in the budget for that block (no event check can be due: irqCheck
 * was clear at entry, and everything that sets it leaves the function), with the flags and
 * registers left in the locals (every block's head is compiled for that).
 */
function emitJump(i: Insn, jmp: boolean, ctx: EmitCtx, t: number, setHi: string, check: string): Emitted {
  const out = (to: number, hi: string) =>
    `${ctx.sync} ${flushFlags(ctx.pend)} rip[0] = ${to}; ${hi} return ${exitLink(ctx, to, hi === '')};`;
  const go = (to: number, hi: string, chk: string): string => {
    const b = hi === '' ? ctx.region.get(to) : undefined;
    if (b === undefined) return `${chk} cpu.runCount += ${ctx.length}; ${out(to, hi)}`;
    ctx.loops = true;
    return `cpu.runCount += ${ctx.length}; if (cpu.runLimit - cpu.runCount < ${b[1]}) { ${out(to, '')} } bb = ${b[0]}; continue;`;
  };
  const take = go(t, setHi, check);
  if (jmp) return { code: take, memory: false, branch: true };
  const code = `if (${condExpr(i.op & 0xf, ctx.pend)}) { ${take} } else { ${go(ctx.next, '', '')} }`;
  ctx.pend = 0;
  return { code, memory: false, branch: true };
}

/**
 * What a block returns where it leaves for EIP `to` (`same4g`: RIP[63:32] unchanged): the decode
 * at `to` when it lies in the block's page, read when leaving, so that the run loop can chain to
 * the block compiled there without looking it up (jit.ts `link`); else undefined. The CPU still
 * fetches from that page (`cpu.codePage === PC`: everything that could change it leaves the
 * block first), so the decode there is the one a lookup would find.
 */
export function exitLink(ctx: EmitCtx, to: number, same4g: boolean): string {
  const o = to - ctx.page0;
  return same4g && o >= 0 && o < 4096 ? `PC.insns[${o}]` : 'undefined';
}

/**
 * Jcc/JMP rel in 64-bit mode (exec/long/control64.ts): the target is RIP + rel sign-extended to
 * 64 bits, a constant here; a non-canonical one (#GP(0) at the branch, SDM Vol. 2 Jcc) is left to
 * the handler. Operand size is 64 whatever the prefixes (SDM Vol. 1 6.3.7): no truncation.
 */
function emitBranch64(i: Insn, jmp: boolean, ctx: EmitCtx): Emitted | null {
  const lo = ctx.next + i.imm;
  const carry = Math.floor(lo / TWO32);
  const tLo = lo - carry * TWO32;
  const tHi = (ctx.hi + carry) >>> 0;
  const h = tHi | 0;
  if (h >= 0x8000 || h < -0x8000) return null;
  return emitJump(i, jmp, ctx, tLo, tHi === ctx.hi ? '' : `rip[1] = ${tHi};`, '');
}

/** Specialised instructions that read the arithmetic flags (Jcc; INC/DEC keep CF). */
export const FLAG_READERS: ReadonlySet<string> = new Set(['JCC', 'INC', 'DEC', 'CMOVCC', 'SETCC']);

/**
 * Source for instruction `i` (row `row`), updating `ctx.pend`; null: the interpreter's handler
 * runs it. Where the flags' place is known only at run time (PEND_DYN), an instruction that
 * reads them first stores them into the CPU.
 */
export function emitInsn(i: Insn, row: OpcodeRow, ctx: EmitCtx): Emitted | null {
  if (ctx.pend !== PEND_DYN || !FLAG_READERS.has(row.mnemonic)) return emitOne(i, row, ctx);
  ctx.pend = 0;
  const e = emitOne(i, row, ctx);
  if (e === null) {
    ctx.pend = PEND_DYN;
    return null;
  }
  return { ...e, code: `${FLUSH_DYN} ${e.code}` };
}

function emitOne(i: Insn, row: OpcodeRow, ctx: EmitCtx): Emitted | null {
  const m = row.mnemonic;
  const ops = row.operands;
  cur = ctx;
  // SIMD rows (a mandatory prefix: rows.ts): their own table (emit-sse.ts).
  if (row.pfx !== undefined) return emitSse(i, row, ctx);
  if (m === 'JCC' || m === 'JMP') {
    if (ops !== 'Jb' && ops !== 'Jz') return null;
    if (ctx.long) return emitBranch64(i, m === 'JMP', ctx);
    // The target is a constant: next EIP + displacement, wrapped to the operand size (jumpTo),
    // checked against the CS limit.
    const t = i.opSize === 2 ? (ctx.next + i.imm) & 0xffff : (ctx.next + i.imm) >>> 0;
    return emitJump(i, m === 'JMP', ctx, t, '', `if (${t} > s.segLimit[1]) cpu.gp0();`);
  }
  // Hint NOPs (0F 0D, 0F 18-1F) decode a memory operand but never access it (exec/move.ts NOP),
  // at any operand or address size: kernels pad with them (`nop word [rax + rax]`). 90 with
  // REX.B is XCHG r8, rAX in 64-bit mode (SDM Vol. 2 NOP/XCHG): its handler; F3 90 (PAUSE) never
  // reaches a block (rep).
  if (m === 'NOP') return ctx.long && i.op === 0x90 && (i.rex & 1) !== 0 ? null : none;
  if (ctx.long && i.opSize === 8) return emitInsn64(i, row, ctx);
  if (BYTE_FORMS.has(ops)) return emitByte(i, row, ctx);
  if (i.opSize !== 4 || i.lock || (i.hasModrm && i.mod !== 3 && !memOk(i, ctx.long))) return null;
  const mem = i.hasModrm && i.mod !== 3;
  const op = ALU_OPS.indexOf(m);
  if (op >= 0 && op !== 2 && op !== 3) {
    let dst: string;
    let src: string;
    let pre = '';
    let out: number; // register written, -1 none
    if (ops === 'Ev,Gv') {
      if (mem && op !== 7) return null; // read-modify-write: the handler probes the write first
      [pre, dst] = loadE32(i, 'm');
      src = `rg${i.reg}`;
      out = op === 7 ? -1 : i.rm;
    } else if (ops === 'Gv,Ev') {
      dst = `rg${i.reg}`;
      [pre, src] = loadE32(i, 'm');
      out = op === 7 ? -1 : i.reg;
    } else if (ops === 'eAX,Iz') {
      dst = 'rg0';
      src = `${i.imm >>> 0}`;
      out = op === 7 ? -1 : 0;
    } else if (ops === 'Ev,Iz' || ops === 'Ev,IbS') {
      if (mem && op !== 7) return null;
      [pre, dst] = loadE32(i, 'm');
      src = `${i.imm >>> 0}`;
      out = op === 7 ? -1 : i.rm;
    } else return null;
    const expr =
      op === 0
        ? '(d + x) >>> 0'
        : op === 1
          ? '(d | x) >>> 0'
          : op === 4
            ? '(d & x) >>> 0'
            : op === 6
              ? '(d ^ x) >>> 0'
              : '(d - x) >>> 0';
    const lf = op === 0 ? LF_ADD : op === 5 || op === 7 ? LF_SUB : LF_LOGIC;
    // Operands are read before anything is written: a fault leaves registers and flags as they were.
    const code = `{ ${pre} const d = ${dst}; const x = ${src}; const r = ${expr}; ${lazy(lf, 'd', 'x', 'r')}${out >= 0 ? ` ${setReg32(out, 'r')}` : ''} }`;
    ctx.pend = lf;
    return { code, memory: mem, branch: false };
  }
  if (m === 'TEST') {
    let a: string;
    let b: string;
    let pre = '';
    if (ops === 'Ev,Gv') {
      [pre, a] = loadE32(i, 'm');
      b = `rg${i.reg}`;
    } else if (ops === 'eAX,Iz') {
      a = 'rg0';
      b = `${i.imm >>> 0}`;
    } else if (ops === 'Ev,Iz') {
      [pre, a] = loadE32(i, 'm');
      b = `${i.imm >>> 0}`;
    } else return null;
    ctx.pend = LF_LOGIC;
    return {
      code: `{ ${pre} const d = ${a}; const x = ${b}; const r = (d & x) >>> 0; ${lazy(LF_LOGIC, 'd', 'x', 'r')} }`,
      memory: mem,
      branch: false,
    };
  }
  if (m === 'INC' || m === 'DEC') {
    if (ops !== 'Zv' && !(ops === 'Ev' && !mem)) return null;
    const dec = m === 'DEC';
    const lf = dec ? LF_DEC : LF_INC;
    const code = `{ const c = ${cfBit(ctx.pend)}; const d = rg${i.rm}; const r = (d ${dec ? '-' : '+'} 1) >>> 0; fa = c; ${lazy(lf, 'd', '1', 'r')} ${setReg32(i.rm, 'r')} }`;
    ctx.pend = lf;
    return { code, memory: false, branch: false };
  }
  if (m === 'MOV') {
    if (ops === 'Ev,Gv')
      return mem
        ? { code: memWrite32(i, `rg${i.reg}`), memory: true, branch: false }
        : { code: setReg32(i.rm, `rg${i.reg}`), memory: false, branch: false };
    if (ops === 'Gv,Ev') {
      const [pre, v] = loadE32(i, 'm');
      return { code: `{ ${pre} ${setReg32(i.reg, v)} }`, memory: mem, branch: false };
    }
    if (ops === 'Zv,Iv') return { code: setReg32(i.rm, `${i.imm >>> 0}`), memory: false, branch: false };
    if (ops === 'Ev,Iz')
      return mem
        ? { code: memWrite32(i, `${i.imm >>> 0}`), memory: true, branch: false }
        : { code: setReg32(i.rm, `${i.imm >>> 0}`), memory: false, branch: false };
    return null;
  }
  if (m === 'CMOVCC' && ops === 'Gv,Ev') {
    // The source is read (and may fault) whatever the condition; the destination's upper half is
    // cleared either way (exec/bits.ts CMOVCC, SDM Vol. 2 CMOVcc).
    const [pre, v] = loadE32(i, 'm');
    const code = `{ ${pre} const v = ${v}; ${setReg32(i.reg, `${condExpr(i.op & 0xf, ctx.pend)} ? v : rg${i.reg}`)} }`;
    return { code, memory: mem, branch: false };
  }
  if (m === 'NOT' && !mem)
    return { code: setReg32(i.rm, `(~rg${i.rm}) >>> 0`), memory: false, branch: false };
  if (m === 'LEA') {
    if (!memOk(i, ctx.long)) return null;
    // The low 32 bits of the address (a RIP-relative one is a constant).
    if (i.ripRel)
      return {
        code: setReg32(i.reg, `${((ctx.hi | 0) * 4294967296 + ctx.next + i.disp) >>> 0}`),
        memory: false,
        branch: false,
      };
    return { code: setReg32(i.reg, ea(i)), memory: false, branch: false };
  }
  if (m === 'MOVZX' || m === 'MOVSX') {
    const byte = ops.endsWith('Eb');
    const pre = mem ? memRead(i, byte ? 1 : 2, 'm') : '';
    const src = mem ? 'm' : byte ? reg8(i.rm, i.rex) : `(rg${i.rm} & 0xffff)`;
    const v = m === 'MOVZX' ? 'v' : byte ? '(((v << 24) >> 24) >>> 0)' : '(((v << 16) >> 16) >>> 0)';
    return { code: `{ ${pre} const v = ${src}; ${setReg32(i.reg, v)} }`, memory: mem, branch: false };
  }
  if (m === 'IMUL3' || m === 'IMUL2') {
    // IMUL r32, r/m32[, imm]: the low half, CF = OF = "the product did not fit" (SDM Vol. 2 IMUL).
    // a × b is exact when it fits in 32 bits and stays outside that range when rounded, so
    // comparing it with Math.imul tells overflow exactly. Flags as exec/alu.ts mulFlags leaves
    // them (AF clear), held as PEND_MAT until something reads them.
    const b = m === 'IMUL3' ? `${i.imm | 0}` : `(rg${i.reg} | 0)`;
    const [pre, e] = loadE32(i, 'm');
    const code = `{ ${pre} const a = ${e} | 0; const b = ${b}; const lo = Math.imul(a, b); const o = a * b !== lo ? 1 : 0; ${setReg32(i.reg, 'lo >>> 0')} fo = ${PEND_MAT}; fr = lo >>> 0; fa = o; fs = o; fp = 1; }`;
    ctx.pend = PEND_MAT;
    return { code, memory: mem, branch: false };
  }
  if ((m === 'SHL' || m === 'SAL' || m === 'SHR' || m === 'SAR') && !mem) return emitShift32(i, m, ops, ctx);
  if ((m === 'ROL' || m === 'ROR') && !mem) return emitRotate32(i, m, ops, ctx);
  return null;
}
