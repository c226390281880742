/**
 * Lazy arithmetic flags (the v86/Bochs idea): an ALU instruction records its operation,
 * operands and result; CF, PF, AF, ZF, SF and OF are computed only when something reads them.
 * Operand and result values are stored masked to the operation size, unsigned.
 */
export const LF_NONE = 0;
export const LF_ADD = 1;
/** ADD with carry-in 1 (ADC when CF was set). */
export const LF_ADC = 2;
export const LF_SUB = 3;
/** SUB with borrow-in 1 (SBB when CF was set). */
export const LF_SBB = 4;
/** AND/OR/XOR/TEST: CF = OF = 0, AF undefined (we clear it, as current Intel parts do). */
export const LF_LOGIC = 5;
/** INC/DEC: like ADD/SUB of 1, but CF is preserved (kept in the aux slot). */
export const LF_INC = 6;
export const LF_DEC = 7;
/**
 * A 64-bit result (exec/long/alu64.ts): the result's halves in lfRes/lfResHi, CF and OF
 * precomputed in lfAux bits 0 and 1, and AF as bit 4 of lfDst ^ lfSrc ^ lfRes (lfSrc = lfRes).
 * Recording it costs 64-bit code a few stores instead of building RFLAGS on every operation.
 */
export const LF_ARITH64 = 8;

export const SIZE_MASK = [0, 0xff, 0xffff, 0, 0xffffffff] as const;
export const SIGN_BIT = [0, 0x80, 0x8000, 0, 0x80000000] as const;

/** PF: 1 when the low byte of the result has an even number of set bits (SDM Vol. 1 3.4.3.1). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let n = 0;
  for (let b = i; b; b >>= 1) n += b & 1;
  PARITY[i] = n & 1 ? 0 : 1;
}
