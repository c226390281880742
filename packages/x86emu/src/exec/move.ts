/** Data movement and the stack (SDM Vol. 1 7.3.1): MOV, XCHG, LEA, MOVZX/SX, PUSH/POP, ENTER/LEAVE, segment loads. */

import { InterceptKind } from '../api/intercepts.js';
import * as C from '../cpu/consts.js';
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag, Interruptibility } from '../state.js';
import {
  isByteForm,
  linRead,
  linWrite,
  mask,
  partEa,
  readE,
  readG,
  rmwLinear,
  sext,
  writeE,
  writeG,
} from './operands.js';

export function makeMov(row: OpcodeRow): Handler {
  const byte = isByteForm(row.operands);
  switch (row.operands) {
    // The commonest faulting instructions (a kernel's page-table writes, demand-paged loads and
    // stores): their memory accesses end the instruction through Cpu.unwinding on a #PF instead
    // of a throw (readOrFault/writeOrFault), and the register is written only after the read.
    case 'Eb,Gb':
    case 'Ev,Gv':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        const v = readG(cpu, i, size);
        if (i.mod === 3) cpu.setReg(i.rm, size, i.rex, v);
        else cpu.writeOrFault(i.memSeg, cpu.ea(i), size, v);
      };
    case 'Gb,Eb':
    case 'Gv,Ev':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        if (i.mod === 3) {
          writeG(cpu, i, size, cpu.getReg(i.rm, size, i.rex));
          return;
        }
        const v = cpu.readOrFault(i.memSeg, cpu.ea(i), size);
        if (cpu.unwinding === 0) writeG(cpu, i, size, v);
      };
    case 'AL,Ob':
    case 'eAX,Ov':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        const v = cpu.readOrFault(i.memSeg, i.disp >>> 0, size);
        if (cpu.unwinding === 0) cpu.setReg(0, size, 0, v);
      };
    case 'Ob,AL':
    case 'Ov,eAX':
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        cpu.writeOrFault(i.memSeg, i.disp >>> 0, size, cpu.getReg(0, size, 0));
      };
    case 'Zb,Ib':
      return (cpu, i) => cpu.setReg(i.rm, 1, i.rex, i.imm);
    case 'Zv,Iv':
      return (cpu, i) => cpu.setReg(i.rm, i.opSize, 0, i.imm);
    default:
      // Eb,Ib / Ev,Iz
      return (cpu, i) => {
        const size = byte ? 1 : i.opSize;
        if (i.mod === 3) cpu.setReg(i.rm, size, i.rex, mask(i.imm, size));
        else cpu.writeOrFault(i.memSeg, cpu.ea(i), size, mask(i.imm, size));
      };
  }
}

export function makeMovx(row: OpcodeRow): Handler {
  const signed = row.mnemonic === 'MOVSX';
  const src = row.operands.endsWith('Eb') ? 1 : 2;
  return (cpu, i) => {
    const v = readE(cpu, i, src);
    writeG(cpu, i, i.opSize, signed ? mask(sext(v, src), i.opSize) : v);
  };
}

export const LEA: Handler = (cpu, i) => {
  writeG(cpu, i, i.opSize, mask(cpu.ea(i), i.opSize));
};

export function makeXchg(row: OpcodeRow): Handler {
  if (row.operands === 'Zv,eAX')
    return (cpu, i) => {
      const a = cpu.getReg(0, i.opSize, 0);
      cpu.setReg(0, i.opSize, 0, cpu.getReg(i.rm, i.opSize, 0));
      cpu.setReg(i.rm, i.opSize, 0, a);
    };
  const byte = row.operands === 'Eb,Gb';
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize;
    const g = readG(cpu, i, size);
    if (i.mod === 3) {
      writeG(cpu, i, size, cpu.getReg(i.rm, size, i.rex));
      cpu.setReg(i.rm, size, i.rex, g);
    } else {
      // XCHG with memory is always locked (SDM XCHG); emulate() and shared RAM go through cmpxchg.
      const lin = rmwLinear(cpu, i, size);
      let old: number;
      const ops = cpu.linearOps ?? cpu.lockedMemory;
      if (ops !== null) {
        old = linRead(cpu, lin, size);
        while (!ops.cmpxchg(lin, size, old, 0, g, 0)) old = ops.curLo;
      } else {
        old = linRead(cpu, lin, size);
        linWrite(cpu, lin, size, g);
      }
      writeG(cpu, i, size, old);
    }
  };
}

export const NOP: Handler = (cpu, i) => {
  // F3 90 is PAUSE.
  if (i.op === 0x90 && i.rep === 1) cpu.intercept(InterceptKind.Pause);
  else if (i.op !== 0x90 && i.mod !== 3) cpu.ea(i); // hint NOPs decode a memory operand but never access it
};

// ---------------------------------------------------------------- stack

export function makePush(row: OpcodeRow): Handler {
  if (row.operands === 'Zv') return (cpu, i) => cpu.push(cpu.getReg(i.rm, i.opSize, 0), i.opSize);
  if (row.operands === 'Ev') return (cpu, i) => cpu.push(readE(cpu, i, i.opSize), i.opSize);
  return (cpu, i) => cpu.push(mask(i.imm, i.opSize), i.opSize);
}

export function makePop(row: OpcodeRow): Handler {
  if (row.operands === 'Zv')
    return (cpu, i) => {
      const v = cpu.peek(0, i.opSize);
      cpu.addSp(i.opSize);
      cpu.setReg(i.rm, i.opSize, 0, v);
    };
  // POP r/m: ESP is incremented before the destination address is computed (SDM POP).
  return (cpu, i) => {
    const v = cpu.peek(0, i.opSize);
    const oldSp = cpu.state.gpr[4];
    cpu.addSp(i.opSize);
    try {
      writeE(cpu, i, i.opSize, v);
    } catch (e) {
      cpu.state.gpr[4] = oldSp;
      throw e;
    }
  };
}

const SEG_OF: Record<string, number> = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5 };

export function makePushSeg(row: OpcodeRow): Handler {
  const seg = SEG_OF[row.operands];
  return (cpu, i) => {
    // A 32-bit push of a segment register moves ESP by 4 but, on current Intel processors,
    // writes only the 16-bit selector, leaving the upper bytes of the slot unmodified (SDM PUSH).
    const nsp = cpu.ss32 ? (cpu.sp() - i.opSize) >>> 0 : (cpu.sp() - i.opSize) & 0xffff;
    cpu.segAddr(2, nsp, i.opSize, true);
    cpu.write(2, nsp, 2, cpu.state.segSel[seg]);
    cpu.setSp(nsp);
  };
}
export function makePopSeg(row: OpcodeRow): Handler {
  const seg = SEG_OF[row.operands];
  return (cpu, i) => {
    const v = cpu.peek(0, i.opSize) & 0xffff;
    // The pop is done on the stack being popped: a POP SS that switches between a 16-bit and a
    // 32-bit stack advances (E)SP by the old SS.B, computed before the load (SDM POP: the
    // increment uses the StackAddrSize in force when the instruction starts).
    const g = cpu.state.gpr;
    const esp = cpu.ss32 ? (g[4] + i.opSize) >>> 0 : (g[4] & 0xffff0000) | ((g[4] + i.opSize) & 0xffff);
    cpu.loadSeg(seg, v);
    g[4] = esp;
    // POP SS blocks interrupts and debug traps until after the next instruction (SDM Vol. 3 6.8.3).
    if (seg === 2) cpu.state.interruptibility |= Interruptibility.MOV_SS;
  };
}

export const PUSHA: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  const size = i.opSize;
  const sp0 = cpu.sp();
  let sp = sp0;
  // The ESP image is the whole register, whatever SS.B says: a 16-bit stack only wraps the
  // pointer used for the stores (SDM PUSHA/PUSHAD: Temp ← (ESP)).
  const esp0 = g[4];
  for (let r = 0; r < 8; r++) sp = cpu.pushAt(sp, r === 4 ? esp0 : g[r], size);
  cpu.setSp(sp);
};
export const POPA: Handler = (cpu, i) => {
  const size = i.opSize;
  const vals = POPA_SCRATCH;
  for (let r = 7; r >= 0; r--) vals[r] = cpu.peek((7 - r) * size, size);
  for (let r = 0; r < 8; r++) if (r !== 4) cpu.setReg(r, size, 0, vals[r]);
  cpu.addSp(8 * size);
};
const POPA_SCRATCH = new Uint32Array(8);

export const ENTER: Handler = (cpu, i) => {
  const size = i.opSize;
  const level = i.imm2 & 0x1f;
  const g = cpu.state.gpr;
  const ss32 = cpu.ss32;
  let sp = cpu.sp();
  sp = cpu.pushAt(sp, cpu.getReg(5, size, 0), size);
  const frame = sp;
  let bp = ss32 ? g[5] : g[5] & 0xffff;
  for (let l = 1; l < level; l++) {
    bp = ss32 ? (bp - size) >>> 0 : (bp - size) & 0xffff;
    sp = cpu.pushAt(sp, cpu.read(2, bp, size), size);
  }
  if (level > 0) sp = cpu.pushAt(sp, frame, size);
  sp = ss32 ? (sp - i.imm) >>> 0 : (sp - i.imm) & 0xffff;
  // ENTER ends with a write check of the final stack pointer (an operand-size access at SS:(E)SP
  // that writes nothing): #SS beyond the limit, #PF when the page is absent, read-only or, at
  // CPL 3, supervisor (SDM ENTER "Protected Mode Exceptions"; Bochs ENTER32_IwIb does the same
  // read-modify-write probe).
  cpu.probeWrite(cpu.segAddr(2, sp, size, true), size);
  cpu.setReg(5, size, 0, frame);
  cpu.setSp(sp);
};
export const LEAVE: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  const bp = cpu.ss32 ? g[5] : g[5] & 0xffff;
  const v = cpu.read(2, bp, i.opSize);
  cpu.setSp(bp + i.opSize);
  cpu.setReg(5, i.opSize, 0, v);
};

export const PUSHF: Handler = (cpu, i) => {
  // In virtual-8086 mode with IOPL < 3, PUSHF is #GP(0) (no VME) (SDM PUSHF).
  if (cpu.v86 && ((cpu.state.rflags[0] >>> 12) & 3) < 3) cpu.gp0();
  cpu.intercept(InterceptKind.PushfPopf);
  // VM and RF are pushed as 0.
  cpu.push(cpu.getFlags() & (i.opSize === 2 ? 0xffff : 0xfcffff), i.opSize);
};

/**
 * POPF (SDM POPF, Table 4-?): what may change depends on CPL and IOPL: IOPL only at CPL 0, IF
 * only when CPL ≤ IOPL; VM, VIP, VIF and RF are never changed by POPF.
 */
export const POPF: Handler = (cpu, i) => {
  const s = cpu.state;
  if (cpu.v86 && ((s.rflags[0] >>> 12) & 3) < 3) cpu.gp0();
  cpu.intercept(InterceptKind.PushfPopf);
  const v = cpu.peek(0, i.opSize);
  let m = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.TF | Flag.DF | Flag.OF | Flag.NT;
  if (i.opSize === 4) m |= Flag.AC | Flag.ID;
  const iopl = (s.rflags[0] >>> 12) & 3;
  if (!cpu.prot || (!cpu.v86 && s.cpl === 0)) m |= Flag.IOPL | Flag.IF;
  else if (cpu.v86 || s.cpl <= iopl) m |= Flag.IF;
  cpu.addSp(i.opSize);
  cpu.setFlags(v, m);
};

export const LAHF: Handler = (cpu) => {
  const f = cpu.getFlags();
  const g = cpu.state.gpr;
  g[0] = (g[0] & 0xffff00ff) | ((f & 0xd5) << 8) | 0x200;
};
export const SAHF: Handler = (cpu) => {
  const ah = (cpu.state.gpr[0] >>> 8) & 0xff;
  cpu.setFlags(ah, Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF);
};

export const XLAT: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  const a = i.adSize === 2 ? ((g[3] & 0xffff) + (g[0] & 0xff)) & 0xffff : (g[3] + (g[0] & 0xff)) >>> 0;
  cpu.setReg(0, 1, 0, cpu.read(i.seg >= 0 ? i.seg : 3, a, 1));
};

export const BOUND: Handler = (cpu, i) => {
  const size = i.opSize;
  const ea = cpu.ea(i);
  const lo = sext(cpu.read(i.memSeg, ea, size), size);
  const hi = sext(cpu.read(i.memSeg, partEa(ea + size, i.adSize), size), size);
  const v = sext(readG(cpu, i, size), size);
  if (v < lo || v > hi) cpu.raise(C.BR, 0, false);
};

// ---------------------------------------------------------------- segment registers

// The Sreg field is the 3-bit ModRM.reg: REX.R does not extend it (SDM Vol. 2 2.2.1.2).
export const MOV_FROM_SEG: Handler = (cpu, i) => {
  if (i.ext > 5) cpu.ud();
  const v = cpu.state.segSel[i.ext];
  // To memory always 16 bits; to a register, zero-extended to the operand size.
  if (i.mod === 3) cpu.setReg(i.rm, i.opSize, 0, v);
  else writeE(cpu, i, 2, v);
};
export const MOV_TO_SEG: Handler = (cpu, i) => {
  // MOV CS is #UD (SDM MOV).
  if (i.ext > 5 || i.ext === 1) cpu.ud();
  cpu.loadSeg(i.ext, readE(cpu, i, 2));
  if (i.ext === 2) cpu.state.interruptibility |= Interruptibility.MOV_SS;
};

/** LDS/LES/LSS/LFS/LGS: offset then selector from memory. */
export function makeLoadFar(row: OpcodeRow): Handler {
  const seg = { LES: 0, LDS: 3, LSS: 2, LFS: 4, LGS: 5 }[row.mnemonic] as number;
  return (cpu, i) => {
    const size = i.opSize;
    const ea = cpu.ea(i);
    const off = cpu.read(i.memSeg, ea, size);
    const sel = cpu.read(i.memSeg, partEa(ea + size, i.adSize), 2);
    cpu.loadSeg(seg, sel);
    writeG(cpu, i, size, off);
  };
}

export function unused(_i: Insn): void {}
