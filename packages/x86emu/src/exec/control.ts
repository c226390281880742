/** Control transfer (SDM Vol. 1 6.3–6.5, Vol. 2 JMP/CALL/RET/IRET/INT n). */
import { EventType, InterceptKind } from '../api/intercepts.js';
import * as C from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import { descBase, descLimit } from '../cpu/descriptor.js';
import type { Handler } from '../cpu/handler.js';
import { loadStackForPrivilege, pushSys, tssStack } from '../cpu/stack-switch.js';
import { TaskSource, taskSwitch } from '../cpu/task-switch.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Flag, Interruptibility, SegAttr } from '../state.js';
import { callGate64 } from './long/far64.js';
import { jumpTo, mask, partEa, readE } from './operands.js';

export const JCC: Handler = (cpu, i) => {
  if (cpu.cond(i.op & 0xf)) jumpTo(cpu, i, cpu.state.rip[0] + i.imm);
};
export const JMP: Handler = (cpu, i) => jumpTo(cpu, i, cpu.state.rip[0] + i.imm);
export const JMP_IND: Handler = (cpu, i) => jumpTo(cpu, i, readE(cpu, i, i.opSize));
export const CALL: Handler = (cpu, i) => {
  const ret = cpu.state.rip[0];
  const target = i.opSize === 2 ? (ret + i.imm) & 0xffff : (ret + i.imm) >>> 0;
  if (target > cpu.state.segLimit[1]) cpu.gp0();
  cpu.push(ret, i.opSize);
  cpu.state.rip[0] = target;
};
export const CALL_IND: Handler = (cpu, i) => {
  const target = mask(readE(cpu, i, i.opSize), i.opSize);
  if (target > cpu.state.segLimit[1]) cpu.gp0();
  cpu.push(cpu.state.rip[0], i.opSize);
  cpu.state.rip[0] = target;
};
export function makeRet(row: OpcodeRow): Handler {
  const imm = row.operands === 'Iw';
  return (cpu, i) => {
    const target = cpu.peek(0, i.opSize);
    if (target > cpu.state.segLimit[1]) cpu.gp0();
    cpu.addSp(i.opSize + (imm ? i.imm : 0));
    cpu.state.rip[0] = target;
  };
}

/** LOOP/LOOPE/LOOPNE/JCXZ count with CX or ECX by address size. */
function counter(cpu: Cpu, i: Insn): number {
  return i.adSize === 2 ? cpu.state.gpr[1] & 0xffff : cpu.state.gpr[1];
}
function decCounter(cpu: Cpu, i: Insn): number {
  const g = cpu.state.gpr;
  if (i.adSize === 2) {
    const c = (g[1] - 1) & 0xffff;
    g[1] = (g[1] & 0xffff0000) | c;
    return c;
  }
  g[1] = g[1] - 1;
  return g[1];
}
export const LOOP: Handler = (cpu, i) => {
  if (decCounter(cpu, i) !== 0) jumpTo(cpu, i, cpu.state.rip[0] + i.imm);
};
export const LOOPE: Handler = (cpu, i) => {
  if (decCounter(cpu, i) !== 0 && cpu.getZF()) jumpTo(cpu, i, cpu.state.rip[0] + i.imm);
};
export const LOOPNE: Handler = (cpu, i) => {
  if (decCounter(cpu, i) !== 0 && !cpu.getZF()) jumpTo(cpu, i, cpu.state.rip[0] + i.imm);
};
export const JCXZ: Handler = (cpu, i) => {
  if (counter(cpu, i) === 0) jumpTo(cpu, i, cpu.state.rip[0] + i.imm);
};

// ---------------------------------------------------------------- far transfers

/**
 * Far JMP/CALL in protected mode (SDM Vol. 3 5.8): to a code segment directly, or through a
 * call gate (5.8.3–5.8.5, with the stack switch and parameter copy of a CALL to more privilege).
 * TSS and task-gate targets (task switches) are not implemented: #GP(selector) after the
 * `TaskSwitch` intercept. Every check comes before anything is committed.
 */
function farTransferProtected(cpu: Cpu, sel: number, offset: number, opSize: number, isCall: boolean): void {
  const s = cpu.state;
  if ((sel & 0xfffc) === 0) cpu.gp0();
  const lo = cpu.readDescriptorLo(sel);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  const cpl = s.cpl;
  if ((type & 0x18) === 0x18) {
    const dpl = (hi >>> 13) & 3;
    if (type & 4) {
      if (dpl > cpl) cpu.gp(sel);
    } else if ((sel & 3) > cpl || dpl !== cpl) cpu.gp(sel);
    if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
    offset = mask(offset, opSize);
    if (offset > descLimit(lo, hi)) cpu.gp0();
    let sp = 0;
    if (isCall) {
      sp = cpu.pushAt(cpu.sp(), s.segSel[1], opSize);
      sp = cpu.pushAt(sp, s.rip[0], opSize);
    }
    cpu.setDescAccessed(sel, hi);
    cpu.setSegFromDesc(1, (sel & 0xfffc) | cpl, lo, hi);
    if (isCall) cpu.setSp(sp);
    s.rip[0] = offset;
    return;
  }
  if (type === 0x04 || type === 0x0c) {
    // From compatibility mode, IA-32e call gates (16 bytes, to 64-bit code) apply.
    if (cpu.lma) callGate64(cpu, sel, lo, hi, isCall);
    else callGate(cpu, sel, lo, hi, isCall);
    return;
  }
  if (type === 0x01 || type === 0x03 || type === 0x09 || type === 0x0b || type === 0x05) {
    // No task switches in IA-32e mode (SDM Vol. 3 7.7): #GP(selector).
    if (cpu.lma) cpu.gp(sel);
    // A task switch (SDM Vol. 3 7.3): the TSS or task-gate DPL must admit CPL and RPL.
    const dpl = (hi >>> 13) & 3;
    if (dpl < cpl || dpl < (sel & 3)) cpu.gp(sel);
    if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
    const tss = type === 0x05 ? lo >>> 16 : sel;
    if (cpu.wantsIntercept(InterceptKind.TaskSwitch)) {
      cpu.exit.taskSwitchSelector = tss;
      cpu.exit.taskSwitchSource = isCall ? TaskSource.Call : TaskSource.Jmp;
      cpu.intercept(InterceptKind.TaskSwitch);
    }
    taskSwitch(cpu, tss, isCall ? TaskSource.Call : TaskSource.Jmp, s.rip[0], 0, false, 0);
    return;
  }
  cpu.gp(sel);
}

function callGate(cpu: Cpu, gateSel: number, lo: number, hi: number, isCall: boolean): void {
  const s = cpu.state;
  const cpl = s.cpl;
  const gDpl = (hi >>> 13) & 3;
  if (gDpl < cpl || gDpl < (gateSel & 3)) cpu.gp(gateSel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, gateSel & 0xfffc, true);
  const gate32 = ((hi >>> 8) & 0x1f) === 0x0c;
  const target = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0 : lo & 0xffff;
  const params = hi & 0x1f;
  const csSel = lo >>> 16;
  if ((csSel & 0xfffc) === 0) cpu.gp0();
  const cLo = cpu.readDescriptorLo(csSel);
  const cHi = cpu.descHi;
  const cType = (cHi >>> 8) & 0x1f;
  const cDpl = (cHi >>> 13) & 3;
  if ((cType & 0x18) !== 0x18 || cDpl > cpl) cpu.gp(csSel);
  if (!(cHi & 0x8000)) cpu.raise(C.NP, csSel & 0xfffc, true);
  if (target > descLimit(cLo, cHi)) cpu.gp0();
  const conforming = (cType & 4) !== 0;
  const size = gate32 ? 4 : 2;
  if (!isCall) {
    // A JMP through a call gate never changes privilege (SDM Vol. 3 5.8.5).
    if (!conforming && cDpl !== cpl) cpu.gp(csSel);
    cpu.setDescAccessed(csSel, cHi);
    cpu.setSegFromDesc(1, (csSel & 0xfffc) | cpl, cLo, cHi);
    s.rip[0] = target;
    return;
  }
  if (!conforming && cDpl < cpl) {
    // CALL to more privilege: new stack from the TSS; copy `params` words/dwords (Figure 5-13).
    tssStack(cpu, cDpl, 0);
    const ssSel = cpu.tssSs;
    const esp = cpu.tssEsp;
    const ssLo = loadStackForPrivilege(cpu, ssSel, cDpl, 0);
    const ssHi = cpu.descHi;
    const ssBig = (ssHi & 0x400000) !== 0;
    const ssBase = descBase(ssLo, ssHi);
    const sMask = ssBig ? 0xffffffff : 0xffff;
    const frame = (4 + params) * size;
    if ((ssHi >>> 8) & 4 ? false : ((esp - frame) & sMask) > descLimit(ssLo, ssHi))
      cpu.raise(C.SS, ssSel & 0xfffc, true);
    let sp = esp;
    sp = pushSys(cpu, ssBase, sp, sMask, size, s.segSel[2], cDpl);
    sp = pushSys(cpu, ssBase, sp, sMask, size, s.gpr[4], cDpl);
    for (let k = params - 1; k >= 0; k--)
      sp = pushSys(cpu, ssBase, sp, sMask, size, cpu.peek(k * size, size), cDpl);
    sp = pushSys(cpu, ssBase, sp, sMask, size, s.segSel[1], cDpl);
    sp = pushSys(cpu, ssBase, sp, sMask, size, s.rip[0], cDpl);
    cpu.setDescAccessed(csSel, cHi);
    cpu.setDescAccessed(ssSel, ssHi);
    cpu.setSegFromDesc(1, (csSel & 0xfffc) | cDpl, cLo, cHi);
    cpu.setSegFromDesc(2, (ssSel & 0xfffc) | cDpl, ssLo, ssHi);
    s.cpl = cDpl;
    if (ssBig) s.gpr[4] = sp;
    else s.gpr[4] = (s.gpr[4] & 0xffff0000) | sp;
    s.rip[0] = target;
    return;
  }
  let sp = cpu.pushAt(cpu.sp(), s.segSel[1], size);
  sp = cpu.pushAt(sp, s.rip[0], size);
  cpu.setDescAccessed(csSel, cHi);
  cpu.setSegFromDesc(1, (csSel & 0xfffc) | cpl, cLo, cHi);
  cpu.setSp(sp);
  s.rip[0] = target;
}

function farJump(cpu: Cpu, sel: number, offset: number, opSize: number): void {
  const s = cpu.state;
  if (!cpu.prot || cpu.v86) {
    offset = mask(offset, opSize);
    // A real-mode CS load keeps the limit, so check the offset before loading anything.
    if (offset > (cpu.v86 ? 0xffff : s.segLimit[1])) cpu.gp0();
    cpu.loadSegReal(1, sel);
    s.rip[0] = offset;
    return;
  }
  farTransferProtected(cpu, sel, offset, opSize, false);
}

function farCall(cpu: Cpu, sel: number, offset: number, opSize: number): void {
  const s = cpu.state;
  if (!cpu.prot || cpu.v86) {
    // Push first onto a copy of SP, so a stack fault leaves everything unchanged.
    let sp = cpu.sp();
    sp = cpu.pushAt(sp, s.segSel[1], opSize);
    sp = cpu.pushAt(sp, s.rip[0], opSize);
    farJump(cpu, sel, offset, opSize);
    cpu.setSp(sp);
    return;
  }
  farTransferProtected(cpu, sel, offset, opSize, true);
}

export const JMPF: Handler = (cpu, i) => farJump(cpu, i.imm2, i.imm, i.opSize);
export const CALLF: Handler = (cpu, i) => farCall(cpu, i.imm2, i.imm, i.opSize);
export const JMPF_IND: Handler = (cpu, i) => {
  const ea = cpu.ea(i);
  const off = cpu.read(i.memSeg, ea, i.opSize);
  const sel = cpu.read(i.memSeg, partEa(ea + i.opSize, i.adSize), 2);
  farJump(cpu, sel, off, i.opSize);
};
export const CALLF_IND: Handler = (cpu, i) => {
  const ea = cpu.ea(i);
  const off = cpu.read(i.memSeg, ea, i.opSize);
  const sel = cpu.read(i.memSeg, partEa(ea + i.opSize, i.adSize), 2);
  farCall(cpu, sel, off, i.opSize);
};

/** After a return to an outer level, data segments the new CPL may not use become null (SDM Vol. 3 5.8.6). */
function nullInaccessibleSegs(cpu: Cpu): void {
  const s = cpu.state;
  for (const seg of OUTER_SEGS) {
    const a = s.segAttr[seg];
    if (a & SegAttr.UNUSABLE) continue;
    const dpl = (a >>> 5) & 3;
    const conformingCode = (a & 0x1c) === 0x1c;
    if (!conformingCode && dpl < s.cpl) cpu.loadNull(seg);
  }
}
const OUTER_SEGS = [0, 3, 4, 5];

/**
 * Protected-mode far return (RETF / IRET): checks the popped CS (SDM Vol. 2 RET "Protected
 * mode"), and on a return to an outer privilege level, SS:ESP from the stack. `frame` bytes
 * (EIP, CS, [EFLAGS]) plus `extra` are released before the outer SS:ESP is read.
 */
function protectedReturn(
  cpu: Cpu,
  size: number,
  frame: number,
  extra: number,
  newFlags: number,
  isIret: boolean,
): void {
  const s = cpu.state;
  const eip = cpu.peek(0, size);
  const sel = cpu.peek(size, size) & 0xffff;
  const cpl = s.cpl;
  if ((sel & 0xfffc) === 0) cpu.gp0();
  const lo = cpu.readDescriptorLo(sel);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  const dpl = (hi >>> 13) & 3;
  const rpl = sel & 3;
  if ((type & 0x18) !== 0x18 || rpl < cpl) cpu.gp(sel);
  if (type & 4 ? dpl > rpl : dpl !== rpl) cpu.gp(sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  const limit =
    hi & 0x800000 ? ((((lo & 0xffff) | (hi & 0xf0000)) << 12) | 0xfff) >>> 0 : (lo & 0xffff) | (hi & 0xf0000);
  if (rpl === cpl) {
    if (eip > limit) cpu.gp0();
    cpu.setDescAccessed(sel, hi);
    cpu.addSp(frame + extra);
    cpu.setSegFromDesc(1, sel, lo, hi);
    s.rip[0] = eip;
    if (isIret) setIretFlags(cpu, newFlags, size);
    return;
  }
  // Outer privilege: SS:ESP follow the frame (and the RET imm16 bytes).
  const espOff = frame + extra;
  const newEsp = cpu.peek(espOff, size);
  const ssSel = cpu.peek(espOff + size, size) & 0xffff;
  if ((ssSel & 0xfffc) === 0) cpu.gp0();
  const ssLo = cpu.readDescriptorLo(ssSel);
  const ssHi = cpu.descHi;
  const ssType = (ssHi >>> 8) & 0x1f;
  if ((ssSel & 3) !== rpl || ((ssHi >>> 13) & 3) !== rpl || (ssType & 0x1a) !== 0x12) cpu.gp(ssSel);
  if (!(ssHi & 0x8000)) cpu.raise(C.SS, ssSel & 0xfffc, true);
  if (eip > limit) cpu.gp0();
  cpu.setDescAccessed(ssSel, ssHi);
  cpu.setDescAccessed(sel, hi);
  // Flags are restored with the checks of the old CPL before it changes.
  if (isIret) setIretFlags(cpu, newFlags, size);
  s.cpl = rpl;
  cpu.setSegFromDesc(1, sel, lo, hi);
  cpu.setSegFromDesc(2, ssSel, ssLo, ssHi);
  // RET imm16 also releases bytes on the new stack (SDM RET).
  const release = isIret ? 0 : extra;
  if (cpu.ss32) s.gpr[4] = (newEsp + release) >>> 0;
  else s.gpr[4] = (s.gpr[4] & 0xffff0000) | ((newEsp + release) & 0xffff);
  s.rip[0] = eip;
  nullInaccessibleSegs(cpu);
}

export function makeRetf(row: OpcodeRow): Handler {
  const imm = row.operands === 'Iw';
  return (cpu, i) => {
    const size = i.opSize;
    const extra = imm ? i.imm : 0;
    const s = cpu.state;
    if (!cpu.prot || cpu.v86) {
      const eip = cpu.peek(0, size);
      const sel = cpu.peek(size, size) & 0xffff;
      // The CS limit does not change with a real-mode load: check before changing anything.
      if (mask(eip, size) > (cpu.v86 ? 0xffff : s.segLimit[1])) cpu.gp0();
      cpu.loadSegReal(1, sel);
      cpu.addSp(2 * size + extra);
      s.rip[0] = mask(eip, size);
      return;
    }
    protectedReturn(cpu, size, 2 * size, extra, 0, false);
  };
}

/** EFLAGS an IRET may restore at the current CPL/IOPL (SDM Vol. 2 IRET). */
function setIretFlags(cpu: Cpu, v: number, size: number): void {
  const s = cpu.state;
  let m = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.TF | Flag.DF | Flag.OF | Flag.NT;
  if (size === 4) m |= Flag.AC | Flag.ID | Flag.RF;
  const iopl = (s.rflags[0] >>> 12) & 3;
  if (s.cpl === 0) {
    m |= Flag.IOPL | Flag.IF;
    if (size === 4) m |= Flag.VIF | Flag.VIP;
  } else if (s.cpl <= iopl) m |= Flag.IF;
  cpu.setFlags(v, m);
}

export const IRET: Handler = (cpu, i) => {
  const s = cpu.state;
  const size = i.opSize;
  cpu.intercept(InterceptKind.Iret);
  // IRET ends NMI blocking (SDM Vol. 3 6.7.1), even if it then faults; the next boundary looks
  // at events again (an NMI window may have opened).
  s.interruptibility &= ~Interruptibility.NMI;
  cpu.irqCheck = true;
  if (!cpu.prot) {
    const eip = cpu.peek(0, size);
    const cs = cpu.peek(size, size) & 0xffff;
    const fl = cpu.peek(2 * size, size);
    if (mask(eip, size) > s.segLimit[1]) cpu.gp0();
    cpu.loadSegReal(1, cs);
    cpu.addSp(3 * size);
    s.rip[0] = mask(eip, size);
    // Real mode restores everything but VM, VIP, VIF (SDM IRET "REAL-ADDRESS-MODE").
    cpu.setFlags(fl, size === 2 ? 0xffff : 0x257fd5);
    return;
  }
  if (cpu.v86) {
    // Without VME, IRET in virtual-8086 mode needs IOPL 3 and cannot change IOPL (SDM IRET).
    if (((s.rflags[0] >>> 12) & 3) < 3) cpu.gp0();
    const eip = cpu.peek(0, size);
    const cs = cpu.peek(size, size) & 0xffff;
    const fl = cpu.peek(2 * size, size);
    if (mask(eip, size) > 0xffff) cpu.gp0();
    cpu.loadSegReal(1, cs);
    cpu.addSp(3 * size);
    s.rip[0] = mask(eip, size);
    const m = size === 2 ? 0xffff & ~Flag.IOPL : 0x257fd5 & ~(Flag.IOPL | Flag.VIF | Flag.VIP);
    cpu.setFlags(fl, m);
    return;
  }
  if (s.rflags[0] & Flag.NT) {
    // IA-32e mode has no task return: IRET with NT = 1 is #GP(0) (SDM IRET "IA-32e-MODE").
    if (cpu.lma) cpu.gp0();
    // Task return (SDM IRET "TASK-RETURN"): back to the task in the current TSS's link field.
    const link = cpu.linRead(s.segBase[7], 2, 0);
    if (cpu.wantsIntercept(InterceptKind.TaskSwitch)) {
      cpu.exit.taskSwitchSelector = link;
      cpu.exit.taskSwitchSource = TaskSource.Iret;
      cpu.intercept(InterceptKind.TaskSwitch);
    }
    taskSwitch(cpu, link, TaskSource.Iret, s.rip[0], 0, false, 0);
    cpu.irqCheck = true;
    return;
  }
  const fl = cpu.peek(2 * size, size);
  if (size === 4 && fl & Flag.VM && s.cpl === 0) {
    returnToV86(cpu, fl);
    return;
  }
  protectedReturn(cpu, size, 3 * size, 0, fl, true);
  cpu.irqCheck = true;
};

/** IRET to virtual-8086 mode (SDM IRET "RETURN-TO-VIRTUAL-8086-MODE"): 9 dwords on the stack. */
function returnToV86(cpu: Cpu, fl: number): void {
  const s = cpu.state;
  const eip = cpu.peek(0, 4);
  const cs = cpu.peek(4, 4) & 0xffff;
  const esp = cpu.peek(12, 4);
  const ss = cpu.peek(16, 4) & 0xffff;
  const es = cpu.peek(20, 4) & 0xffff;
  const ds = cpu.peek(24, 4) & 0xffff;
  const fs = cpu.peek(28, 4) & 0xffff;
  const gs = cpu.peek(32, 4) & 0xffff;
  cpu.setFlags(fl, 0x3f7fd5 | Flag.VM);
  // setFlags switched the mode to virtual-8086; the segment loads are real-mode style now.
  s.cpl = 3;
  cpu.loadSegReal(1, cs);
  cpu.loadSegReal(2, ss);
  cpu.loadSegReal(0, es);
  cpu.loadSegReal(3, ds);
  cpu.loadSegReal(4, fs);
  cpu.loadSegReal(5, gs);
  s.gpr[4] = esp;
  s.rip[0] = eip & 0xffff;
  cpu.irqCheck = true;
}

// ---------------------------------------------------------------- software interrupts

function softwareInterrupt(cpu: Cpu, i: Insn, type: number, vector: number): void {
  const s = cpu.state;
  if (type === EventType.SoftwareInterrupt && cpu.wantsIntercept(InterceptKind.SoftwareInterrupt)) {
    cpu.exit.softwareVector = vector;
    cpu.intercept(InterceptKind.SoftwareInterrupt);
  }
  // Deliver with RIP at the instruction so that a fault during delivery points at it.
  s.rip[0] = cpu.startEip;
  s.rip[1] = cpu.startRipHi;
  cpu.deliverSoftware(type, vector, i.length);
}

export const INT: Handler = (cpu, i) => {
  // INT n in virtual-8086 mode with IOPL < 3 is #GP(0) (no VME) (SDM INT n).
  if (cpu.v86 && ((cpu.state.rflags[0] >>> 12) & 3) < 3) cpu.gp0();
  softwareInterrupt(cpu, i, EventType.SoftwareInterrupt, i.imm & 0xff);
};
export const INT3: Handler = (cpu, i) => {
  if (cpu.v86 && ((cpu.state.rflags[0] >>> 12) & 3) < 3) cpu.gp0();
  softwareInterrupt(cpu, i, EventType.SoftwareException, C.BP);
};
export const INTO: Handler = (cpu, i) => {
  if (!cpu.getOF()) return;
  if (cpu.v86 && ((cpu.state.rflags[0] >>> 12) & 3) < 3) cpu.gp0();
  softwareInterrupt(cpu, i, EventType.SoftwareException, C.OF);
};
/** INT1 (ICEBP, F1): a #DB delivered without the gate-DPL check. */
export const INT1: Handler = (cpu, i) =>
  softwareInterrupt(cpu, i, EventType.PrivilegedSoftwareException, C.DB);
