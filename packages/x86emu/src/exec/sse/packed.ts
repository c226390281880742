/**
 * The frame every packed-integer handler shares: the destination (ModRM.reg) and source (r/m or
 * memory) of an MMX (`Pq,Qq`, 8 bytes) or XMM (`Vdq,Wdq`, 16 bytes) form as lanes, then one
 * operation over `n` bytes. Operations are written once over lanes and byte offsets, so the MMX
 * and SSE forms of an instruction share one function.
 */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { checkMmx, checkSse } from './check.js';
import { type Lanes, MMD, SRC, TMP, xmmLanes } from './lanes.js';
import { mmxEnter, mmxRead, mmxWrite, readMem } from './operands.js';

/**
 * dest ← op(dest, src) over `n` bytes: D at byte `d`, S at byte `s`; `imm` is the instruction's
 * Ib where it has one. An operation whose result element k reads other elements than k of its
 * inputs builds the result in TMP and copies it (`commit`), since D and S may be one register.
 */
export type PackedOp = (D: Lanes, d: number, S: Lanes, s: number, n: number, imm: number) => void;

/** Copies TMP[0, n) to D at byte d. */
export function commit(D: Lanes, d: number, n: number): void {
  const t = TMP.u32;
  const o = d >> 2;
  D.u32[o] = t[0];
  D.u32[o + 1] = t[1];
  if (n === 16) {
    D.u32[o + 2] = t[2];
    D.u32[o + 3] = t[3];
  }
}

/**
 * The size of the memory operand of a row: 16 for W…dq forms, 8 for Q…q, else from the token
 * (Qd: the low-half unpacks of MMX read 4 bytes, SDM PUNPCKLBW "mm/m32").
 */
function srcBytes(row: OpcodeRow): number {
  const size = (row.operands.split(',')[1] ?? '').slice(1);
  const SIZES: Record<string, number> = { dq: 16, ps: 16, pd: 16, q: 8, d: 4, w: 2, b: 1 };
  return SIZES[size] ?? 16;
}

/** A packed form: MMX when the row's operands are P/Q, else XMM (V/W). `align`: the legacy-SSE rule for m128. */
export function makePacked(row: OpcodeRow, op: PackedOp, align = true): Handler {
  const n = srcBytes(row);
  if (row.operands.startsWith('P'))
    return (cpu, i) => {
      checkMmx(cpu);
      if (i.mod === 3) mmxRead(cpu, i.rm, SRC, 0);
      else readMem(cpu, i, SRC, 0, n, false);
      mmxRead(cpu, i.reg, MMD, 0);
      op(MMD, 0, SRC, 0, 8, i.imm);
      mmxWrite(cpu, i.reg, MMD, 0);
      mmxEnter(cpu);
    };
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu);
    if (i.mod === 3) op(X, i.reg * 16, X, i.rm * 16, 16, i.imm);
    else {
      readMem(cpu, i, SRC, 0, n, align && n === 16);
      op(X, i.reg * 16, SRC, 0, 16, i.imm);
    }
  };
}
