/**
 * The arithmetic flags of compiled code: the interpreter's lazy-flag record (cpu/lazy-flags.ts)
 * kept in the block's locals `fo fd fs fr fa` (and `frh`, the high half of an LF_ARITH64 result)
 * until a flush point stores them into the CPU; conditions evaluated from them with the
 * operation known when compiling.
 */
import { LF_ADD, LF_ARITH64, LF_DEC, LF_INC, LF_LOGIC, LF_NONE, LF_SUB } from '../cpu/lazy-flags.js';
import { Flag } from '../state.js';

const ARITH = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.OF;

/**
 * A pending kind of compiled code only (not an LF_* of the interpreter): the flags of an
 * instruction the interpreter materializes at once (shifts, IMUL: exec/shift.ts shiftFlags,
 * exec/alu.ts mulFlags), kept in the locals instead: `fr` the 32-bit result (SF, ZF, PF), `fa` CF
 * and `fs` OF as 0/1, AF clear. Stored into RFLAGS only at a flush point, so flags that the next
 * ALU instruction overwrites (`SHL; XOR`, `IMUL; ADD`) are never built.
 */
export const PEND_MAT = 16;
/**
 * The flags' place is known only at run time (`fp`: 1 in the locals, kind `fo`; 0 in the CPU):
 * the head of a block that loops, reached from the run loop and from its own branch.
 */
export const PEND_DYN = -1;
/**
 * Added to a pending LF_* kind whose operands are bytes (emit8.ts): the record is the
 * interpreter's with `lfSize` 1 (values masked to 8 bits; SF is bit 7, OF from bit 7). In `fo` at
 * run time too, so that FLUSH_DYN stores the right size.
 */
export const BYTE = 32;

/** Records a result in the flag locals. */
export function lazy(op: number, d: string, s: string, r: string): string {
  return `fo = ${op}; fd = ${d}; fs = ${s}; fr = ${r}; fp = 1;`;
}

/** CF, ZF, SF, OF, PF from the locals for lazy operation `op` (as Cpu.getCF … getOF). */
export function flagExpr(op: number, flag: 'CF' | 'ZF' | 'SF' | 'OF' | 'PF'): string {
  if (op > 0 && (op & BYTE) !== 0) return flagExpr8(op & ~BYTE, flag);
  if (op === PEND_MAT && (flag === 'CF' || flag === 'OF')) return flag === 'CF' ? '(fa !== 0)' : '(fs !== 0)';
  switch (flag) {
    case 'ZF':
      return op === LF_ARITH64 ? '((fr | frh) === 0)' : '(fr === 0)';
    case 'SF':
      return op === LF_ARITH64 ? '((frh >>> 31) !== 0)' : '((fr >>> 31) !== 0)';
    case 'PF':
      return '(PARITY[fr & 0xff] === 1)';
    case 'CF':
      if (op === LF_ARITH64) return '((fa & 1) !== 0)';
      if (op === LF_ADD) return '(fr < fd)';
      if (op === LF_SUB) return '(fd < fs)';
      if (op === LF_LOGIC) return 'false';
      return '(fa !== 0)';
    default:
      if (op === LF_ARITH64) return '((fa & 2) !== 0)';
      if (op === LF_ADD || op === LF_INC) return '(((fd ^ fr) & (fs ^ fr)) < 0)';
      if (op === LF_SUB || op === LF_DEC) return '(((fd ^ fs) & (fd ^ fr)) < 0)';
      return 'false';
  }
}

/** flagExpr for a byte operation `op` (LF_ADD, LF_SUB, LF_LOGIC; `getOF` with a sign bit of 0x80). */
function flagExpr8(op: number, flag: 'CF' | 'ZF' | 'SF' | 'OF' | 'PF'): string {
  switch (flag) {
    case 'ZF':
      return '(fr === 0)';
    case 'SF':
      return '((fr & 0x80) !== 0)';
    case 'PF':
      return '(PARITY[fr] === 1)';
    case 'CF':
      return op === LF_ADD ? '(fr < fd)' : op === LF_SUB ? '(fd < fs)' : 'false';
    default:
      if (op === LF_ADD) return '(((fd ^ fr) & (fs ^ fr) & 0x80) !== 0)';
      if (op === LF_SUB) return '(((fd ^ fs) & (fd ^ fr) & 0x80) !== 0)';
      return 'false';
  }
}

/**
 * Condition code `cc` (SDM Vol. 1 Appendix B) as an expression; uses the CPU when nothing is
 * pending (with PEND_DYN, the caller flushes first: `flushFlags(PEND_DYN)`).
 */
export function condExpr(cc: number, pend: number): string {
  if (pend <= 0) return `cpu.cond(${cc})`;
  const f = (x: 'CF' | 'ZF' | 'SF' | 'OF' | 'PF') => flagExpr(pend, x);
  const base = [
    f('OF'),
    f('CF'),
    f('ZF'),
    `(${f('CF')} || ${f('ZF')})`,
    f('SF'),
    f('PF'),
    `(${f('SF')} !== ${f('OF')})`,
    `(${f('ZF')} || ${f('SF')} !== ${f('OF')})`,
  ][cc >> 1];
  return cc & 1 ? `!${base}` : base;
}

/** CF as 0/1 for INC/DEC's carry-preserving aux slot. */
export function cfBit(pend: number): string {
  return pend <= 0 ? '(cpu.getCF() ? 1 : 0)' : `(${flagExpr(pend, 'CF')} ? 1 : 0)`;
}

/** RFLAGS from PEND_MAT locals (SF is bit 31 of the result, PF from PARITY: 1 for even). */
const MAT_STORE = `s.rflags[0] = (s.rflags[0] & ${~ARITH}) | (PARITY[fr & 0xff] << 2) | (fr === 0 ? ${Flag.ZF} : 0) | ((fr >>> 31) << 7) | fa | (fs << 11); cpu.lfOp = ${LF_NONE};`;

/**
 * Stores the flag locals into the CPU for whatever kind `fo` holds, if `fp` says they are there:
 * the fault handler and the exits of PEND_DYN code.
 */
export const FLUSH_DYN = `if (fp !== 0) { if (fo === ${PEND_MAT}) { ${MAT_STORE} } else { cpu.lfOp = fo & ${BYTE - 1}; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfResHi = frh; cpu.lfSize = fo === ${LF_ARITH64} ? 8 : fo > ${BYTE} ? 1 : 4; if (fo >= ${LF_INC} && fo < ${BYTE}) cpu.lfAux = fa; } fp = 0; }`;

/** Stores the flag locals into the CPU's lazy-flag fields (a flush point). */
export function flushFlags(pend: number): string {
  if (pend === 0) return '';
  if (pend === PEND_DYN) return FLUSH_DYN;
  if (pend === PEND_MAT) return `${MAT_STORE} fp = 0;`;
  if ((pend & BYTE) !== 0)
    return `cpu.lfOp = ${pend & ~BYTE}; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfSize = 1; fp = 0;`;
  if (pend === LF_ARITH64)
    return `cpu.lfOp = fo; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfResHi = frh; cpu.lfSize = 8; cpu.lfAux = fa; fp = 0;`;
  const aux = pend === LF_INC || pend === LF_DEC ? ' cpu.lfAux = fa;' : '';
  return `cpu.lfOp = fo; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfSize = 4;${aux} fp = 0;`;
}
