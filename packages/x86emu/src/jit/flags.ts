/**
 * The arithmetic flags of compiled code: the interpreter's lazy-flag record (cpu/lazy-flags.ts)
 * kept in the block's locals `fo fd fs fr fa` (and `frh`, the high half of an LF_ARITH64 result)
 * until a flush point stores them into the CPU; conditions evaluated from them with the
 * operation known when compiling.
 */
import { LF_ADD, LF_ARITH64, LF_DEC, LF_INC, LF_LOGIC, LF_SUB } from '../cpu/lazy-flags.js';

/** Records a result in the flag locals. */
export function lazy(op: number, d: string, s: string, r: string): string {
  return `fo = ${op}; fd = ${d}; fs = ${s}; fr = ${r}; fp = 1;`;
}

/** CF, ZF, SF, OF, PF from the locals for lazy operation `op` (as Cpu.getCF … getOF). */
export function flagExpr(op: number, flag: 'CF' | 'ZF' | 'SF' | 'OF' | 'PF'): string {
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

/** Condition code `cc` (SDM Vol. 1 Appendix B) as an expression; uses the CPU when nothing is pending. */
export function condExpr(cc: number, pend: number): string {
  if (pend === 0) return `cpu.cond(${cc})`;
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
  return pend === 0 ? '(cpu.getCF() ? 1 : 0)' : `(${flagExpr(pend, 'CF')} ? 1 : 0)`;
}

/** Stores the flag locals into the CPU's lazy-flag fields (a flush point). */
export function flushFlags(pend: number): string {
  if (pend === 0) return '';
  if (pend === LF_ARITH64)
    return `cpu.lfOp = fo; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfResHi = frh; cpu.lfSize = 8; cpu.lfAux = fa; fp = 0;`;
  const aux = pend === LF_INC || pend === LF_DEC ? ' cpu.lfAux = fa;' : '';
  return `cpu.lfOp = fo; cpu.lfDst = fd; cpu.lfSrc = fs; cpu.lfRes = fr; cpu.lfSize = 4;${aux} fp = 0;`;
}
