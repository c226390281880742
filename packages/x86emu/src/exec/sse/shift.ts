/**
 * Packed shifts (SDM Vol. 2 PSLLW/PSLLD/PSLLQ, PSRLW/…, PSRAW/PSRAD, PSLLDQ/PSRLDQ): by an
 * immediate (groups 12–14, 0F 71–73, the register in ModRM.r/m) or by the low 64 bits of a
 * source operand. A count past the element width gives 0, or all sign bits for PSRA.
 */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { checkMmx, checkSse } from './check.js';
import { type Lanes, MMD, SRC, TMP, xmmLanes } from './lanes.js';
import { mmxEnter, mmxRead, mmxWrite, readMem } from './operands.js';
import { commit } from './packed.js';

/** Shifts the `n` bytes of D at byte d by `count` (an unsigned number, possibly huge). */
type ShiftOp = (D: Lanes, d: number, n: number, count: number) => void;

function sll16(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n >> 1; k++) D.u16[(d >> 1) + k] = c > 15 ? 0 : D.u16[(d >> 1) + k] << c;
}
function srl16(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n >> 1; k++) D.u16[(d >> 1) + k] = c > 15 ? 0 : D.u16[(d >> 1) + k] >>> c;
}
function sra16(D: Lanes, d: number, n: number, c: number): void {
  const e = Math.min(c, 15);
  for (let k = 0; k < n >> 1; k++) D.i16[(d >> 1) + k] = D.i16[(d >> 1) + k] >> e;
}
function sll32(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n >> 2; k++) D.u32[(d >> 2) + k] = c > 31 ? 0 : D.u32[(d >> 2) + k] << c;
}
function srl32(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n >> 2; k++) D.u32[(d >> 2) + k] = c > 31 ? 0 : D.u32[(d >> 2) + k] >>> c;
}
function sra32(D: Lanes, d: number, n: number, c: number): void {
  const e = Math.min(c, 31);
  for (let k = 0; k < n >> 2; k++) D.i32[(d >> 2) + k] = D.i32[(d >> 2) + k] >> e;
}
function sll64(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n >> 2; k += 2) {
    const a = (d >> 2) + k;
    const lo = D.u32[a];
    const hi = D.u32[a + 1];
    if (c > 63) {
      D.u32[a] = 0;
      D.u32[a + 1] = 0;
    } else if (c >= 32) {
      D.u32[a + 1] = lo << (c - 32);
      D.u32[a] = 0;
    } else if (c > 0) {
      D.u32[a + 1] = (hi << c) | (lo >>> (32 - c));
      D.u32[a] = lo << c;
    }
  }
}
function srl64(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n >> 2; k += 2) {
    const a = (d >> 2) + k;
    const lo = D.u32[a];
    const hi = D.u32[a + 1];
    if (c > 63) {
      D.u32[a] = 0;
      D.u32[a + 1] = 0;
    } else if (c >= 32) {
      D.u32[a] = hi >>> (c - 32);
      D.u32[a + 1] = 0;
    } else if (c > 0) {
      D.u32[a] = (lo >>> c) | (hi << (32 - c));
      D.u32[a + 1] = hi >>> c;
    }
  }
}
/** PSLLDQ / PSRLDQ: the whole register by bytes. */
function slldq(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n; k++) TMP.u8[k] = k - c >= 0 ? D.u8[d + k - c] : 0;
  commit(D, d, n);
}
function srldq(D: Lanes, d: number, n: number, c: number): void {
  for (let k = 0; k < n; k++) TMP.u8[k] = k + c < n ? D.u8[d + k + c] : 0;
  commit(D, d, n);
}

const OPS: Record<string, ShiftOp> = {
  PSLLW: sll16,
  PSRLW: srl16,
  PSRAW: sra16,
  PSLLD: sll32,
  PSRLD: srl32,
  PSRAD: sra32,
  PSLLQ: sll64,
  PSRLQ: srl64,
  PSLLDQ: slldq,
  PSRLDQ: srldq,
};

/** The count of a shift by register or memory: the low 64 bits, unsigned (any high bit: ≥ 2^32). */
function countOf(S: Lanes, s: number): number {
  return S.u32[(s >> 2) + 1] !== 0 ? 0xffffffff : S.u32[s >> 2];
}

export function makePshift(row: OpcodeRow): Handler {
  const op = OPS[row.mnemonic];
  const byImm = row.operands.endsWith('Ib');
  const mmx = row.operands.startsWith('P') || row.operands.startsWith('N');
  if (byImm && mmx)
    return (cpu, i) => {
      checkMmx(cpu);
      mmxRead(cpu, i.rm, MMD, 0);
      op(MMD, 0, 8, i.imm);
      mmxWrite(cpu, i.rm, MMD, 0);
      mmxEnter(cpu);
    };
  if (byImm)
    return (cpu, i) => {
      checkSse(cpu);
      op(xmmLanes(cpu), i.rm * 16, 16, i.imm);
    };
  if (mmx)
    return (cpu, i) => {
      checkMmx(cpu);
      if (i.mod === 3) mmxRead(cpu, i.rm, SRC, 0);
      else readMem(cpu, i, SRC, 0, 8, false);
      mmxRead(cpu, i.reg, MMD, 0);
      op(MMD, 0, 8, countOf(SRC, 0));
      mmxWrite(cpu, i.reg, MMD, 0);
      mmxEnter(cpu);
    };
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu);
    let c: number;
    if (i.mod === 3) c = countOf(X, i.rm * 16);
    else {
      // The source is an m128 (aligned), of which the low quadword is the count.
      readMem(cpu, i, SRC, 0, 16, true);
      c = countOf(SRC, 0);
    }
    op(X, i.reg * 16, 16, c);
  };
}
