/**
 * SSE4.1 integer forms that are not element-wise (SDM Vol. 2 each page): PMOVSX/PMOVZX widening,
 * PTEST, PBLENDW, PBLENDVB, PHMINPOSUW, MPSADBW.
 */
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';
import { checkSse } from './check.js';
import { type Lanes, SRC, TMP, xmmLanes } from './lanes.js';
import { readMem } from './operands.js';
import { commit, type PackedOp } from './packed.js';

/**
 * PMOVSXBW … PMOVZXDQ (66 0F 38 20–25, 30–35): the low source elements of `from` bytes widened
 * to `to` bytes, sign- or zero-extended. The memory operand is only as wide as it reads (8, 4 or
 * 2 bytes) and has no alignment rule.
 */
export function makePmovx(row: OpcodeRow): Handler {
  const m = row.mnemonic;
  const signed = m.startsWith('PMOVSX');
  const sizes: Record<string, number> = { B: 1, W: 2, D: 4, Q: 8 };
  const from = sizes[m[6]];
  const to = sizes[m[7]];
  const count = 16 / to;
  const memBytes = count * from;
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu);
    let S: Lanes = X;
    let s = i.rm * 16;
    if (i.mod !== 3) {
      readMem(cpu, i, SRC, 0, memBytes, false);
      S = SRC;
      s = 0;
    }
    for (let k = 0; k < count; k++) {
      let v: number;
      if (from === 1) v = signed ? S.i8[s + k] : S.u8[s + k];
      else if (from === 2) v = signed ? S.i16[(s >> 1) + k] : S.u16[(s >> 1) + k];
      else v = signed ? S.i32[(s >> 2) + k] : S.u32[(s >> 2) + k];
      if (to === 2) TMP.u16[k] = v;
      else if (to === 4) TMP.u32[k] = v;
      else {
        TMP.u32[2 * k] = v;
        TMP.u32[2 * k + 1] = v < 0 ? 0xffffffff : 0;
      }
    }
    commit(X, i.reg * 16, 16);
  };
}

/** PTEST (66 0F 38 17): ZF = (dest AND src) = 0, CF = (NOT dest AND src) = 0; AF, OF, PF, SF cleared. */
export const PTEST: Handler = (cpu, i) => {
  checkSse(cpu);
  const X = xmmLanes(cpu);
  let S = X.u32;
  let s = i.rm * 4;
  if (i.mod !== 3) {
    readMem(cpu, i, SRC, 0, 16, true);
    S = SRC.u32;
    s = 0;
  }
  const d = i.reg * 4;
  let and = 0;
  let andn = 0;
  for (let k = 0; k < 4; k++) {
    and |= X.u32[d + k] & S[s + k];
    andn |= ~X.u32[d + k] & S[s + k];
  }
  cpu.setFlags((and === 0 ? Flag.ZF : 0) | (andn === 0 ? Flag.CF : 0), 0x8d5);
};

/** PBLENDW (66 0F 3A 0E): word k from the source where imm bit k is set. */
export const PBLENDW: PackedOp = (D, d, S, s, _n, imm) => {
  for (let k = 0; k < 8; k++) if ((imm >> k) & 1) D.u16[(d >> 1) + k] = S.u16[(s >> 1) + k];
};

/** PBLENDVB (66 0F 38 10): byte k from the source where bit 7 of XMM0 byte k (the implicit mask) is set. */
export const PBLENDVB: Handler = (cpu, i) => {
  checkSse(cpu);
  const X = xmmLanes(cpu);
  let S = X.u8;
  let s = i.rm * 16;
  if (i.mod !== 3) {
    readMem(cpu, i, SRC, 0, 16, true);
    S = SRC.u8;
    s = 0;
  }
  const d = i.reg * 16;
  for (let k = 0; k < 16; k++) if (X.u8[k] & 0x80) X.u8[d + k] = S[s + k];
};

/** PHMINPOSUW (66 0F 38 41): the least unsigned word and its (lowest) index; the rest zeroed. */
export const PHMINPOSUW: PackedOp = (D, d, S, s) => {
  let min = S.u16[s >> 1];
  let at = 0;
  for (let k = 1; k < 8; k++) {
    const v = S.u16[(s >> 1) + k];
    if (v < min) {
      min = v;
      at = k;
    }
  }
  const o = d >> 2;
  D.u32[o] = min | (at << 16);
  D.u32[o + 1] = 0;
  D.u32[o + 2] = 0;
  D.u32[o + 3] = 0;
};

/**
 * MPSADBW (66 0F 3A 42): eight sums of absolute differences of 4-byte blocks: source block
 * imm[1:0] against dest bytes starting at 4·imm[2] + k, k = 0…7.
 */
export const MPSADBW: PackedOp = (D, d, S, s, _n, imm) => {
  const so = s + (imm & 3) * 4;
  const dO = d + ((imm >> 2) & 1) * 4;
  for (let k = 0; k < 8; k++) {
    let sum = 0;
    for (let j = 0; j < 4; j++) sum += Math.abs(D.u8[dO + k + j] - S.u8[so + j]);
    TMP.u16[k] = sum;
  }
  commit(D, d, 16);
};
