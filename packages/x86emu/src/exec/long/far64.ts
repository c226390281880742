/**
 * Far transfers in 64-bit mode (SDM Vol. 2 RET, IRET "IA-32e mode", JMP/CALL far; Vol. 3 5.8.8):
 * RETF and IRET pop 8-byte slots with REX.W (4 without); IRET always pops SS:RSP; a null SS is
 * allowed only when returning to 64-bit mode below CPL 3. The target CS picks 64-bit mode (L = 1,
 * RIP must be canonical) or compatibility mode (L = 0, EIP within the limit). Call gates are 16
 * bytes and lead to 64-bit code (`callGate64`).
 */
import { InterceptKind } from '../../api/intercepts.js';
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import { descLimit } from '../../cpu/descriptor.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import type { OpcodeRow } from '../../decoder/opcode-table.js';
import { Flag, Interruptibility, SegAttr } from '../../state.js';
import { checkCanonical } from './control64.js';
import { readM64 } from './operands64.js';
import { addRsp, peek64, push64 } from './stack64.js';

const DESC_L = 1 << 21;
const DESC_D = 1 << 22;

/** Checks a code-segment descriptor popped by RETF/IRET (SDM RET "Protected mode"); returns lo, hi in descHi. */
function checkReturnCs(cpu: Cpu, sel: number): number {
  const cpl = cpu.state.cpl;
  if ((sel & 0xfffc) === 0) cpu.gp0();
  const lo = cpu.readDescriptorLo(sel);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  const dpl = (hi >>> 13) & 3;
  const rpl = sel & 3;
  if ((type & 0x18) !== 0x18 || rpl < cpl) cpu.gp(sel);
  if (type & 4 ? dpl > rpl : dpl !== rpl) cpu.gp(sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  return lo;
}

/** The target RIP's checks: canonical for a 64-bit segment, within the limit (and below 4 GiB) otherwise. */
function checkTarget(cpu: Cpu, lo: number, hi: number, ripLo: number, ripHi: number): void {
  if (hi & DESC_L && !(hi & DESC_D)) checkCanonical(cpu, ripHi);
  else if (ripHi !== 0 || ripLo > descLimit(lo, hi)) cpu.gp0();
}

/** Data segments the new CPL may not use become null after a return to an outer level (SDM Vol. 3 5.8.6). */
function nullInaccessible(cpu: Cpu): void {
  const s = cpu.state;
  for (const seg of [0, 3, 4, 5]) {
    const a = s.segAttr[seg];
    if (a & SegAttr.UNUSABLE) continue;
    const conformingCode = (a & 0x1c) === 0x1c;
    if (!conformingCode && ((a >>> 5) & 3) < s.cpl) {
      s.segSel[seg] = 0;
      s.segAttr[seg] = SegAttr.UNUSABLE;
      s.segBase[seg] = 0;
      s.segLimit[seg] = 0;
      cpu.updateSegFlags(seg);
    }
  }
}

function farReturn64(cpu: Cpu, size: number, extra: number, iret: boolean): void {
  const s = cpu.state;
  peek64(cpu, 0, size);
  const ripLo = cpu.lo64;
  const ripHi = size === 8 ? cpu.hi64 : 0;
  peek64(cpu, size, size);
  const sel = cpu.lo64 & 0xffff;
  let fl = 0;
  if (iret) {
    peek64(cpu, 2 * size, size);
    fl = cpu.lo64;
  }
  const frame = (iret ? 3 : 2) * size;
  const lo = checkReturnCs(cpu, sel);
  const hi = cpu.descHi;
  const rpl = sel & 3;
  const toLong = (hi & DESC_L) !== 0 && (hi & DESC_D) === 0;
  checkTarget(cpu, lo, hi, ripLo, ripHi);
  const popSs = iret || rpl !== s.cpl;
  let rspLo = 0;
  let rspHi = 0;
  let ssSel = 0;
  let ssLo = 0;
  let ssHi = 0;
  if (popSs) {
    peek64(cpu, frame + (iret ? 0 : extra), size);
    rspLo = cpu.lo64;
    rspHi = size === 8 ? cpu.hi64 : 0;
    peek64(cpu, frame + (iret ? 0 : extra) + size, size);
    ssSel = cpu.lo64 & 0xffff;
    if ((ssSel & 0xfffc) === 0) {
      // A null SS: only into 64-bit mode below CPL 3 (SDM IRET "IA-32e-MODE").
      if (!toLong || rpl === 3) cpu.gp0();
    } else {
      ssLo = cpu.readDescriptorLo(ssSel);
      ssHi = cpu.descHi;
      const t = (ssHi >>> 8) & 0x1f;
      if ((ssSel & 3) !== rpl || ((ssHi >>> 13) & 3) !== rpl || (t & 0x1a) !== 0x12) cpu.gp(ssSel);
      if (!(ssHi & 0x8000)) cpu.raise(C.SS, ssSel & 0xfffc, true);
    }
  }
  // Commit: flags first, with the privilege rules of the old CPL.
  if (iret) setIretFlags64(cpu, fl, size);
  const outer = rpl > s.cpl;
  cpu.setDescAccessed(sel, hi);
  s.cpl = rpl;
  cpu.setSegFromDesc(1, sel, lo, hi);
  if (popSs) {
    if ((ssSel & 0xfffc) === 0) {
      s.segSel[2] = ssSel;
      s.segBase[2] = 0;
      s.segLimit[2] = 0;
      s.segAttr[2] = SegAttr.UNUSABLE | (rpl << SegAttr.DPL_SHIFT);
      cpu.updateSegFlags(2);
      cpu.updateMode();
    } else {
      cpu.setDescAccessed(ssSel, ssHi);
      cpu.setSegFromDesc(2, ssSel, ssLo, ssHi);
    }
    // RETF imm16 releases bytes on the new stack too (SDM RET).
    const release = iret ? 0 : extra;
    const l = rspLo + release;
    s.gpr[4] = l >>> 0;
    s.gprHigh[4] = (rspHi + (l >= 4294967296 ? 1 : 0)) >>> 0;
  } else addRsp(cpu, frame + extra);
  s.rip[0] = ripLo;
  s.rip[1] = toLong ? ripHi : 0;
  if (outer) nullInaccessible(cpu);
}

/** RFLAGS an IRET may restore at the current CPL/IOPL (SDM IRET); VM stays 0 in IA-32e mode. */
function setIretFlags64(cpu: Cpu, v: number, size: number): void {
  const s = cpu.state;
  let m = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.TF | Flag.DF | Flag.OF | Flag.NT;
  if (size !== 2) m |= Flag.AC | Flag.ID | Flag.RF;
  const iopl = (s.rflags[0] >>> 12) & 3;
  if (s.cpl === 0) {
    m |= Flag.IOPL | Flag.IF;
    if (size !== 2) m |= Flag.VIF | Flag.VIP;
  } else if (s.cpl <= iopl) m |= Flag.IF;
  cpu.setFlags(v, m);
}

export function makeRetf64(row: OpcodeRow): Handler {
  const imm = row.operands === 'Iw';
  return (cpu, i) => farReturn64(cpu, i.opSize, imm ? i.imm : 0, false);
}

/** IRET/IRETQ in 64-bit mode. A task return (NT = 1) does not exist in IA-32e mode: #GP(0). */
export const IRET64: Handler = (cpu: Cpu, i: Insn) => {
  const s = cpu.state;
  cpu.intercept(InterceptKind.Iret);
  s.interruptibility &= ~Interruptibility.NMI;
  cpu.irqCheck = true;
  if (s.rflags[0] & Flag.NT) cpu.gp0();
  farReturn64(cpu, i.opSize, 0, true);
  cpu.irqCheck = true;
};

/** JMP/CALL far through memory (FF /5, /3): m16:16, m16:32, or m16:64 with REX.W; code segments only. */
function farTarget(cpu: Cpu, i: Insn): void {
  const ea = cpu.ea(i);
  if (i.opSize === 8) readM64(cpu, i.memSeg, ea);
  else {
    cpu.lo64 = cpu.read(i.memSeg, ea, i.opSize);
    cpu.hi64 = 0;
  }
}
function farTo(cpu: Cpu, sel: number, ripLo: number, ripHi: number, isCall: boolean, size: number): void {
  const s = cpu.state;
  const cpl = s.cpl;
  if ((sel & 0xfffc) === 0) cpu.gp0();
  const lo = cpu.readDescriptorLo(sel);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  if (type === 0x0c) {
    callGate64(cpu, sel, lo, hi, isCall);
    return;
  }
  if ((type & 0x18) !== 0x18) cpu.gp(sel);
  const dpl = (hi >>> 13) & 3;
  if (type & 4 ? dpl > cpl : (sel & 3) > cpl || dpl !== cpl) cpu.gp(sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  checkTarget(cpu, lo, hi, ripLo, ripHi);
  if (isCall) {
    push64(cpu, s.segSel[1], 0, size);
    push64(cpu, s.rip[0], s.rip[1], size);
  }
  cpu.setDescAccessed(sel, hi);
  cpu.setSegFromDesc(1, (sel & 0xfffc) | cpl, lo, hi);
  s.rip[0] = ripLo;
  s.rip[1] = hi & DESC_L && !(hi & DESC_D) ? ripHi : 0;
}
export const JMPF_IND64: Handler = (cpu, i) => {
  farTarget(cpu, i);
  const lo = cpu.lo64;
  const hi = cpu.hi64;
  const sel = cpu.read(i.memSeg, cpu.ea(i) + i.opSize, 2);
  farTo(cpu, sel, lo, hi, false, i.opSize);
};
export const CALLF_IND64: Handler = (cpu, i) => {
  farTarget(cpu, i);
  const lo = cpu.lo64;
  const hi = cpu.hi64;
  const sel = cpu.read(i.memSeg, cpu.ea(i) + i.opSize, 2);
  farTo(cpu, sel, lo, hi, true, i.opSize);
};

/** New RSP while building a call-gate frame. */
let gRspLo = 0;
let gRspHi = 0;
function gatePush(cpu: Cpu, lo: number, hi: number, cpl: number): void {
  const l = gRspLo - 8;
  if (l < 0) {
    gRspLo = l + 4294967296;
    gRspHi = (gRspHi - 1) >>> 0;
  } else gRspLo = l;
  const h = gRspHi | 0;
  if (h >= 0x8000 || h < -0x8000) cpu.raise(C.SS, 0, true);
  const lin = (h < 0 ? h + 0x10000 : h) * 4294967296 + gRspLo;
  cpu.linWriteSys(lin, 4, lo, cpl);
  cpu.linWriteSys(cpu.linNext(lin, 4), 4, hi, cpl);
}

/**
 * CALL/JMP far through a call gate in IA-32e mode (SDM Vol. 3 5.8.3.1, 5.8.5, 5.8.6): the gate is
 * 16 bytes (a 64-bit offset, the upper type field 0), its target a 64-bit code segment; no
 * parameters are copied. A CALL to more privilege takes RSPn from the 64-bit TSS, loads a null SS
 * at the new CPL and pushes the old SS:RSP; every slot is 8 bytes. `lo`/`hi`: the gate's first
 * 8 bytes, as `readDescriptorLo` left them (`descAddr` points at the gate).
 */
export function callGate64(cpu: Cpu, gateSel: number, lo: number, hi: number, isCall: boolean): void {
  const s = cpu.state;
  const cpl = s.cpl;
  if (((hi >>> 8) & 0x1f) !== 0x0c) cpu.gp(gateSel);
  const gDpl = (hi >>> 13) & 3;
  if (gDpl < cpl || gDpl < (gateSel & 3)) cpu.gp(gateSel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, gateSel & 0xfffc, true);
  const tableLimit = gateSel & 4 ? s.segLimit[6] : s.dtLimit[0];
  if ((gateSel & 0xfff8) + 15 > tableLimit) cpu.gp(gateSel);
  const gAddr = cpu.descAddr;
  const offHi = cpu.linRead(gAddr + 8, 4, 0);
  const upper = cpu.linRead(gAddr + 12, 4, 0);
  if ((upper >>> 8) & 0x1f) cpu.gp(gateSel);
  const offLo = ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0;
  const csSel = lo >>> 16;
  if ((csSel & 0xfffc) === 0) cpu.gp0();
  const cLo = cpu.readDescriptorLo(csSel);
  const cHi = cpu.descHi;
  const cType = (cHi >>> 8) & 0x1f;
  const cDpl = (cHi >>> 13) & 3;
  if ((cType & 0x18) !== 0x18 || cDpl > cpl || !(cHi & DESC_L) || cHi & DESC_D) cpu.gp(csSel);
  if (!(cHi & 0x8000)) cpu.raise(C.NP, csSel & 0xfffc, true);
  checkCanonical(cpu, offHi);
  const conforming = (cType & 4) !== 0;
  if (!isCall) {
    // A JMP through a call gate never changes privilege (SDM Vol. 3 5.8.5).
    if (!conforming && cDpl !== cpl) cpu.gp(csSel);
    cpu.setDescAccessed(csSel, cHi);
    cpu.setSegFromDesc(1, (csSel & 0xfffc) | cpl, cLo, cHi);
    s.rip[0] = offLo;
    s.rip[1] = offHi;
    return;
  }
  const newCpl = !conforming && cDpl < cpl ? cDpl : cpl;
  if (newCpl !== cpl) {
    const off = 4 + newCpl * 8;
    if (off + 7 > s.segLimit[7]) cpu.raise(C.TS, s.segSel[7] & 0xfffc, true);
    const t = cpu.tableLinear(s.segBase[7], s.segBaseHigh[7], off);
    gRspLo = cpu.linRead(t, 4, 0);
    gRspHi = cpu.linRead(t + 4, 4, 0);
    gatePush(cpu, s.segSel[2], 0, newCpl);
    gatePush(cpu, s.gpr[4], s.gprHigh[4], newCpl);
  } else {
    gRspLo = s.gpr[4];
    gRspHi = s.gprHigh[4];
  }
  gatePush(cpu, s.segSel[1], 0, newCpl);
  gatePush(cpu, s.rip[0], s.rip[1], newCpl);
  // Commit.
  if (newCpl !== cpl) {
    s.segSel[2] = newCpl;
    s.segBase[2] = 0;
    s.segBaseHigh[2] = 0;
    s.segLimit[2] = 0;
    s.segAttr[2] = SegAttr.UNUSABLE | (newCpl << SegAttr.DPL_SHIFT);
  }
  s.gpr[4] = gRspLo;
  s.gprHigh[4] = gRspHi;
  cpu.setDescAccessed(csSel, cHi);
  s.cpl = newCpl;
  cpu.setSegFromDesc(1, (csSel & 0xfffc) | newCpl, cLo, cHi);
  s.rip[0] = offLo;
  s.rip[1] = offHi;
  for (let r = 0; r < 6; r++) cpu.updateSegFlags(r);
}
