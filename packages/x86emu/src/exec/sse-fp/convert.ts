/**
 * Scalar conversions (SDM Vol. 2): CVTSI2SS/CVTSI2SD (F3/F2 0F 2A, r/m32 or with REX.W r/m64,
 * rounded by MXCSR.RC), CVTSS2SI/CVTSD2SI (F3/F2 0F 2D) and the truncating CVTTSS2SI/CVTTSD2SI
 * (F3/F2 0F 2C) into r32 or r64 (REX.W; the "integer indefinite" 80000000H / 8000000000000000H
 * for NaN or out of range), CVTSS2SD/CVTSD2SS (F3/F2 0F 5A). Each replaces only the low element
 * of an XMM destination; a GPR destination of 32 bits is zero-extended to 64.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { cvtf2si, cvtsd2ss, cvtsi2f, cvtss2sd } from '../../fpu/sse-convert.js';
import { SseOut } from '../../fpu/sse-float.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, SRC, xmmWords } from './common.js';

const O = new SseOut();

/** REX.W selects the 64-bit integer operand (only 64-bit mode has REX). */
function intBits(i: Insn): number {
  return i.rex & 8 ? 64 : 32;
}

function cvtsi2(wide: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    const bits = intBits(i);
    let lo: number;
    let hi = 0;
    if (i.mod === 3) {
      lo = cpu.state.gpr[i.rm];
      if (bits === 64) hi = cpu.state.gprHigh[i.rm];
    } else if (bits === 64) {
      cpu.read64(i.memSeg, cpu.ea(i));
      lo = cpu.lo64;
      hi = cpu.hi64;
    } else lo = cpu.read(i.memSeg, cpu.ea(i), 4);
    commitFlags(cpu, cvtsi2f(hi, lo, bits, wide, cpu.state.mxcsr[0], O));
    const x = xmmWords(cpu);
    x[i.reg * 4] = O.lo;
    if (wide) x[i.reg * 4 + 1] = O.hi;
  };
}

function cvt2si(wide: boolean, truncate: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    loadSrc(cpu, i, wide ? 8 : 4, false);
    const bits = intBits(i);
    commitFlags(cpu, cvtf2si(wide, SRC[1], SRC[0], bits, truncate, cpu.state.mxcsr[0], O));
    cpu.state.gpr[i.reg] = O.lo;
    cpu.state.gprHigh[i.reg] = bits === 64 ? O.hi : 0;
  };
}

const CVTSS2SD: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 4, false);
  commitFlags(cpu, cvtss2sd(SRC[0], cpu.state.mxcsr[0], O));
  const x = xmmWords(cpu);
  x[i.reg * 4] = O.lo;
  x[i.reg * 4 + 1] = O.hi;
};

const CVTSD2SS: Handler = (cpu, i) => {
  checkSse(cpu);
  loadSrc(cpu, i, 8, false);
  commitFlags(cpu, cvtsd2ss(SRC[1], SRC[0], cpu.state.mxcsr[0], O));
  xmmWords(cpu)[i.reg * 4] = O.lo;
};

export const CONVERT_HANDLERS: Record<string, Handler> = {
  CVTSI2SS: cvtsi2(false),
  CVTSI2SD: cvtsi2(true),
  CVTSS2SI: cvt2si(false, false),
  CVTSD2SI: cvt2si(true, false),
  CVTTSS2SI: cvt2si(false, true),
  CVTTSD2SI: cvt2si(true, true),
  CVTSS2SD,
  CVTSD2SS,
};
