/**
 * The device-not-available and SIMD availability checks every x87, SSE and state-management
 * instruction makes before anything else (SDM Vol. 3 2.5 CR0.EM/MP/TS, Table 2-2; Vol. 1 13.1,
 * Table 13-1 for SSE; KVM's emulator does the same in `em_fxsave` / `check_*` helpers).
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import { Cr0, Cr4 } from '../../state.js';

/** #XM, the SIMD floating-point exception (SDM Vol. 3 Table 6-1). */
export const XM = 19;

/**
 * x87 instructions (other than WAIT/FWAIT): #NM when CR0.EM or CR0.TS is set (SDM Vol. 3
 * Table 2-2), the trap an OS uses for lazy FPU switching or for emulating the x87.
 */
export function checkFpu(cpu: Cpu): void {
  if (cpu.state.cr[0] & (Cr0.EM | Cr0.TS)) cpu.raise(C.NM, 0, false);
}

/**
 * SSE/SSE2/… instructions (SDM Vol. 1 Table 13-1, Vol. 3 Table 2-2): #UD when CR0.EM = 1 or
 * CR4.OSFXSR = 0 (the OS has not declared FXSAVE support), then #NM when CR0.TS = 1. Call it
 * first in every instruction that touches XMM registers or MXCSR.
 */
export function checkSse(cpu: Cpu): void {
  const s = cpu.state;
  const cr0 = s.cr[0];
  if (cr0 & Cr0.EM || !(s.cr[4] & Cr4.OSFXSR)) cpu.ud();
  if (cr0 & Cr0.TS) cpu.raise(C.NM, 0, false);
}

/**
 * An unmasked SIMD floating-point exception (MXCSR flags already written): #XM when
 * CR4.OSXMMEXCPT = 1, else #UD (SDM Vol. 1 11.5.1, Vol. 3 2.5 CR4.OSXMMEXCPT).
 */
export function raiseSimdFp(cpu: Cpu): never {
  if (cpu.state.cr[4] & Cr4.OSXMMEXCPT) return cpu.raise(XM, 0, false);
  return cpu.ud();
}
