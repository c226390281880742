/**
 * SSE4.2 string compares PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM (SDM Vol. 2 4.1, "Imm8
 * Control Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM"). src1 is the XMM
 * register in ModRM.reg, src2 the XMM register or unaligned m128 in r/m. imm8: [1:0] element
 * format (unsigned/signed bytes/words), [3:2] aggregation, [5:4] polarity, [6] output selection.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag } from '../../state.js';
import { checkSse } from './check.js';
import { type Lanes, SRC, xmmLanes } from './lanes.js';
import { readMem } from './operands.js';

/** Element k of a string operand in format imm[1:0]. */
function elem(L: Lanes, o: number, fmt: number, k: number): number {
  switch (fmt) {
    case 0:
      return L.u8[o + k];
    case 1:
      return L.u16[(o >> 1) + k];
    case 2:
      return L.i8[o + k];
    default:
      return L.i16[(o >> 1) + k];
  }
}

/** Explicit length: |EAX| or |EDX| (RAX/RDX with REX.W), saturated to the element count. */
function explicitLength(cpu: Cpu, reg: number, w: boolean, n: number): number {
  const lo = cpu.state.gpr[reg];
  const v = w ? (cpu.state.gprHigh[reg] | 0) * 4294967296 + lo : lo | 0;
  const a = Math.abs(v);
  return Math.min(a, n);
}
/** Implicit length: the index of the first zero element, or the element count. */
function implicitLength(L: Lanes, o: number, words: boolean, n: number): number {
  for (let k = 0; k < n; k++) if ((words ? L.u16[(o >> 1) + k] : L.u8[o + k]) === 0) return k;
  return n;
}

/**
 * IntRes2 of src1 (a, length la) against src2 (b, length lb), as an n-bit mask; also sets the
 * arithmetic flags: CF = IntRes2 ≠ 0, ZF = lb < n, SF = la < n, OF = IntRes2[0], AF = PF = 0.
 */
function compareStrings(
  cpu: Cpu,
  A: Lanes,
  a: number,
  la: number,
  B: Lanes,
  b: number,
  lb: number,
  imm: number,
): number {
  const fmt = imm & 3;
  const n = imm & 1 ? 8 : 16;
  const all = (1 << n) - 1;
  let res = 0;
  switch ((imm >> 2) & 3) {
    case 0: // Equal any: src2[j] is one of src1's valid elements.
      for (let j = 0; j < lb; j++) {
        const v = elem(B, b, fmt, j);
        for (let i = 0; i < la; i++)
          if (elem(A, a, fmt, i) === v) {
            res |= 1 << j;
            break;
          }
      }
      break;
    case 1: // Ranges: src1 holds [low, high] pairs; a pair needs both elements valid.
      for (let j = 0; j < lb; j++) {
        const v = elem(B, b, fmt, j);
        for (let i = 0; i + 1 < la; i += 2)
          if (elem(A, a, fmt, i) <= v && v <= elem(A, a, fmt, i + 1)) {
            res |= 1 << j;
            break;
          }
      }
      break;
    case 2: // Equal each: element-wise; both invalid compares true, one invalid false.
      for (let j = 0; j < n; j++) {
        const va = j < la;
        const vb = j < lb;
        if (va && vb ? elem(A, a, fmt, j) === elem(B, b, fmt, j) : !va && !vb) res |= 1 << j;
      }
      break;
    default: // Equal ordered: src1 (the needle) starts at src2[j]; an invalid needle element matches.
      for (let j = 0; j < n; j++) {
        let m = true;
        for (let k = 0; k < la && j + k < n; k++)
          if (j + k >= lb || elem(A, a, fmt, k) !== elem(B, b, fmt, j + k)) {
            m = false;
            break;
          }
        if (m) res |= 1 << j;
      }
  }
  switch ((imm >> 4) & 3) {
    case 1:
      res ^= all;
      break;
    case 3:
      res ^= (1 << lb) - 1;
      break;
  }
  let f = 0;
  if (res !== 0) f |= Flag.CF;
  if (lb < n) f |= Flag.ZF;
  if (la < n) f |= Flag.SF;
  if (res & 1) f |= Flag.OF;
  cpu.setFlags(f, 0x8d5);
  return res;
}

export function makePcmpstr(row: OpcodeRow): Handler {
  const explicit = row.mnemonic.startsWith('PCMPE');
  const index = row.mnemonic.endsWith('I');
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu);
    let B: Lanes = X;
    let b = i.rm * 16;
    if (i.mod !== 3) {
      // No alignment rule for the string compares (SDM Vol. 2 PCMPESTRI: "unaligned m128").
      readMem(cpu, i, SRC, 0, 16, false);
      B = SRC;
      b = 0;
    }
    const imm = i.imm;
    const words = (imm & 1) !== 0;
    const n = words ? 8 : 16;
    const a = i.reg * 16;
    let la: number;
    let lb: number;
    if (explicit) {
      const w = (i.rex & 8) !== 0;
      la = explicitLength(cpu, 0, w, n);
      lb = explicitLength(cpu, 2, w, n);
    } else {
      la = implicitLength(X, a, words, n);
      lb = implicitLength(B, b, words, n);
    }
    const res = compareStrings(cpu, X, a, la, B, b, lb, imm);
    if (index) {
      // ECX: the least (imm[6] = 0) or most significant set bit of IntRes2, or n when none.
      const idx = res === 0 ? n : imm & 0x40 ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
      cpu.setReg(1, 4, 0, idx);
      return;
    }
    // XMM0: IntRes2 as bits (imm[6] = 0), or expanded to a byte/word mask.
    const x = X.u32;
    if (!(imm & 0x40)) {
      x[0] = res;
      x[1] = 0;
      x[2] = 0;
      x[3] = 0;
    } else if (words) for (let k = 0; k < 8; k++) X.u16[k] = (res >> k) & 1 ? 0xffff : 0;
    else for (let k = 0; k < 16; k++) X.u8[k] = (res >> k) & 1 ? 0xff : 0;
  };
}
