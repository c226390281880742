/**
 * DPPS / DPPD (SSE4.1, 66 0F 3A 40/41 ib): the dot product as the SDM's pseudo-code computes it
 * (SDM Vol. 2 DPPS, "DP_primitive"): products of the elements selected by imm8[7:4] (others
 * +0.0), each rounded; then (t0 + t1) + (t2 + t3) for DPPS, t0 + t1 for DPPD, each sum rounded;
 * the sum goes to the elements selected by imm8[3:0], +0.0 to the others. Flags of every
 * multiply and add reach MXCSR stage by stage (the multiplies, the first sums, the last sum),
 * each stage as a packed instruction: an unmasked exception in one faults before the next
 * stage computes, with the earlier stages' flags recorded (measured on the host CPU); the
 * destination stays untouched.
 */

import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import { SSE_ADD, SSE_MUL, SseOut, sseArith } from '../../fpu/sse-float.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, packedFlags, SRC, xmmWords } from './common.js';

const O = new SseOut();
const T = new Int32Array(4);

/** Ends a stage: its flags into MXCSR, #XM here if one is unmasked. */
function stage(cpu: Cpu, flags: number, mx: number): void {
  commitFlags(cpu, packedFlags(flags, mx));
}

const DPPS: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 16, true);
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  const mx = cpu.state.mxcsr[0];
  const imm = i.imm;
  let flags = 0;
  for (let k = 0; k < 4; k++) {
    if ((imm >>> (4 + k)) & 1) {
      flags |= sseArith(SSE_MUL, false, 0, x[d + k], 0, SRC[k], mx, O);
      T[k] = O.lo;
    } else T[k] = 0;
  }
  stage(cpu, flags, mx);
  flags = sseArith(SSE_ADD, false, 0, T[0], 0, T[1], mx, O);
  const t01 = O.lo;
  flags |= sseArith(SSE_ADD, false, 0, T[2], 0, T[3], mx, O);
  stage(cpu, flags, mx);
  stage(cpu, sseArith(SSE_ADD, false, 0, t01, 0, O.lo, mx, O), mx);
  for (let k = 0; k < 4; k++) x[d + k] = (imm >>> k) & 1 ? O.lo : 0;
};

const DPPD: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 16, true);
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  const mx = cpu.state.mxcsr[0];
  const imm = i.imm;
  let flags = 0;
  for (let k = 0; k < 2; k++) {
    if ((imm >>> (4 + k)) & 1) {
      flags |= sseArith(SSE_MUL, true, x[d + 2 * k + 1], x[d + 2 * k], SRC[2 * k + 1], SRC[2 * k], mx, O);
      T[2 * k] = O.lo;
      T[2 * k + 1] = O.hi;
    } else {
      T[2 * k] = 0;
      T[2 * k + 1] = 0;
    }
  }
  stage(cpu, flags, mx);
  stage(cpu, sseArith(SSE_ADD, true, T[1], T[0], T[3], T[2], mx, O), mx);
  for (let k = 0; k < 2; k++) {
    const on = (imm >>> k) & 1;
    x[d + 2 * k] = on ? O.lo : 0;
    x[d + 2 * k + 1] = on ? O.hi : 0;
  }
};

export const DOT_HANDLERS: Record<string, Handler> = { DPPS, DPPD };
