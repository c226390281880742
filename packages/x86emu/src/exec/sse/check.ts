/**
 * The availability checks SIMD integer instructions make before anything else. SSE forms use the
 * x87 engine's shared `checkSse` (exec/x87/fpu-checks.ts); MMX forms have their own rules.
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import { Cr0 } from '../../state.js';
import { checkSse } from '../x87/fpu-checks.js';
import { pendingError, SW_ES } from '../x87/status.js';

export { checkSse };

/**
 * MMX forms (SDM Vol. 3 Table 12-1, Table 22-7): #UD when CR0.EM = 1, #NM when CR0.TS = 1,
 * then an unmasked x87 exception left pending is taken (#MF, or FERR# with CR0.NE = 0);
 * CR4.OSFXSR does not matter (MMX state is x87 state).
 */
export function checkMmx(cpu: Cpu): void {
  const s = cpu.state;
  const cr0 = s.cr[0];
  if (cr0 & Cr0.EM) cpu.ud();
  if (cr0 & Cr0.TS) cpu.raise(C.NM, 0, false);
  if (s.fpuStatus[0] & SW_ES) pendingError(cpu);
}
