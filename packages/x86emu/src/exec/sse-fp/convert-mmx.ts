/**
 * The conversions with an MMX operand (SDM Vol. 2): CVTPI2PS (0F 2A) and CVTPI2PD (66 0F 2A)
 * from mm/m64, CVTPS2PI/CVTTPS2PI (0F 2D/2C, from xmm/m64) and CVTPD2PI/CVTTPD2PI (66 0F 2D/2C,
 * from xmm/m128, aligned) to mm. An MMX register operand moves the x87 to MMX mode (TOP = 0,
 * all tags valid) once its operands are read, before any SIMD exception (#XM finds the
 * transition made: measured), and first takes an x87 exception left
 * pending (#MF, or FERR# with CR0.NE = 0); CVTPI2PS/PD from memory do neither (SDM Vol. 2
 * CVTPI2PS, CVTPS2PI: "transition from x87 FPU to MMX technology operation").
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { cvtf2si, cvtsi2f } from '../../fpu/sse-convert.js';
import { SseOut } from '../../fpu/sse-float.js';
import { mmxEnter, mmxWord, mmxWrite32 } from '../sse/operands.js';
import { checkSse } from '../x87/fpu-checks.js';
import { pendingError, SW_ES } from '../x87/status.js';
import { commitFlags, loadMem, loadSrc, packedFlags, SRC, xmmWords } from './common.js';

const O = new SseOut();

/** The x87 exception pending from an earlier instruction, before an MMX register is touched. */
function mmxPending(cpu: Cpu): void {
  if (cpu.state.fpuStatus[0] & SW_ES) pendingError(cpu);
}

/** mm/m64 (ModRM r/m) into SRC[0], SRC[1]. */
function loadQ(cpu: Cpu, i: Insn): void {
  if (i.mod === 3) {
    mmxPending(cpu);
    SRC[0] = mmxWord(cpu, i.rm, false);
    SRC[1] = mmxWord(cpu, i.rm, true);
  } else loadMem(cpu, i, 8, false);
}

/** CVTPI2PS: two int32 rounded by MXCSR.RC into the low two elements; the high two stay. */
const CVTPI2PS: Handler = (cpu, i) => {
  checkSse(cpu);
  loadQ(cpu, i);
  const mx = cpu.state.mxcsr[0];
  let flags = cvtsi2f(0, SRC[0], 32, false, mx, O);
  const r0 = O.lo;
  flags |= cvtsi2f(0, SRC[1], 32, false, mx, O);
  if (i.mod === 3) mmxEnter(cpu); // before a #XM, as the CPU does (see toPi)
  commitFlags(cpu, flags);
  const x = xmmWords(cpu);
  x[i.reg * 4] = r0;
  x[i.reg * 4 + 1] = O.lo;
};

/** CVTPI2PD: two int32 → two float64, exact. */
const CVTPI2PD: Handler = (cpu, i) => {
  checkSse(cpu);
  loadQ(cpu, i);
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  const mx = cpu.state.mxcsr[0];
  const s1 = SRC[1];
  cvtsi2f(0, SRC[0], 32, true, mx, O);
  x[d] = O.lo;
  x[d + 1] = O.hi;
  cvtsi2f(0, s1, 32, true, mx, O);
  x[d + 2] = O.lo;
  x[d + 3] = O.hi;
  if (i.mod === 3) mmxEnter(cpu);
};

function toPi(wide: boolean, truncate: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    mmxPending(cpu);
    loadSrc(cpu, i, wide ? 16 : 8, true);
    const mx = cpu.state.mxcsr[0];
    let flags = wide
      ? cvtf2si(true, SRC[1], SRC[0], 32, truncate, mx, O)
      : cvtf2si(false, 0, SRC[0], 32, truncate, mx, O);
    const r0 = O.lo;
    flags |= wide
      ? cvtf2si(true, SRC[3], SRC[2], 32, truncate, mx, O)
      : cvtf2si(false, 0, SRC[1], 32, truncate, mx, O);
    // The x87 → MMX transition comes before a SIMD exception: after #XM, TOP = 0 and every tag
    // is valid, the MMX register unchanged (measured on the host CPU, FSW/FTW of the signal frame).
    mmxEnter(cpu);
    commitFlags(cpu, packedFlags(flags, mx));
    mmxWrite32(cpu, i.reg, r0, O.lo);
  };
}

export const CONVERT_MMX_HANDLERS: Record<string, Handler> = {
  CVTPI2PS,
  CVTPI2PD,
  CVTPS2PI: toPi(false, false),
  CVTTPS2PI: toPi(false, true),
  CVTPD2PI: toPi(true, false),
  CVTTPD2PI: toPi(true, true),
};
