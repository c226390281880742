/**
 * SIMD moves (SDM Vol. 2 MOVAPS … MOVDQU, MOVD/MOVQ, MOVSS/MOVSD, MOVLPS/MOVHPS and friends,
 * MOVNT*, LDDQU, MOVDDUP/MOVSLDUP/MOVSHDUP, MOVQ2DQ/MOVDQ2Q, EMMS). A move is a copy of lanes:
 * no element arithmetic, and the aligned forms check 16-byte alignment of a memory operand.
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { setReg64 } from '../long/operands64.js';
import { checkMmx, checkSse } from './check.js';
import { SRC, TMP, XMM, xmmLanes } from './lanes.js';
import { mmxEnter, mmxRead, mmxWord, mmxWrite, mmxWrite32, readMem, writeMem } from './operands.js';

/** Forms whose 16-byte memory operand must be aligned (the others: MOVUPS, MOVDQU, LDDQU …). */
const UNALIGNED = new Set(['MOVUPS', 'MOVUPD', 'MOVDQU', 'LDDQU']);

/** Copies XMM r/m (or its 16-byte memory operand) to XMM reg, or back (store forms W,V). */
export function makeMovdq(row: OpcodeRow): Handler {
  const align = !UNALIGNED.has(row.mnemonic);
  if (row.operands.startsWith('W') || row.operands.startsWith('M'))
    return (cpu, i) => {
      checkSse(cpu);
      const X = xmmLanes(cpu);
      if (i.mod === 3) X.u8.copyWithin(i.rm * 16, i.reg * 16, i.reg * 16 + 16);
      else writeMem(cpu, i, X, i.reg * 16, 16, align);
    };
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu);
    if (i.mod === 3) X.u8.copyWithin(i.reg * 16, i.rm * 16, i.rm * 16 + 16);
    else readMem(cpu, i, X, i.reg * 16, 16, align);
  };
}

/** Writes the 64-bit value lo:hi (or 32-bit lo when !w) to the GPR/memory operand Ey. */
function writeEy(cpu: Cpu, i: Insn, w: boolean, lo: number, hi: number): void {
  if (i.mod === 3) {
    if (w) setReg64(cpu, i.rm, lo, hi);
    else cpu.setReg(i.rm, 4, 0, lo);
  } else if (w) cpu.write64(i.memSeg, cpu.ea(i), lo, hi);
  else cpu.write(i.memSeg, cpu.ea(i), 4, lo);
}
/** Reads Ey into cpu.lo64/hi64 (hi64 = 0 without REX.W). */
function readEy(cpu: Cpu, i: Insn, w: boolean): void {
  if (i.mod === 3) {
    cpu.lo64 = cpu.state.gpr[i.rm];
    cpu.hi64 = w ? cpu.state.gprHigh[i.rm] : 0;
  } else if (w) cpu.read64(i.memSeg, cpu.ea(i));
  else {
    cpu.lo64 = cpu.read(i.memSeg, cpu.ea(i), 4);
    cpu.hi64 = 0;
  }
}

/** MOVD/MOVQ between a GPR or memory and an XMM or MMX register (0F 6E, 0F 7E; REX.W: 64 bits). */
export function makeMovdGpr(row: OpcodeRow): Handler {
  const mmx = row.operands.includes('P');
  const toGpr = row.operands.startsWith('E');
  if (mmx && toGpr)
    return (cpu, i) => {
      checkMmx(cpu);
      const w = (i.rex & 8) !== 0;
      writeEy(cpu, i, w, mmxWord(cpu, i.reg, false), mmxWord(cpu, i.reg, true));
      mmxEnter(cpu);
    };
  if (mmx)
    return (cpu, i) => {
      checkMmx(cpu);
      readEy(cpu, i, (i.rex & 8) !== 0);
      mmxWrite32(cpu, i.reg, cpu.lo64, cpu.hi64);
      mmxEnter(cpu);
    };
  if (toGpr)
    return (cpu, i) => {
      checkSse(cpu);
      const X = xmmLanes(cpu).u32;
      writeEy(cpu, i, (i.rex & 8) !== 0, X[i.reg * 4], X[i.reg * 4 + 1]);
    };
  return (cpu, i) => {
    checkSse(cpu);
    readEy(cpu, i, (i.rex & 8) !== 0);
    const X = xmmLanes(cpu).u32;
    const o = i.reg * 4;
    X[o] = cpu.lo64;
    X[o + 1] = cpu.hi64;
    X[o + 2] = 0;
    X[o + 3] = 0;
  };
}

/** MOVQ mm, mm/m64 (NP 0F 6F) and MOVQ mm/m64, mm (NP 0F 7F), MOVNTQ (NP 0F E7). */
export function makeMovqMmx(row: OpcodeRow): Handler {
  if (row.operands.startsWith('Q') || row.operands.startsWith('M'))
    return (cpu, i) => {
      checkMmx(cpu);
      if (i.mod === 3) {
        mmxRead(cpu, i.reg, TMP, 0);
        mmxWrite(cpu, i.rm, TMP, 0);
      } else {
        mmxRead(cpu, i.reg, TMP, 0);
        writeMem(cpu, i, TMP, 0, 8, false);
      }
      mmxEnter(cpu);
    };
  return (cpu, i) => {
    checkMmx(cpu);
    if (i.mod === 3) mmxRead(cpu, i.rm, SRC, 0);
    else readMem(cpu, i, SRC, 0, 8, false);
    mmxWrite(cpu, i.reg, SRC, 0);
    mmxEnter(cpu);
  };
}

/**
 * MOVQ xmm, xmm/m64 (F3 0F 7E) and MOVQ xmm/m64, xmm (66 0F D6): the low quadword, the upper
 * one of an XMM destination zeroed.
 */
export function makeMovqXmm(row: OpcodeRow): Handler {
  if (row.operands.startsWith('W'))
    return (cpu, i) => {
      checkSse(cpu);
      const X = xmmLanes(cpu);
      if (i.mod === 3) {
        const s = i.reg * 4;
        const d = i.rm * 4;
        X.u32[d] = X.u32[s];
        X.u32[d + 1] = X.u32[s + 1];
        X.u32[d + 2] = 0;
        X.u32[d + 3] = 0;
      } else writeMem(cpu, i, X, i.reg * 16, 8, false);
    };
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu);
    const d = i.reg * 4;
    if (i.mod === 3) {
      const s = i.rm * 4;
      X.u32[d] = X.u32[s];
      X.u32[d + 1] = X.u32[s + 1];
    } else readMem(cpu, i, X, i.reg * 16, 8, false);
    X.u32[d + 2] = 0;
    X.u32[d + 3] = 0;
  };
}

/**
 * MOVSS / MOVSD (F3/F2 0F 10, 11): register to register merges the low element; a load zeroes
 * the rest of the destination; a store writes only the element.
 */
export function makeMovScalar(row: OpcodeRow): Handler {
  const words = row.mnemonic === 'MOVSS' ? 1 : 2;
  if (row.operands.startsWith('W'))
    return (cpu, i) => {
      checkSse(cpu);
      const X = xmmLanes(cpu).u32;
      if (i.mod === 3) {
        X[i.rm * 4] = X[i.reg * 4];
        if (words === 2) X[i.rm * 4 + 1] = X[i.reg * 4 + 1];
      } else writeMem(cpu, i, XMM, i.reg * 16, words * 4, false);
    };
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu).u32;
    const d = i.reg * 4;
    if (i.mod === 3) {
      X[d] = X[i.rm * 4];
      if (words === 2) X[d + 1] = X[i.rm * 4 + 1];
      return;
    }
    readMem(cpu, i, SRC, 0, words * 4, false);
    X[d] = SRC.u32[0];
    X[d + 1] = words === 2 ? SRC.u32[1] : 0;
    X[d + 2] = 0;
    X[d + 3] = 0;
  };
}

/**
 * The half moves: MOVLPS/MOVLPD/MOVHPS/MOVHPD (a quadword between memory and the low or high
 * half), MOVHLPS/MOVLHPS (register halves). `half`: 0 low, 1 high of the XMM register.
 */
export function makeMovHalf(row: OpcodeRow): Handler {
  const m = row.mnemonic;
  if (m === 'MOVHLPS' || m === 'MOVLHPS') {
    // MOVHLPS: dest[63:0] = src[127:64]; MOVLHPS: dest[127:64] = src[63:0].
    const dOff = m === 'MOVHLPS' ? 0 : 2;
    const sOff = m === 'MOVHLPS' ? 2 : 0;
    return (cpu, i) => {
      checkSse(cpu);
      const X = xmmLanes(cpu).u32;
      const lo = X[i.rm * 4 + sOff];
      const hi = X[i.rm * 4 + sOff + 1];
      X[i.reg * 4 + dOff] = lo;
      X[i.reg * 4 + dOff + 1] = hi;
    };
  }
  const off = m.startsWith('MOVH') ? 8 : 0;
  if (row.operands.startsWith('M'))
    return (cpu, i) => {
      checkSse(cpu);
      writeMem(cpu, i, xmmLanes(cpu), i.reg * 16 + off, 8, false);
    };
  return (cpu, i) => {
    checkSse(cpu);
    readMem(cpu, i, xmmLanes(cpu), i.reg * 16 + off, 8, false);
  };
}

/** MOVDDUP (F2 0F 12): the low quadword to both halves. */
export const MOVDDUP: Handler = (cpu, i) => {
  checkSse(cpu);
  const X = xmmLanes(cpu).u32;
  let lo: number;
  let hi: number;
  if (i.mod === 3) {
    lo = X[i.rm * 4];
    hi = X[i.rm * 4 + 1];
  } else {
    readMem(cpu, i, SRC, 0, 8, false);
    lo = SRC.u32[0];
    hi = SRC.u32[1];
  }
  const d = i.reg * 4;
  X[d] = lo;
  X[d + 1] = hi;
  X[d + 2] = lo;
  X[d + 3] = hi;
};

/** MOVSLDUP / MOVSHDUP (F3 0F 12 / 16): even (odd) dwords duplicated. */
export function makeMovDup(row: OpcodeRow): Handler {
  const k = row.mnemonic === 'MOVSHDUP' ? 1 : 0;
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu).u32;
    let S = X;
    let s = i.rm * 4;
    if (i.mod !== 3) {
      readMem(cpu, i, SRC, 0, 16, true);
      S = SRC.u32;
      s = 0;
    }
    const a = S[s + k];
    const b = S[s + 2 + k];
    const d = i.reg * 4;
    X[d] = a;
    X[d + 1] = a;
    X[d + 2] = b;
    X[d + 3] = b;
  };
}

/** MOVQ2DQ xmm, mm (F3 0F D6): zero-extended; MOVDQ2Q mm, xmm (F2 0F D6): the low quadword. */
export const MOVQ2DQ: Handler = (cpu, i) => {
  checkSse(cpu);
  checkMmx(cpu);
  const X = xmmLanes(cpu).u32;
  const d = i.reg * 4;
  X[d] = mmxWord(cpu, i.rm, false);
  X[d + 1] = mmxWord(cpu, i.rm, true);
  X[d + 2] = 0;
  X[d + 3] = 0;
  mmxEnter(cpu);
};
export const MOVDQ2Q: Handler = (cpu, i) => {
  checkSse(cpu);
  checkMmx(cpu);
  const X = xmmLanes(cpu).u32;
  mmxWrite32(cpu, i.reg, X[i.rm * 4], X[i.rm * 4 + 1]);
  mmxEnter(cpu);
};

/** MOVNTI m32/m64, r (NP 0F C3): a plain store here (there is no cache to bypass). */
export const MOVNTI: Handler = (cpu, i) => {
  const g = cpu.state.gpr[i.reg];
  if (i.rex & 8) cpu.write64(i.memSeg, cpu.ea(i), g, cpu.state.gprHigh[i.reg]);
  else cpu.write(i.memSeg, cpu.ea(i), 4, g);
};

/**
 * MOVMSKPS / MOVMSKPD (0F 50): the sign bits of the elements into a GPR, zero-extended;
 * PMOVMSKB (0F D7) the sign bits of the bytes (MMX or XMM).
 */
export function makeMovmsk(row: OpcodeRow): Handler {
  if (row.mnemonic === 'PMOVMSKB' && row.operands.includes('N'))
    return (cpu, i) => {
      checkMmx(cpu);
      mmxRead(cpu, i.rm, SRC, 0);
      let m = 0;
      for (let k = 0; k < 8; k++) m |= (SRC.u8[k] >>> 7) << k;
      cpu.setReg(i.reg, 4, 0, m);
      mmxEnter(cpu);
    };
  if (row.mnemonic === 'PMOVMSKB')
    return (cpu, i) => {
      checkSse(cpu);
      const b = xmmLanes(cpu).u8;
      const o = i.rm * 16;
      let m = 0;
      for (let k = 0; k < 16; k++) m |= (b[o + k] >>> 7) << k;
      cpu.setReg(i.reg, 4, 0, m);
    };
  const pd = row.mnemonic === 'MOVMSKPD';
  return (cpu, i) => {
    checkSse(cpu);
    const X = xmmLanes(cpu).u32;
    const o = i.rm * 4;
    const m = pd
      ? (X[o + 1] >>> 31) | ((X[o + 3] >>> 31) << 1)
      : (X[o] >>> 31) | ((X[o + 1] >>> 31) << 1) | ((X[o + 2] >>> 31) << 2) | ((X[o + 3] >>> 31) << 3);
    cpu.setReg(i.reg, 4, 0, m);
  };
}

/**
 * MASKMOVQ / MASKMOVDQU (0F F7): bytes of reg whose mask byte (r/m) has bit 7 set are stored at
 * DS:rDI (segment overridable), byte by byte; no byte is written if none is selected.
 */
export function makeMaskmov(row: OpcodeRow): Handler {
  const mmx = row.mnemonic === 'MASKMOVQ';
  return (cpu, i) => {
    const n = mmx ? 8 : 16;
    if (mmx) {
      checkMmx(cpu);
      mmxRead(cpu, i.reg, TMP, 0);
      mmxRead(cpu, i.rm, SRC, 0);
    } else {
      checkSse(cpu);
      const X = xmmLanes(cpu).u8;
      for (let k = 0; k < 16; k++) {
        TMP.u8[k] = X[i.reg * 16 + k];
        SRC.u8[k] = X[i.rm * 16 + k];
      }
    }
    const seg = i.seg >= 0 ? i.seg : 3;
    // rDI by address size (SDM MASKMOVDQU: "DS:DI/EDI/RDI").
    let base: number;
    if (i.adSize === 8) base = (cpu.state.gprHigh[7] | 0) * 4294967296 + cpu.state.gpr[7];
    else base = i.adSize === 4 ? cpu.state.gpr[7] : cpu.state.gpr[7] & 0xffff;
    // MASKMOVQ has put the x87 in MMX state when its store faults (#PF measured on the AMD host,
    // while a faulting MOVQ store leaves it alone): the transition comes with the register reads.
    if (mmx) mmxEnter(cpu);
    // The CPU checks the whole 8/16-byte store before writing any byte, whatever the mask: a fault
    // reports CR2 = rDI (or the next page's first byte), not the first selected byte, and comes
    // with a zero mask too (measured on the host; SDM MASKMOVQ/MASKMOVDQU leave faults with a zero
    // mask to the implementation).
    cpu.probeWrite(cpu.segAddr(seg, base, n, true), n);
    for (let k = 0; k < n; k++) {
      if (SRC.u8[k] & 0x80) {
        const off = i.adSize === 8 ? base + k : i.adSize === 4 ? (base + k) >>> 0 : (base + k) & 0xffff;
        cpu.write(seg, off, 1, TMP.u8[k]);
      }
    }
  };
}

/**
 * EMMS (NP 0F 77): every x87 tag empty, leaving MMX mode (SDM Vol. 1 9.6.3). It is an MMX
 * instruction, so it too sets TOP = 0 (SDM Vol. 3A 12.2: "each time an MMX instruction is
 * executed, the TOS value is set to 000B"; the AMD host does so, difftest seed 20261208).
 */
export const EMMS: Handler = (cpu) => {
  checkMmx(cpu);
  cpu.state.fpuStatus[0] &= ~0x3800;
  cpu.state.fpuTag[0] = 0xffff;
};
