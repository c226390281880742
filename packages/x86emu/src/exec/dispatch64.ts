/**
 * 64-bit mode's dispatch, derived from the same `OPCODE_TABLE` rows as `DISPATCH`: chosen once
 * at decode time (`dispatch64(insn)`), so 32-bit code pays nothing for it.
 *
 * - `DISPATCH64W`: handlers for 64-bit operands (REX.W, or the d64/f64 default), by mnemonic.
 * - `DISPATCH64`: handlers whose behaviour differs in 64-bit mode whatever the operand size
 *   (64-bit RIP and RSP, moffs64, MOVSXD).
 * - Otherwise the legacy handler runs: 8/16/32-bit operands behave as in protected mode, with
 *   64-bit addresses (`Cpu.ea64`, `Cpu.linear64`) and 32-bit results zero-extended (`setReg`).
 *
 * A row that still lacks its 64-bit form raises #UD in 64-bit mode instead of computing with the
 * wrong width (see `UNIMPLEMENTED_IN_64`, listed in the README's limits).
 */
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import { OPCODE_TABLE, type OpcodeRow } from '../decoder/opcode-table.js';
import { DISPATCH } from './dispatch.js';
import { makeAlu32Long } from './long/alu32-long.js';
import * as A from './long/alu64.js';
import { makeAlu64 } from './long/alu64-fast.js';
import * as CT from './long/control64.js';
import * as FAR from './long/far64.js';
import * as MI from './long/misc64.js';
import { makeMov32Long } from './long/move32-long.js';
import * as M from './long/move64.js';
import * as SH from './long/shift64.js';
import { makeString64 } from './long/string64.js';
import { makeRandom } from './random.js';
import { makeCrc32, POPCNT } from './sse/bitops.js';
import * as S64 from './system64.js';

type Entry = Handler | { factory: (row: OpcodeRow) => Handler };
const f = (factory: (row: OpcodeRow) => Handler): Entry => ({ factory });

/** 64-bit operand forms. */
const HANDLERS_W: Record<string, Entry> = {
  ADD: f(makeAlu64),
  OR: f(makeAlu64),
  ADC: f(makeAlu64),
  SBB: f(makeAlu64),
  AND: f(makeAlu64),
  SUB: f(makeAlu64),
  XOR: f(makeAlu64),
  CMP: f(makeAlu64),
  TEST: f(A.makeTest64),
  INC: f(A.makeIncDec64),
  DEC: f(A.makeIncDec64),
  NOT: f(A.makeNotNeg64),
  NEG: f(A.makeNotNeg64),
  MUL: f(A.makeMulDiv64),
  IMUL: f(A.makeMulDiv64),
  DIV: f(A.makeMulDiv64),
  IDIV: f(A.makeMulDiv64),
  IMUL2: f(A.makeImulN64),
  IMUL3: f(A.makeImulN64),
  XADD: A.XADD64,
  CMPXCHG: A.CMPXCHG64,
  CBW: A.CDQE,
  CWD: A.CQO,
  MOV: f(M.makeMov64),
  MOVZX: f(M.makeMovx64),
  MOVSX: f(M.makeMovx64),
  LSS: f(M.makeLoadFar64),
  LFS: f(M.makeLoadFar64),
  LGS: f(M.makeLoadFar64),
  XCHG: f(M.makeXchg64),
  CMOVCC: M.CMOVCC64,
  ROL: f(SH.makeShift64),
  ROR: f(SH.makeShift64),
  RCL: f(SH.makeShift64),
  RCR: f(SH.makeShift64),
  SHL: f(SH.makeShift64),
  SHR: f(SH.makeShift64),
  SAL: f(SH.makeShift64),
  SAR: f(SH.makeShift64),
  SHLD: f(SH.makeShxd64),
  SHRD: f(SH.makeShxd64),
  BSF: f(SH.makeBsx64),
  BSR: f(SH.makeBsx64),
  BSWAP: SH.BSWAP64,
  // POPCNT and CRC32 handle every operand size themselves (exec/sse/bitops.ts).
  POPCNT: POPCNT,
  CRC32: f(makeCrc32),
  // RDRAND and RDSEED handle every operand size themselves (exec/random.ts).
  RDRAND: f(makeRandom),
  RDSEED: f(makeRandom),
};

/** REX.W forms that are their 32-bit form with the result zero-extended (or REX.W ignored). */
const AS_32 = new Set(['MOV_FROM_SEG', 'LAR', 'LSL', 'SLDT', 'STR', 'SMSW', 'IN', 'OUT']);

/** Forms whose 64-bit-mode behaviour differs at every operand size. */
const HANDLERS_MODE: Record<string, Entry> = {
  JCC: CT.JCC64,
  JMP: CT.JMP64,
  JMP_IND: CT.JMP_IND64,
  CALL: CT.CALL64,
  CALL_IND: CT.CALL_IND64,
  RET: f(CT.makeRet64),
  LOOP: CT.LOOP64,
  LOOPE: CT.LOOPE64,
  LOOPNE: CT.LOOPNE64,
  JCXZ: CT.JCXZ64,
  PUSH: f(M.makePush64),
  POP: f(M.makePop64),
  LEAVE: M.LEAVE64,
  MOVSXD: M.MOVSXD,
  LGDT: f(S64.makeLoadDt64),
  LIDT: f(S64.makeLoadDt64),
  SGDT: f(S64.makeStoreDt64),
  SIDT: f(S64.makeStoreDt64),
  MOVS: f(makeString64),
  CMPS: f(makeString64),
  STOS: f(makeString64),
  LODS: f(makeString64),
  SCAS: f(makeString64),
  INS: f(makeString64),
  OUTS: f(makeString64),
  PUSHF: MI.PUSHF64,
  POPF: MI.POPF64,
  ENTER: MI.ENTER64,
  PUSH_SEG: f(MI.makePushSeg64),
  POP_SEG: f(MI.makePopSeg64),
  CMPXCHG8B: MI.CMPXCHG8B64,
  INVLPG: MI.INVLPG64,
  NOP: MI.NOP64,
  XLAT: MI.XLAT64,
  LEA: M.LEA64,
  RETF: f(FAR.makeRetf64),
  IRET: FAR.IRET64,
  JMPF_IND: FAR.JMPF_IND64,
  CALLF_IND: FAR.CALLF_IND64,
  BT: f(SH.makeBt64),
  BTS: f(SH.makeBt64),
  BTR: f(SH.makeBt64),
  BTC: f(SH.makeBt64),
};

/** A size-sensitive row with no 64-bit handler: #UD rather than a 32-bit result. */
const UD64: Handler = (cpu) => cpu.ud();

function build(table: Record<string, Entry>): (Handler | null)[] {
  return OPCODE_TABLE.map((row) => {
    const e = table[row.mnemonic];
    if (e === undefined) return null;
    return typeof e === 'function' ? e : e.factory(row);
  });
}

/** Operand forms whose width follows the operand size (v/z), so a 64-bit operand needs its own handler. */
function sizeSensitive(row: OpcodeRow): boolean {
  // CBW/CWD have no operands but widen with the operand size (CDQE, CQO); BSWAP's Zd too.
  if (row.mnemonic === 'CBW' || row.mnemonic === 'CWD' || AS_32.has(row.mnemonic)) return true;
  return row.operands.split(',').some((t) => /^(E|G|Z|O|X|Y)v$|^(I|J)z$|^eAX$|^Ev$|^Iv$|^Gz$|^Zd$/.test(t));
}

export const DISPATCH64W = build(HANDLERS_W).map((h, k) =>
  h === null && AS_32.has(OPCODE_TABLE[k].mnemonic) ? MI.as32(DISPATCH[k]) : h,
);
const MODE = build(HANDLERS_MODE);
export const DISPATCH64 = OPCODE_TABLE.map((row, k) => {
  const mode = MODE[k];
  if (mode !== null) return mode;
  // MOV with moffs (A0–A3): an 8-byte offset at every operand size.
  if (row.mnemonic === 'MOV' && /O[bv]/.test(row.operands)) return M.makeMovMoffs64(row);
  return null;
});
/** Rows whose legacy handler would compute a 64-bit operand with 32-bit width. */
const NEEDS_W = OPCODE_TABLE.map((row) => sizeSensitive(row));

/**
 * Handlers for 32-bit operands in 64-bit mode that beat the legacy ones (ALU, INC/DEC, MOV: see
 * alu32-long.ts), else null.
 */
const DISPATCH64D = OPCODE_TABLE.map((row, k) => makeAlu32Long(row, DISPATCH[k]) ?? makeMov32Long(row));

/** The handler for `insn` decoded in 64-bit mode. */
export function dispatch64(insn: Insn): Handler {
  const row = insn.row;
  const mode = DISPATCH64[row];
  if (mode !== null) return mode;
  // REX.W matters only to forms whose width follows the operand size: byte forms (Eb, AL…)
  // ignore it and keep their legacy handler.
  if (insn.opSize === 8 && NEEDS_W[row]) return DISPATCH64W[row] ?? UD64;
  if (insn.opSize === 4) {
    const d = DISPATCH64D[row];
    if (d !== null) return d;
  }
  return DISPATCH[row];
}
