/**
 * Packed conversions between XMM formats (SDM Vol. 2): CVTPS2PD (0F 5A, m64), CVTPD2PS (66 0F
 * 5A), CVTDQ2PS (0F 5B), CVTPS2DQ (66 0F 5B), CVTTPS2DQ (F3 0F 5B), CVTDQ2PD (F3 0F E6, m64),
 * CVTPD2DQ (F2 0F E6), CVTTPD2DQ (66 0F E6). Each element is the scalar conversion; results of
 * two elements fill the low quadword and zero the high one. Nothing is written when an unmasked
 * exception occurs in any element.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { cvtf2si, cvtsd2ss, cvtsi2f, cvtss2sd } from '../../fpu/sse-convert.js';
import { SseOut } from '../../fpu/sse-float.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, packedFlags, SRC, xmmWords } from './common.js';

const O = new SseOut();
const R = new Uint32Array(4);

/** Writes R to XMM[reg] after the flags are committed (a fault leaves it untouched). */
function finish(cpu: Cpu, i: Insn, flags: number): void {
  commitFlags(cpu, packedFlags(flags, cpu.state.mxcsr[0]));
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  x[d] = R[0];
  x[d + 1] = R[1];
  x[d + 2] = R[2];
  x[d + 3] = R[3];
}

const CVTPS2PD: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 8, false);
  const mx = cpu.state.mxcsr[0];
  let flags = cvtss2sd(SRC[0], mx, O);
  R[0] = O.lo;
  R[1] = O.hi;
  flags |= cvtss2sd(SRC[1], mx, O);
  R[2] = O.lo;
  R[3] = O.hi;
  finish(cpu, i, flags);
};

const CVTPD2PS: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 16, true);
  const mx = cpu.state.mxcsr[0];
  let flags = cvtsd2ss(SRC[1], SRC[0], mx, O);
  R[0] = O.lo;
  flags |= cvtsd2ss(SRC[3], SRC[2], mx, O);
  R[1] = O.lo;
  R[2] = 0;
  R[3] = 0;
  finish(cpu, i, flags);
};

const CVTDQ2PS: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 16, true);
  const mx = cpu.state.mxcsr[0];
  let flags = 0;
  for (let k = 0; k < 4; k++) {
    flags |= cvtsi2f(0, SRC[k], 32, false, mx, O);
    R[k] = O.lo;
  }
  finish(cpu, i, flags);
};

function ps2dq(truncate: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const mx = cpu.state.mxcsr[0];
    let flags = 0;
    for (let k = 0; k < 4; k++) {
      flags |= cvtf2si(false, 0, SRC[k], 32, truncate, mx, O);
      R[k] = O.lo;
    }
    finish(cpu, i, flags);
  };
}

const CVTDQ2PD: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 8, false);
  const mx = cpu.state.mxcsr[0];
  // int32 → float64 is exact: no flags.
  cvtsi2f(0, SRC[0], 32, true, mx, O);
  R[0] = O.lo;
  R[1] = O.hi;
  cvtsi2f(0, SRC[1], 32, true, mx, O);
  R[2] = O.lo;
  R[3] = O.hi;
  finish(cpu, i, 0);
};

function pd2dq(truncate: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const mx = cpu.state.mxcsr[0];
    let flags = cvtf2si(true, SRC[1], SRC[0], 32, truncate, mx, O);
    R[0] = O.lo;
    flags |= cvtf2si(true, SRC[3], SRC[2], 32, truncate, mx, O);
    R[1] = O.lo;
    R[2] = 0;
    R[3] = 0;
    finish(cpu, i, flags);
  };
}

export const CONVERT_PACKED_HANDLERS: Record<string, Handler> = {
  CVTPS2PD,
  CVTPD2PS,
  CVTDQ2PS,
  CVTPS2DQ: ps2dq(false),
  CVTTPS2DQ: ps2dq(true),
  CVTDQ2PD,
  CVTPD2DQ: pd2dq(false),
  CVTTPD2DQ: pd2dq(true),
};
