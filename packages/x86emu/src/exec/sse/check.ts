/**
 * The availability checks SIMD integer instructions make before anything else. Until the x87
 * engineer's shared `exec/x87/fpu-checks.ts` lands these are our own, written the same way.
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import { Cr0, Cr4 } from '../../state.js';

/**
 * SSE…SSE4.2 forms (SDM Vol. 1 Table 13-1, Vol. 3 Table 2-2): #UD when CR0.EM = 1 or
 * CR4.OSFXSR = 0, then #NM when CR0.TS = 1 (#UD outranks #NM: SDM Vol. 3 Table 6-2).
 */
export function checkSse(cpu: Cpu): void {
  const s = cpu.state;
  const cr0 = s.cr[0];
  if (cr0 & Cr0.EM || !(s.cr[4] & Cr4.OSFXSR)) cpu.ud();
  if (cr0 & Cr0.TS) cpu.raise(C.NM, 0, false);
}

/**
 * MMX forms (SDM Vol. 3 Table 12-1, Table 22-7): #UD when CR0.EM = 1, #NM when CR0.TS = 1;
 * CR4.OSFXSR does not matter (MMX state is x87 state). A pending x87 exception (#MF) is not yet
 * checked: that belongs with the x87 engine's delivery of #MF.
 */
export function checkMmx(cpu: Cpu): void {
  const cr0 = cpu.state.cr[0];
  if (cr0 & Cr0.EM) cpu.ud();
  if (cr0 & Cr0.TS) cpu.raise(C.NM, 0, false);
}
