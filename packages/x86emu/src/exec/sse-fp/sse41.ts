/**
 * SSE4.1 floating point without dot products (SDM Vol. 2): ROUNDPS/ROUNDPD/ROUNDSS/ROUNDSD
 * (66 0F 3A 08–0B ib), BLENDPS/BLENDPD (66 0F 3A 0C/0D ib), BLENDVPS/BLENDVPD (66 0F 38 14/15,
 * mask in XMM0's sign bits), INSERTPS (66 0F 3A 21 ib) and EXTRACTPS (66 0F 3A 17 ib). Only the
 * ROUNDs raise exceptions (IE for an SNaN, PE unless imm8[3]); blends, INSERTPS and EXTRACTPS
 * move bits.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { SseOut } from '../../fpu/sse-float.js';
import { sseRound } from '../../fpu/sse-round.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, packedFlags, SRC, xmmWords } from './common.js';

const O = new SseOut();
const R = new Uint32Array(4);

function store(cpu: Cpu, i: Insn): void {
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  x[d] = R[0];
  x[d + 1] = R[1];
  x[d + 2] = R[2];
  x[d + 3] = R[3];
}

function roundPacked(wide: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const mx = cpu.state.mxcsr[0];
    let flags = 0;
    if (wide) {
      for (let k = 0; k < 4; k += 2) {
        flags |= sseRound(true, SRC[k + 1], SRC[k], i.imm, mx, O);
        R[k] = O.lo;
        R[k + 1] = O.hi;
      }
    } else {
      for (let k = 0; k < 4; k++) {
        flags |= sseRound(false, 0, SRC[k], i.imm, mx, O);
        R[k] = O.lo;
      }
    }
    commitFlags(cpu, packedFlags(flags, mx));
    store(cpu, i);
  };
}

function roundScalar(wide: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, wide ? 8 : 4, false);
    commitFlags(cpu, sseRound(wide, SRC[1], SRC[0], i.imm, cpu.state.mxcsr[0], O));
    const x = xmmWords(cpu);
    x[i.reg * 4] = O.lo;
    if (wide) x[i.reg * 4 + 1] = O.hi;
  };
}

/** BLENDPS/BLENDPD: element k from the source where imm8 bit k is set. */
function blend(wide: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    for (let k = 0; k < 4; k++) if ((i.imm >>> (wide ? k >>> 1 : k)) & 1) x[d + k] = SRC[k];
  };
}

/** BLENDVPS/BLENDVPD: element from the source where XMM0's element has its sign bit set. */
function blendv(wide: boolean): Handler {
  return (cpu, i) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    for (let k = 0; k < 4; k++) if (x[wide ? k | 1 : k] >>> 31) x[d + k] = SRC[k];
  };
}

/**
 * INSERTPS: the source element imm8[7:6] (a register) or the m32 goes to element imm8[5:4];
 * then the elements whose bit is set in imm8[3:0] are zeroed.
 */
const INSERTPS: Handler = (cpu, i) => {
  checkSse(cpu);
  let v: number;
  if (i.mod === 3) v = xmmWords(cpu)[i.rm * 4 + ((i.imm >>> 6) & 3)];
  else v = cpu.read(i.memSeg, cpu.ea(i), 4);
  const x = xmmWords(cpu);
  const d = i.reg * 4;
  x[d + ((i.imm >>> 4) & 3)] = v;
  for (let k = 0; k < 4; k++) if ((i.imm >>> k) & 1) x[d + k] = 0;
};

/**
 * EXTRACTPS r/m32, xmm, imm8: element imm8[1:0] of XMM[reg]; a register destination is
 * written as a 32-bit one (zero-extended in 64-bit mode, whatever REX.W).
 */
const EXTRACTPS: Handler = (cpu, i) => {
  checkSse(cpu);
  const v = xmmWords(cpu)[i.reg * 4 + (i.imm & 3)];
  if (i.mod === 3) {
    cpu.state.gpr[i.rm] = v;
    cpu.state.gprHigh[i.rm] = 0;
  } else cpu.write(i.memSeg, cpu.ea(i), 4, v >>> 0); // the ops (MMIO, emulate()) see uint32
};

export const SSE41_HANDLERS: Record<string, Handler> = {
  ROUNDPS: roundPacked(false),
  ROUNDPD: roundPacked(true),
  ROUNDSS: roundScalar(false),
  ROUNDSD: roundScalar(true),
  BLENDPS: blend(false),
  BLENDPD: blend(true),
  BLENDVPS: blendv(false),
  BLENDVPD: blendv(true),
  INSERTPS,
  EXTRACTPS,
};
