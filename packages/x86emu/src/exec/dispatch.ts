/**
 * The interpreter's dispatch table, derived from `OPCODE_TABLE`: one handler per row, chosen by
 * mnemonic (a handler, or a factory given the row). A row without a handler is a build-time
 * error caught by the tests (`missingHandlers()`).
 */
import type { Handler } from '../cpu/handler.js';
import { OPCODE_TABLE, type OpcodeRow } from '../decoder/opcode-table.js';
import * as A from './alu.js';
import * as BCD from './bcd.js';
import * as B from './bits.js';
import * as CT from './control.js';
import { MOVSXD } from './long/move64.js';
import * as M from './move.js';
import { makeRandom } from './random.js';
import { makeShift, makeShxd } from './shift.js';
import { SSE_INT_HANDLERS } from './sse/handlers.js';
import { SSE_FP_HANDLERS } from './sse-fp/index.js';
import { makeString } from './string.js';
import * as S from './system.js';
import * as S64 from './system64.js';
import { X87_HANDLERS } from './x87/index.js';

type Entry = Handler | { factory: (row: OpcodeRow) => Handler };
const f = (factory: (row: OpcodeRow) => Handler): Entry => ({ factory });

const HANDLERS: Record<string, Entry> = {
  ADD: f(A.makeAlu),
  OR: f(A.makeAlu),
  ADC: f(A.makeAlu),
  SBB: f(A.makeAlu),
  AND: f(A.makeAlu),
  SUB: f(A.makeAlu),
  XOR: f(A.makeAlu),
  CMP: f(A.makeAlu),
  TEST: f(A.makeTest),
  INC: f(A.makeIncDec),
  DEC: f(A.makeIncDec),
  NOT: f(A.makeNotNeg),
  NEG: f(A.makeNotNeg),
  MUL: f(A.makeMulDiv),
  IMUL: f(A.makeMulDiv),
  DIV: f(A.makeMulDiv),
  IDIV: f(A.makeMulDiv),
  IMUL2: f(A.makeImulN),
  IMUL3: f(A.makeImulN),
  XADD: A.XADD,
  CMPXCHG: A.CMPXCHG,
  CMPXCHG8B: A.CMPXCHG8B,
  RDRAND: f(makeRandom),
  RDSEED: f(makeRandom),
  CBW: A.CBW,
  CWD: A.CWD,
  DAA: BCD.DAA,
  DAS: BCD.DAS,
  AAA: BCD.AAA,
  AAS: BCD.AAS,
  AAM: BCD.AAM,
  AAD: BCD.AAD,
  SALC: BCD.SALC,
  ROL: f(makeShift),
  ROR: f(makeShift),
  RCL: f(makeShift),
  RCR: f(makeShift),
  SHL: f(makeShift),
  SHR: f(makeShift),
  SAL: f(makeShift),
  SAR: f(makeShift),
  SHLD: f(makeShxd),
  SHRD: f(makeShxd),
  BT: f(B.makeBt),
  BTS: f(B.makeBt),
  BTR: f(B.makeBt),
  BTC: f(B.makeBt),
  BSF: f(B.makeBsx),
  BSR: f(B.makeBsx),
  BSWAP: B.BSWAP,
  SETCC: B.SETCC,
  CMOVCC: B.CMOVCC,
  MOV: f(M.makeMov),
  MOVZX: f(M.makeMovx),
  MOVSX: f(M.makeMovx),
  LEA: M.LEA,
  XCHG: f(M.makeXchg),
  NOP: M.NOP,
  PUSH: f(M.makePush),
  POP: f(M.makePop),
  PUSH_SEG: f(M.makePushSeg),
  POP_SEG: f(M.makePopSeg),
  PUSHA: M.PUSHA,
  POPA: M.POPA,
  ENTER: M.ENTER,
  LEAVE: M.LEAVE,
  PUSHF: M.PUSHF,
  POPF: M.POPF,
  LAHF: M.LAHF,
  SAHF: M.SAHF,
  XLAT: M.XLAT,
  BOUND: M.BOUND,
  MOV_FROM_SEG: M.MOV_FROM_SEG,
  MOV_TO_SEG: M.MOV_TO_SEG,
  LES: f(M.makeLoadFar),
  LDS: f(M.makeLoadFar),
  LSS: f(M.makeLoadFar),
  LFS: f(M.makeLoadFar),
  LGS: f(M.makeLoadFar),
  MOVS: f(makeString),
  CMPS: f(makeString),
  STOS: f(makeString),
  LODS: f(makeString),
  SCAS: f(makeString),
  INS: f(makeString),
  OUTS: f(makeString),
  JCC: CT.JCC,
  JMP: CT.JMP,
  JMP_IND: CT.JMP_IND,
  CALL: CT.CALL,
  CALL_IND: CT.CALL_IND,
  RET: f(CT.makeRet),
  LOOP: CT.LOOP,
  LOOPE: CT.LOOPE,
  LOOPNE: CT.LOOPNE,
  JCXZ: CT.JCXZ,
  JMPF: CT.JMPF,
  CALLF: CT.CALLF,
  JMPF_IND: CT.JMPF_IND,
  CALLF_IND: CT.CALLF_IND,
  RETF: f(CT.makeRetf),
  IRET: CT.IRET,
  INT: CT.INT,
  INT3: CT.INT3,
  INTO: CT.INTO,
  INT1: CT.INT1,
  CLC: S.CLC,
  STC: S.STC,
  CMC: S.CMC,
  CLD: S.CLD,
  STD: S.STD,
  CLI: S.CLI,
  STI: S.STI,
  HLT: S.HLT,
  INVD: S.INVD,
  WBINVD: S.WBINVD,
  UD2: S.UD2,
  VMCALL: S.VMCALL,
  VMMCALL: S.VMMCALL,
  MONITOR: S.MONITOR,
  MWAIT: S.MONITOR,
  CPUID: S.CPUID,
  RDTSC: S.RDTSC,
  RDPMC: S.RDPMC,
  SERIALIZE: S.SERIALIZE,
  RDMSR: S.RDMSR,
  WRMSR: S.WRMSR,
  MOV_TO_CR: S.MOV_TO_CR,
  MOV_FROM_CR: S.MOV_FROM_CR,
  MOV_TO_DR: S.MOV_TO_DR,
  MOV_FROM_DR: S.MOV_FROM_DR,
  LMSW: S.LMSW,
  SMSW: S.SMSW,
  CLTS: S.CLTS,
  LGDT: f(S.makeLoadDt),
  LIDT: f(S.makeLoadDt),
  SGDT: f(S.makeStoreDt),
  SIDT: f(S.makeStoreDt),
  LLDT: S.LLDT,
  LTR: S.LTR,
  SLDT: S.SLDT,
  STR: S.STR,
  LAR: f(S.makeLarLsl),
  LSL: f(S.makeLarLsl),
  VERR: f(S.makeVerx),
  VERW: f(S.makeVerx),
  ARPL: S.ARPL,
  // Only decoded in 64-bit mode (an `o64` row); dispatch64 picks the same handler.
  MOVSXD,
  INVLPG: S.INVLPG,
  SYSENTER: S.SYSENTER,
  SYSCALL: S64.SYSCALL,
  SYSRET: S64.SYSRET,
  SWAPGS: S64.SWAPGS,
  RDTSCP: S64.RDTSCP,
  SYSEXIT: S.SYSEXIT,
  IN: f(S.makeInOut),
  OUT: f(S.makeInOut),
  ...X87_HANDLERS,
  ...SSE_INT_HANDLERS,
  ...SSE_FP_HANDLERS,
};

const UNIMPLEMENTED: Handler = (cpu) => cpu.ud();

/** Mnemonics in the table without a handler (should be empty; checked by a test). */
export function missingHandlers(): string[] {
  return [...new Set(OPCODE_TABLE.map((r) => r.mnemonic).filter((m) => !(m in HANDLERS)))];
}

export const DISPATCH: Handler[] = OPCODE_TABLE.map((row) => {
  const e = HANDLERS[row.mnemonic];
  if (e === undefined) return UNIMPLEMENTED;
  return typeof e === 'function' ? e : e.factory(row);
});
