/**
 * PUSH r64 and POP r64 (50+r, 58+r; 64-bit operand size, the default there: SDM Vol. 1 6.2.5) in
 * compiled 64-bit-mode code, as exec/long/stack64.ts push64/pop64 do them: the slot is SS:RSP-8
 * (PUSH) or SS:RSP (POP) through mem64.ts's TLB fast path, else `Cpu.write64`/`read64` with SS
 * (which raise #SS(0) for a non-canonical stack address, as the interpreter does); RSP moves only
 * after the access, so a fault leaves it as it was. PUSH RSP pushes RSP's old value; POP RSP
 * leaves the popped value in RSP (it is written after the increment: SDM Vol. 2 POP).
 */
import type { Insn } from '../decoder/insn.js';
import type { Emitted } from './emit.js';
import { setReg64 } from './emit64.js';
import { memRead8, memWrite64m } from './mem64.js';

/** A memory operand [RSP + disp] in SS (64-bit address size), for mem64.ts's helpers. */
function rspOperand(disp: number): Insn {
  return { ripRel: false, base: 4, index: -1, disp, scale: 0, memSeg: 2, adSize: 8 } as unknown as Insn;
}

/** RSP += `d` over its two halves (the carry or borrow into RSP[63:32]). */
function rspAdd(d: number): string {
  return `{ const l = rg4 + ${d}; const c = Math.floor(l / 4294967296); rg4 = l - c * 4294967296; rh4 = (rh4 + c) >>> 0; dm |= 16; }`;
}

/** PUSH/POP of register `i.rm` with 64-bit operand size, or null (another form: its handler). */
export function emitStack64(i: Insn, m: string, ops: string, next: number, hi: number): Emitted | null {
  if (ops !== 'Zv' || i.opSize !== 8) return null;
  const r = i.rm;
  if (m === 'PUSH')
    return {
      code: `{ ${memWrite64m(rspOperand(-8), 8, `rg${r}`, `rh${r}`, next, hi)} ${rspAdd(-8)} }`,
      memory: true,
      branch: false,
    };
  if (m === 'POP')
    return {
      code: `{ ${memRead8(rspOperand(0), 'p', next, hi)} ${rspAdd(8)} ${setReg64(r, 'pl', 'ph')} }`,
      memory: true,
      branch: false,
    };
  return null;
}
