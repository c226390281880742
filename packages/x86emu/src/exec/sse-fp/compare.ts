/**
 * CMPPS/CMPSS/CMPPD/CMPSD (0F C2 /r ib: a mask of all ones or zeros per element, predicate
 * imm8[2:0] — legacy SSE ignores imm8[7:3]) and COMISS/UCOMISS/COMISD/UCOMISD (0F 2F / 0F 2E:
 * ZF, PF, CF from the relation; OF, SF, AF cleared) (SDM Vol. 2 CMPPS, COMISS). Compares raise
 * only IE and DE, so an unmasked one leaves the destination and EFLAGS as they were.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { CMP, CMPPRED, comiEflags, sseCmpPredicate, sseCompare } from '../../fpu/sse-compare.js';
import { checkSse } from '../x87/fpu-checks.js';
import { commitFlags, loadSrc, SRC, xmmWords } from './common.js';

const R = new Uint32Array(4);

function cmpPacked(wide: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    loadSrc(cpu, i, 16, true);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    const mx = cpu.state.mxcsr[0];
    let flags = 0;
    if (wide) {
      for (let k = 0; k < 4; k += 2) {
        flags |= sseCmpPredicate(i.imm, true, x[d + k + 1], x[d + k], SRC[k + 1], SRC[k], mx);
        R[k] = R[k + 1] = CMPPRED.result ? 0xffffffff : 0;
      }
    } else {
      for (let k = 0; k < 4; k++) {
        flags |= sseCmpPredicate(i.imm, false, 0, x[d + k], 0, SRC[k], mx);
        R[k] = CMPPRED.result ? 0xffffffff : 0;
      }
    }
    commitFlags(cpu, flags);
    x[d] = R[0];
    x[d + 1] = R[1];
    x[d + 2] = R[2];
    x[d + 3] = R[3];
  };
}

function cmpScalar(wide: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    loadSrc(cpu, i, wide ? 8 : 4, false);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    commitFlags(cpu, sseCmpPredicate(i.imm, wide, x[d + 1], x[d], SRC[1], SRC[0], cpu.state.mxcsr[0]));
    const v = CMPPRED.result ? 0xffffffff : 0;
    x[d] = v;
    if (wide) x[d + 1] = v;
  };
}

/** COMIS* signal IE on any NaN, UCOMIS* on SNaN only (SDM Vol. 2 COMISS, UCOMISS). */
function comi(wide: boolean, signal: boolean): Handler {
  return (cpu: Cpu, i: Insn) => {
    checkSse(cpu);
    loadSrc(cpu, i, wide ? 8 : 4, false);
    const x = xmmWords(cpu);
    const d = i.reg * 4;
    commitFlags(cpu, sseCompare(wide, x[d + 1], x[d], SRC[1], SRC[0], cpu.state.mxcsr[0], signal));
    // OF, SF, AF, ZF, PF, CF all written (the first three cleared).
    cpu.setFlags(comiEflags(CMP.relation), 0x8d5);
  };
}

export const COMPARE_HANDLERS: Record<string, Handler> = {
  CMPPS: cmpPacked(false),
  CMPPD: cmpPacked(true),
  CMPSS: cmpScalar(false),
  CMPSD: cmpScalar(true),
  COMISS: comi(false, true),
  COMISD: comi(true, true),
  UCOMISS: comi(false, false),
  UCOMISD: comi(true, false),
};
