/**
 * x87 status-word bookkeeping shared by the instruction handlers: the waiting-instruction
 * prologue (#NM, then a pending unmasked exception as #MF or FERR#: SDM Vol. 1 8.6-8.7, Vol. 3
 * 6.9 priorities), merging an operation's FE_* flags and condition codes into the status word,
 * the ES/B summary bits, and the last-instruction pointers (FIP, FCS, FOP, FDP, FDS; SDM
 * Vol. 1 8.1.8-8.1.10).
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { type CpuState, Cr0 } from '../../state.js';
import { checkFpu } from './fpu-checks.js';

/** Status word: error summary (bit 7) and busy (bit 15, mirrors ES on every CPU since the 387). */
export const SW_ES = 0x80;
export const SW_B = 0x8000;
/** Exception flags and stack fault (bits 6-0). */
export const SW_FLAGS = 0x7f;
export const SW_SF = 0x40;
export const SW_C0 = 0x100;
export const SW_C1 = 0x200;
export const SW_C2 = 0x400;
export const SW_C3 = 0x4000;
export const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;

/**
 * A control word as loaded (FLDCW, FLDENV, FRSTOR, FXRSTOR, XRSTOR): the reserved bits 7 and
 * 15:13 read as 0 and bit 6 as 1, as the referee CPU stores them (FLDCW FFFFH → 1F7FH).
 */
export function loadedControlWord(v: number): number {
  return (v & 0x1f3f) | 0x40;
}

const TWO32 = 4294967296;

/**
 * Prologue of a waiting x87 instruction: #NM under CR0.EM/TS, then an unmasked exception left
 * pending by an earlier instruction. CR0.NE = 1: #MF, a fault on this instruction. CR0.NE = 0:
 * FERR# is asserted for the platform (IRQ 13 on a PC) and the instruction executes, as on a PC
 * whose chipset asserts IGNNE# (SDM Vol. 1 8.7.1; QEMU's fpu_raise_exception does the same).
 */
export function fpuEnter(cpu: Cpu): void {
  const s = cpu.state;
  if (s.cr[0] & (Cr0.EM | Cr0.TS)) checkFpu(cpu);
  if (s.fpuStatus[0] & SW_ES) pendingError(cpu);
}

export function pendingError(cpu: Cpu): void {
  if (cpu.state.cr[0] & Cr0.NE) cpu.raise(C.MF, 0, false);
  // FERR# is a level: asserted again at every waiting instruction that finds the error pending
  // (so a state loaded from outside, or a reset, cannot leave the platform's line out of step).
  cpu.ferrAsserted = true;
  cpu.ferr?.(true);
}

/**
 * ES and B from the flags and the masks, after the status or control word was loaded (FLDCW,
 * FLDENV, FRSTOR, FXRSTOR, XRSTOR): a flag left set and now unmasked makes the next waiting
 * instruction fault (SDM Vol. 2 FLDCW, FLDENV). FERR# drops when nothing is pending.
 */
export function updateSummary(cpu: Cpu): void {
  const s = cpu.state;
  const sw = s.fpuStatus[0];
  if (sw & ~s.fpuControl[0] & 0x3f) s.fpuStatus[0] = sw | SW_ES | SW_B;
  else {
    s.fpuStatus[0] = sw & ~(SW_ES | SW_B);
    if (cpu.ferrAsserted) {
      cpu.ferrAsserted = false;
      cpu.ferr?.(false);
    }
  }
}

/**
 * Merges `flags` (FE_* bits, SF, and condition codes) into the status word: the exception and
 * SF bits are sticky, the condition codes in `ccMask` are replaced. An unmasked exception sets
 * ES and B (it is reported at the next waiting instruction). Returns true when the instruction
 * must end without writing its destination or moving the stack: an unmasked IE, DE or ZE (SDM
 * Vol. 1 8.5.1-8.5.3), or with `storeToMemory` also OE or UE (8.5.4-8.5.5).
 */
export function mergeFlags(s: CpuState, flags: number, ccMask: number, storeToMemory = false): boolean {
  let sw = (s.fpuStatus[0] & ~ccMask) | (flags & ccMask) | (flags & SW_FLAGS);
  const unmasked = flags & ~s.fpuControl[0] & 0x3f;
  if (unmasked !== 0) sw |= SW_ES | SW_B;
  s.fpuStatus[0] = sw;
  return (unmasked & (storeToMemory ? 0x1f : 0x07)) !== 0;
}

/**
 * Records FIP/FCS and FOP for a non-control instruction (the pointers an exception handler
 * reads), and clears FDP/FDS: an instruction without a memory operand leaves them 0, as the
 * referee CPU does (memory forms call `recordDp` next).
 */
export function recordIp(cpu: Cpu, i: Insn): void {
  const s = cpu.state;
  s.fpuIp[0] = cpu.startEip;
  s.fpuIp[1] = cpu.startRipHi;
  s.fpuSel[0] = s.segSel[1];
  s.fpuOpcode[0] = ((i.op & 7) << 8) | (i.mod << 6) | (i.ext << 3) | (i.rm & 7);
  s.fpuDp[0] = 0;
  s.fpuDp[1] = 0;
  s.fpuSel[1] = 0;
}

/** Records FDP/FDS: the memory operand's offset (64-bit in 64-bit mode) and segment selector. */
export function recordDp(cpu: Cpu, i: Insn, ea: number): void {
  const s = cpu.state;
  if (ea >= 0 && ea < TWO32) {
    s.fpuDp[0] = ea;
    s.fpuDp[1] = 0;
  } else {
    const hi = Math.floor(ea / TWO32);
    s.fpuDp[0] = ea - hi * TWO32;
    s.fpuDp[1] = hi >>> 0;
  }
  s.fpuSel[1] = s.segSel[i.memSeg];
}
