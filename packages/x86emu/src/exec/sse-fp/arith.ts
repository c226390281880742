/**
 * ADD, SUB, MUL, DIV, SQRT, MIN, MAX in their four forms: PS (0F), SS (F3 0F), PD (66 0F), SD
 * (F2 0F) (SDM Vol. 2 ADDPS … MAXSD). Packed forms operate on all elements and write nothing if
 * an unmasked exception occurs in any (fpu/sse-packed.ts); scalar forms replace the low element
 * and keep the rest of the destination. Memory operands: m128 aligned for PS/PD, m32/m64
 * unaligned for SS/SD.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import {
  SSE_ADD,
  SSE_DIV,
  SSE_MAX,
  SSE_MIN,
  SSE_MUL,
  SSE_SQRT,
  SSE_SUB,
  SseOut,
  sseArith,
} from '../../fpu/sse-float.js';
import { ssePacked } from '../../fpu/sse-packed.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, SRC, xmmWords } from './common.js';

const O = new SseOut();

function packed(op: number, wide: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    commitFlags(cpu, ssePacked(op, wide, xmmWords(cpu), i.reg * 4, SRC, 0, cpu.state.mxcsr[0]));
  };
}

function scalar(op: number, wide: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    loadSrc(cpu, i, wide ? 8 : 4, false);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    commitFlags(cpu, sseArith(op, wide, x[d + 1], x[d], SRC[1], SRC[0], cpu.state.mxcsr[0], O));
    x[d] = O.lo;
    if (wide) x[d + 1] = O.hi;
  };
}

const OPS: [string, number][] = [
  ['ADD', SSE_ADD],
  ['SUB', SSE_SUB],
  ['MUL', SSE_MUL],
  ['DIV', SSE_DIV],
  ['SQRT', SSE_SQRT],
  ['MIN', SSE_MIN],
  ['MAX', SSE_MAX],
];

/** ADDPS … MAXSD by mnemonic. */
export const ARITH_HANDLERS: Record<string, Handler> = {};
for (const [name, op] of OPS) {
  ARITH_HANDLERS[`${name}PS`] = packed(op, false);
  ARITH_HANDLERS[`${name}PD`] = packed(op, true);
  ARITH_HANDLERS[`${name}SS`] = scalar(op, false);
  ARITH_HANDLERS[`${name}SD`] = scalar(op, true);
}
