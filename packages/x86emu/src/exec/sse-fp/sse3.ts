/**
 * SSE3 floating point (SDM Vol. 2): ADDSUBPS (F2 0F D0) / ADDSUBPD (66 0F D0) subtract in the
 * even elements and add in the odd ones; HADDPS/HSUBPS (F2 0F 7C/7D) and HADDPD/HSUBPD (66 0F
 * 7C/7D) combine adjacent pairs, the destination's pairs into the low half and the source's
 * into the high half. In each pair the lower element is the first operand (whose NaN wins).
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { SSE_ADD, SSE_SUB, SseOut, sseArith } from '../../fpu/sse-float.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, packedFlags, SRC, xmmWords } from './common.js';

const O = new SseOut();
const R = new Uint32Array(4);

function finish(cpu: Cpu, i: Insn, flags: number): void {
  commitFlags(cpu, packedFlags(flags, cpu.state.mxcsr[0]));
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  x[d] = R[0];
  x[d + 1] = R[1];
  x[d + 2] = R[2];
  x[d + 3] = R[3];
}

const ADDSUBPS: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 16, true);
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  const mx = cpu.state.mxcsr[0];
  let flags = 0;
  for (let k = 0; k < 4; k++) {
    flags |= sseArith(k & 1 ? SSE_ADD : SSE_SUB, false, 0, x[d + k], 0, SRC[k], mx, O);
    R[k] = O.lo;
  }
  finish(cpu, i, flags);
};

const ADDSUBPD: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 16, true);
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  const mx = cpu.state.mxcsr[0];
  let flags = sseArith(SSE_SUB, true, x[d + 1], x[d], SRC[1], SRC[0], mx, O);
  R[0] = O.lo;
  R[1] = O.hi;
  flags |= sseArith(SSE_ADD, true, x[d + 3], x[d + 2], SRC[3], SRC[2], mx, O);
  R[2] = O.lo;
  R[3] = O.hi;
  finish(cpu, i, flags);
};

function hps(op: number): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    const mx = cpu.state.mxcsr[0];
    let flags = sseArith(op, false, 0, x[d], 0, x[d + 1], mx, O);
    R[0] = O.lo;
    flags |= sseArith(op, false, 0, x[d + 2], 0, x[d + 3], mx, O);
    R[1] = O.lo;
    flags |= sseArith(op, false, 0, SRC[0], 0, SRC[1], mx, O);
    R[2] = O.lo;
    flags |= sseArith(op, false, 0, SRC[2], 0, SRC[3], mx, O);
    R[3] = O.lo;
    finish(cpu, i, flags);
  };
}

function hpd(op: number): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    const mx = cpu.state.mxcsr[0];
    let flags = sseArith(op, true, x[d + 1], x[d], x[d + 3], x[d + 2], mx, O);
    R[0] = O.lo;
    R[1] = O.hi;
    flags |= sseArith(op, true, SRC[1], SRC[0], SRC[3], SRC[2], mx, O);
    R[2] = O.lo;
    R[3] = O.hi;
    finish(cpu, i, flags);
  };
}

export const SSE3_HANDLERS: Record<string, Handler> = {
  ADDSUBPS,
  ADDSUBPD,
  HADDPS: hps(SSE_ADD),
  HSUBPS: hps(SSE_SUB),
  HADDPD: hpd(SSE_ADD),
  HSUBPD: hpd(SSE_SUB),
};
