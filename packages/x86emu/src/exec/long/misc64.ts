/**
 * The rest of 64-bit mode's mode-dependent forms: PUSHF/POPF, ENTER, PUSH/POP FS/GS, CMPXCHG8B/
 * CMPXCHG16B, INVLPG with a 64-bit address, XCHG r8, rAX (41 90 is not NOP), and REX.W forms that
 * behave as their 32-bit form zero-extended (SDM Vol. 1 3.4.1.1).
 */
import { InterceptKind } from '../../api/intercepts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag, Interruptibility } from '../../state.js';
import { NOP } from '../move.js';
import { rmwLinear } from '../operands.js';
import { readLin64, setReg64, signed64, TWO32, writeLin64 } from './operands64.js';
import { addRsp, peek64, push64 } from './stack64.js';

export const PUSHF64: Handler = (cpu, i) => {
  cpu.intercept(InterceptKind.PushfPopf);
  // VM and RF are pushed as 0 (SDM PUSHF).
  push64(cpu, cpu.getFlags() & (i.opSize === 2 ? 0xffff : 0xfcffff), 0, i.opSize);
};

/** POPF/POPFQ: as in protected mode (IOPL at CPL 0 only, IF when CPL ≤ IOPL); VM, VIP, VIF, RF kept. */
export const POPF64: Handler = (cpu, i) => {
  const s = cpu.state;
  cpu.intercept(InterceptKind.PushfPopf);
  peek64(cpu, 0, i.opSize);
  const v = cpu.lo64;
  let m = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.TF | Flag.DF | Flag.OF | Flag.NT;
  if (i.opSize !== 2) m |= Flag.AC | Flag.ID;
  const iopl = (s.rflags[0] >>> 12) & 3;
  if (s.cpl === 0) m |= Flag.IOPL | Flag.IF;
  else if (s.cpl <= iopl) m |= Flag.IF;
  addRsp(cpu, i.opSize);
  cpu.setFlags(v, m);
};

/** ENTER in 64-bit mode (SDM ENTER): 8-byte frame pointers, then the write check of the final RSP. */
export const ENTER64: Handler = (cpu, i) => {
  const s = cpu.state;
  const size = i.opSize;
  const level = i.imm2 & 0x1f;
  const oldLo = s.gpr[4];
  const oldHi = s.gprHigh[4];
  try {
    push64(cpu, s.gpr[5], s.gprHigh[5], size);
    const fLo = s.gpr[4];
    const fHi = s.gprHigh[4];
    let bp = signed64(s.gpr[5], s.gprHigh[5]);
    for (let l = 1; l < level; l++) {
      bp -= size;
      if (size === 8) {
        const lin = cpu.segAddr(2, bp, 8, false);
        readLin64(cpu, lin);
      } else cpu.lo64 = cpu.read(2, bp, size);
      push64(cpu, cpu.lo64, cpu.hi64, size);
    }
    if (level > 0) push64(cpu, fLo, fHi, size);
    addRsp(cpu, -i.imm);
    const fin = signed64(s.gpr[4], s.gprHigh[4]);
    cpu.probeWrite(cpu.segAddr(2, fin, size, true), size);
    if (size === 8) setReg64(cpu, 5, fLo, fHi);
    else cpu.setReg(5, 2, 0, fLo);
  } catch (e) {
    s.gpr[4] = oldLo;
    s.gprHigh[4] = oldHi;
    throw e;
  }
};

const SEG_OF: Record<string, number> = { FS: 4, GS: 5, ES: 0, CS: 1, SS: 2, DS: 3 };

/** PUSH FS/GS: the selector zero-extended to the operand size (SDM PUSH). */
export function makePushSeg64(row: OpcodeRow): Handler {
  const seg = SEG_OF[row.operands];
  return (cpu, i) => push64(cpu, cpu.state.segSel[seg], 0, i.opSize);
}
/** POP FS/GS: loads the selector (the base from the descriptor, upper half cleared). */
export function makePopSeg64(row: OpcodeRow): Handler {
  const seg = SEG_OF[row.operands];
  return (cpu, i) => {
    peek64(cpu, 0, i.opSize);
    cpu.loadSeg(seg, cpu.lo64 & 0xffff);
    addRsp(cpu, i.opSize);
    if (seg === 2) cpu.state.interruptibility |= Interruptibility.MOV_SS;
  };
}

/**
 * CMPXCHG8B m64 / CMPXCHG16B m128 (REX.W) (SDM Vol. 2 CMPXCHG8B/CMPXCHG16B): EDX:EAX (RDX:RAX)
 * against memory; equal: ECX:EBX (RCX:RBX) stored, else memory loaded into the accumulator pair,
 * which is also written back (the destination is always written). CMPXCHG16B needs a 16-byte
 * aligned operand: #GP(0) otherwise. ZF only.
 */
export const CMPXCHG8B64: Handler = (cpu, i) => {
  const s = cpu.state;
  const wide = i.opSize === 8;
  const size = wide ? 16 : 8;
  if (wide) {
    // CMPXCHG16B's #GP(0) for a misaligned operand comes before the canonical check (#GP(0), or
    // #SS(0) for a stack reference): the CPU gives #GP(0) for `f0 3e 4a 0f c7 8d …` with a
    // non-canonical RBP base (long64 difftest, seed 20261206). Alignment is of the linear
    // address, so FS/GS add their base; the low bits of the exact 64-bit sum decide it.
    cpu.eaHalves(i);
    const seg = i.memSeg;
    const base = seg === 4 || seg === 5 ? s.segBase[seg] : 0;
    if ((cpu.lo64 + base) % 16 !== 0) cpu.gp0();
  }
  const lin = rmwLinear(cpu, i, size);
  let equal: boolean;
  const locked = i.lock ? cpu.lockedMemory : null;
  if (locked !== null) {
    // RAM shared with other threads: one compare-exchange (src/smp/locked-memory.ts).
    const g = s.gpr;
    const h = s.gprHigh;
    if (wide) {
      equal = locked.cmpxchg16(lin, g[0], h[0], g[2], h[2], g[3], h[3], g[1], h[1]);
      if (!equal) {
        setReg64(cpu, 0, locked.curLo, locked.curHi);
        setReg64(cpu, 2, locked.curLo2, locked.curHi2);
      }
    } else {
      equal = locked.cmpxchg(lin, 8, g[0], g[2], g[3], g[1]);
      if (!equal) {
        setReg64(cpu, 0, locked.curLo, 0);
        setReg64(cpu, 2, locked.curHi, 0);
      }
    }
  } else if (wide) {
    readLin64(cpu, lin);
    const m0 = cpu.lo64;
    const m1 = cpu.hi64;
    const hiLin = cpu.linNext(lin, 8);
    readLin64(cpu, hiLin);
    const m2 = cpu.lo64;
    const m3 = cpu.hi64;
    equal = m0 === s.gpr[0] && m1 === s.gprHigh[0] && m2 === s.gpr[2] && m3 === s.gprHigh[2];
    if (equal) {
      writeLin64(cpu, lin, s.gpr[3], s.gprHigh[3]);
      writeLin64(cpu, hiLin, s.gpr[1], s.gprHigh[1]);
    } else {
      writeLin64(cpu, lin, m0, m1);
      writeLin64(cpu, hiLin, m2, m3);
      setReg64(cpu, 0, m0, m1);
      setReg64(cpu, 2, m2, m3);
    }
  } else {
    readLin64(cpu, lin);
    const lo = cpu.lo64;
    const hi = cpu.hi64;
    equal = lo === s.gpr[0] && hi === s.gpr[2];
    if (equal) writeLin64(cpu, lin, s.gpr[3], s.gpr[1]);
    else {
      writeLin64(cpu, lin, lo, hi);
      setReg64(cpu, 0, lo, 0);
      setReg64(cpu, 2, hi, 0);
    }
  }
  cpu.materializeFlags();
  if (equal) s.rflags[0] |= Flag.ZF;
  else s.rflags[0] &= ~Flag.ZF;
};

/** INVLPG m in 64-bit mode: a non-canonical address invalidates nothing and does not fault (SDM INVLPG). */
export const INVLPG64: Handler = (cpu, i) => {
  const s = cpu.state;
  if (s.cpl !== 0) cpu.gp0();
  let a = cpu.ea(i);
  if (i.memSeg >= 4) a += (s.segBaseHigh[i.memSeg] | 0) * TWO32 + s.segBase[i.memSeg];
  if (cpu.wantsIntercept(InterceptKind.Invlpg)) {
    cpu.exit.linearAddress = a;
    // Through Cpu.unwinding, not a throw (a shadow-paging hypervisor exits on every INVLPG).
    if (cpu.interceptExits(InterceptKind.Invlpg)) return;
  }
  if (a < -140737488355328 || a >= 140737488355328) return;
  cpu.invlpg(a < 0 ? a + 281474976710656 : a);
};

/** 90 with REX.B is XCHG r8, rAX (only 90 without REX.B is NOP/PAUSE) (SDM XCHG, NOP). */
export const NOP64: Handler = (cpu, i) => {
  if (i.op === 0x90 && i.rm === 8) {
    const s = cpu.state;
    if (i.opSize === 8) {
      const lo = s.gpr[0];
      const hi = s.gprHigh[0];
      setReg64(cpu, 0, s.gpr[8], s.gprHigh[8]);
      setReg64(cpu, 8, lo, hi);
    } else {
      const a = cpu.getReg(0, i.opSize, 0);
      cpu.setReg(0, i.opSize, 0, cpu.getReg(8, i.opSize, 0));
      cpu.setReg(8, i.opSize, 0, a);
    }
    return;
  }
  NOP(cpu, i);
};

/** A REX.W form that behaves as its 32-bit form, the result zero-extended (MOV r64, Sreg; LAR; LSL; SMSW…). */
export function as32(legacy: Handler): Handler {
  return (cpu: Cpu, i: Insn) => {
    i.opSize = 4;
    try {
      legacy(cpu, i);
    } finally {
      i.opSize = 8;
    }
  };
}

/** XLAT in 64-bit mode: AL ← [RBX + AL] (EBX + AL with 67H), DS or the override (SDM XLAT). */
export const XLAT64: Handler = (cpu, i) => {
  const s = cpu.state;
  const al = s.gpr[0] & 0xff;
  const off = i.adSize === 4 ? (s.gpr[3] + al) >>> 0 : signed64(s.gpr[3], s.gprHigh[3]) + al;
  cpu.setReg(0, 1, 0, cpu.read(i.seg >= 0 ? i.seg : 3, off, 1));
};
