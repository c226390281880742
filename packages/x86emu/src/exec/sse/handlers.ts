/**
 * The SIMD integer, move and MMX handlers by mnemonic, spread into the interpreter's dispatch
 * table (`exec/dispatch.ts`). A factory gets the row (operands, prefix) to specialise on.
 */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import * as A from './arith.js';
import * as B from './bitops.js';
import * as IE from './insert-extract.js';
import * as M from './move.js';
import { makePacked, type PackedOp } from './packed.js';
import { makePshift } from './shift.js';
import * as SH from './shuffle.js';
import * as S41 from './sse41.js';
import { makePcmpstr } from './string.js';

type Entry = Handler | { factory: (row: OpcodeRow) => Handler };
const f = (factory: (row: OpcodeRow) => Handler): Entry => ({ factory });

export const SSE_INT_HANDLERS: Record<string, Entry> = {
  MOVUPS: f(M.makeMovdq),
  MOVUPD: f(M.makeMovdq),
  MOVAPS: f(M.makeMovdq),
  MOVAPD: f(M.makeMovdq),
  MOVDQA: f(M.makeMovdq),
  MOVDQU: f(M.makeMovdq),
  MOVNTPS: f(M.makeMovdq),
  MOVNTPD: f(M.makeMovdq),
  MOVNTDQ: f(M.makeMovdq),
  MOVNTDQA: f(M.makeMovdq),
  LDDQU: f(M.makeMovdq),
  MOVD: f(M.makeMovdGpr),
  MOVQ_MMX: f(M.makeMovqMmx),
  MOVNTQ: f(M.makeMovqMmx),
  MOVQ_XMM: f(M.makeMovqXmm),
  MOVSS: f(M.makeMovScalar),
  MOVSD: f(M.makeMovScalar),
  MOVLPS: f(M.makeMovHalf),
  MOVLPD: f(M.makeMovHalf),
  MOVHPS: f(M.makeMovHalf),
  MOVHPD: f(M.makeMovHalf),
  MOVHLPS: f(M.makeMovHalf),
  MOVLHPS: f(M.makeMovHalf),
  MOVDDUP: M.MOVDDUP,
  MOVSLDUP: f(M.makeMovDup),
  MOVSHDUP: f(M.makeMovDup),
  MOVQ2DQ: M.MOVQ2DQ,
  MOVDQ2Q: M.MOVDQ2Q,
  MOVNTI: M.MOVNTI,
  MOVMSKPS: f(M.makeMovmsk),
  MOVMSKPD: f(M.makeMovmsk),
  PMOVMSKB: f(M.makeMovmsk),
  MASKMOVQ: f(M.makeMaskmov),
  MASKMOVDQU: f(M.makeMaskmov),
  EMMS: M.EMMS,
  PINSRW: f(IE.makePinsr),
  PINSRB: f(IE.makePinsr),
  PINSRD: f(IE.makePinsr),
  PEXTRW: f(IE.makePextr),
  PEXTRB: f(IE.makePextr),
  PEXTRD: f(IE.makePextr),
  PTEST: S41.PTEST,
  PBLENDVB: S41.PBLENDVB,
  PBLENDW: f((row) => makePacked(row, S41.PBLENDW)),
  PHMINPOSUW: f((row) => makePacked(row, S41.PHMINPOSUW)),
  MPSADBW: f((row) => makePacked(row, S41.MPSADBW)),
  PCMPESTRI: f(makePcmpstr),
  PCMPESTRM: f(makePcmpstr),
  PCMPISTRI: f(makePcmpstr),
  PCMPISTRM: f(makePcmpstr),
  POPCNT: B.POPCNT,
  CRC32: f(B.makeCrc32),
};
for (const m of ['BW', 'BD', 'BQ', 'WD', 'WQ', 'DQ']) {
  SSE_INT_HANDLERS[`PMOVSX${m}`] = f(S41.makePmovx);
  SSE_INT_HANDLERS[`PMOVZX${m}`] = f(S41.makePmovx);
}

/** A module's packed operations: its exports named as mnemonics (PADDB…), not its helpers (satS16…). */
function opsOf(mod: Record<string, unknown>): Record<string, PackedOp> {
  const out: Record<string, PackedOp> = {};
  for (const [name, v] of Object.entries(mod)) if (/^[A-Z][A-Z0-9]+$/.test(name)) out[name] = v as PackedOp;
  return out;
}

const PACKED: Record<string, PackedOp> = {
  ...opsOf(A),
  ...opsOf(SH),
  ANDPS: A.PAND,
  ANDPD: A.PAND,
  ANDNPS: A.PANDN,
  ANDNPD: A.PANDN,
  ORPS: A.POR,
  ORPD: A.POR,
  XORPS: A.PXOR,
  XORPD: A.PXOR,
  UNPCKLPS: SH.PUNPCKLDQ,
  UNPCKHPS: SH.PUNPCKHDQ,
  UNPCKLPD: SH.PUNPCKLQDQ,
  UNPCKHPD: SH.PUNPCKHQDQ,
};
for (const [name, op] of Object.entries(PACKED)) SSE_INT_HANDLERS[name] = f((row) => makePacked(row, op));
for (const name of [
  'PSLLW',
  'PSRLW',
  'PSRAW',
  'PSLLD',
  'PSRLD',
  'PSRAD',
  'PSLLQ',
  'PSRLQ',
  'PSLLDQ',
  'PSRLDQ',
])
  SSE_INT_HANDLERS[name] = f(makePshift);
