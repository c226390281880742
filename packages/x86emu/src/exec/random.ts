/**
 * RDRAND and RDSEED (0F C7 /6 and /7, register forms only; SDM Vol. 2, Vol. 1 7.3.17): a random
 * value of the operand size (16, 32, or 64 with REX.W) from the processor's generator
 * (`Cpu.random`), CF = 1; when it has none to give, the destination 0 and CF = 0. OF, SF, ZF, AF
 * and PF are cleared either way. Both are "NFx": an F2 or F3 prefix makes them #UD (with F3,
 * 0F C7 /7 is RDPID and /6 SENDUIPI, which x86emu does not have). LOCK is #UD by the row.
 */
import { InterceptKind } from '../api/intercepts.js';
import type { Handler } from '../cpu/handler.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag } from '../state.js';

/** OF, SF, ZF, AF, PF, CF: what RDRAND and RDSEED write. */
const STATUS_FLAGS = Flag.OF | Flag.SF | Flag.ZF | Flag.AF | Flag.PF | Flag.CF;

export function makeRandom(row: OpcodeRow): Handler {
  const kind = row.mnemonic === 'RDRAND' ? InterceptKind.Rdrand : InterceptKind.Rdseed;
  return (cpu, i) => {
    if (i.rep !== 0) cpu.ud();
    const size = i.opSize;
    // VMX's RDRAND/RDSEED exiting (SDM Vol. 3C 26.1.3), after the #UD checks: the instruction
    // information names the destination and its size (Table 28-12).
    if (cpu.interceptMask & (1 << kind)) {
      cpu.exit.gpr = i.rm;
      cpu.exit.operandSize = size;
      cpu.intercept(kind);
    }
    let lo = cpu.random.random32();
    let hi = size === 8 && lo >= 0 ? cpu.random.random32() : 0;
    const ok = lo >= 0 && hi >= 0;
    if (!ok) lo = hi = 0;
    if (size === 8) {
      cpu.gpr[i.rm] = lo;
      cpu.gprHigh[i.rm] = hi;
    } else cpu.setReg(i.rm, size, 0, lo);
    cpu.setFlags(ok ? Flag.CF : 0, STATUS_FLAGS);
  };
}
