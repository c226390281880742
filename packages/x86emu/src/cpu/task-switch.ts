/**
 * Hardware task switching (SDM Vol. 3 7.3): JMP/CALL to a TSS or task gate, a task gate in the
 * IDT, IRET with NT = 1. The two TSS formats are data (`TSS32`, `TSS16`). Every check that the
 * SDM makes before the commit point (7.3 steps 1–5) raises its exception with nothing changed;
 * errors while loading the new task's segments are raised in the context of the new task.
 */
import { Cr0, Flag, SegAttr } from '../state.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { descBase, descLimit } from './descriptor.js';

/** What caused the switch, numbered as the VMX exit qualification (SDM Vol. 3 Table 28-2). */
export const TaskSource = { Call: 0, Iret: 1, Jmp: 2, Gate: 3 } as const;

interface TssFormat {
  minLimit: number;
  width: number;
  eip: number;
  eflags: number;
  /** EAX…EDI, `width` apart. */
  gpr: number;
  /** ES, CS, SS, DS[, FS, GS], `width` apart. */
  seg: number;
  nSegs: number;
  ldt: number;
  /** -1: the format has no CR3 field. */
  cr3: number;
}
/** 32-bit TSS (SDM Vol. 3 Figure 7-2). */
const TSS32: TssFormat = {
  minLimit: 0x67,
  width: 4,
  eip: 0x20,
  eflags: 0x24,
  gpr: 0x28,
  seg: 0x48,
  nSegs: 6,
  ldt: 0x60,
  cr3: 0x1c,
};
/** 16-bit TSS (SDM Vol. 3 Figure 7-11). */
const TSS16: TssFormat = {
  minLimit: 0x2b,
  width: 2,
  eip: 14,
  eflags: 16,
  gpr: 18,
  seg: 34,
  nSegs: 4,
  ldt: 42,
  cr3: -1,
};

const newGpr = new Uint32Array(8);
const newSeg = new Uint16Array(6);

export function taskSwitch(
  cpu: Cpu,
  sel: number,
  source: number,
  oldEip: number,
  ext: number,
  hasError: boolean,
  errorCode: number,
): void {
  const s = cpu.state;
  const errVec = source === TaskSource.Iret ? C.TS : C.GP;
  // The TSS descriptor must be in the GDT.
  if (sel & 4) cpu.raise(errVec, (sel & 0xfffc) | ext, true);
  const lo = cpu.readDescriptorLo(sel, ext, errVec);
  const hi = cpu.descHi;
  const newDescAddr = cpu.descAddr;
  const type = (hi >>> 8) & 0x1f;
  if (type !== 0x01 && type !== 0x03 && type !== 0x09 && type !== 0x0b)
    cpu.raise(errVec, (sel & 0xfffc) | ext, true);
  const busy = (type & 2) !== 0;
  if (source === TaskSource.Iret ? !busy : busy) cpu.raise(errVec, (sel & 0xfffc) | ext, true);
  if (!(hi & 0x8000)) cpu.raise(C.NP, (sel & 0xfffc) | ext, true);
  const nf = type & 8 ? TSS32 : TSS16;
  if (descLimit(lo, hi) < nf.minLimit) cpu.raise(C.TS, (sel & 0xfffc) | ext, true);
  const nBase = descBase(lo, hi);

  // Read the whole new state first (page faults here leave everything unchanged).
  const rd = (off: number, w: number) => cpu.linRead((nBase + off) >>> 0, w, 0);
  const nEip = rd(nf.eip, nf.width);
  let nFlags = rd(nf.eflags, nf.width);
  for (let r = 0; r < 8; r++) newGpr[r] = rd(nf.gpr + r * nf.width, nf.width);
  newSeg.fill(0);
  for (let k = 0; k < nf.nSegs; k++) newSeg[k] = rd(nf.seg + k * nf.width, 2);
  const nLdt = rd(nf.ldt, 2);
  const nCr3 = nf.cr3 >= 0 && s.cr[0] & Cr0.PG ? rd(nf.cr3, 4) : -1;

  // The old TSS: probe the fields we write.
  const oldSel = s.segSel[7];
  const of = (s.segAttr[7] & 0xf) === 0x0b || (s.segAttr[7] & 0xf) === 0x09 ? TSS32 : TSS16;
  const oBase = s.segBase[7];
  const wr = (off: number, w: number, v: number) => cpu.linWriteSys((oBase + off) >>> 0, w, v, 0);
  cpu.linRead((oBase + of.eip) >>> 0, 1, 0);
  cpu.linRead((oBase + of.seg + (of.nSegs - 1) * of.width) >>> 0, 1, 0);

  // Commit point (SDM 7.3 step 6 on).
  if (source === TaskSource.Jmp || source === TaskSource.Iret) {
    // Clear the busy bit of the old TSS descriptor.
    const oAddr = (s.dtBase[0] + (oldSel & 0xfff8) + 4) >>> 0;
    cpu.linWriteSys(oAddr, 4, cpu.linRead(oAddr, 4, 0) & ~0x200, 0);
  }
  let oFlags = cpu.getFlags();
  if (source === TaskSource.Iret) oFlags &= ~Flag.NT;
  wr(of.eip, of.width, oldEip);
  wr(of.eflags, of.width, oFlags);
  for (let r = 0; r < 8; r++) wr(of.gpr + r * of.width, of.width, s.gpr[r]);
  for (let k = 0; k < of.nSegs; k++) wr(of.seg + k * of.width, 2, s.segSel[k]);

  if (source === TaskSource.Call || source === TaskSource.Gate) {
    nFlags |= Flag.NT;
    cpu.linWriteSys(nBase, 2, oldSel, 0);
  }
  const newHi = source === TaskSource.Iret ? hi : (hi | 0x200) >>> 0;
  if (newHi !== hi) cpu.linWriteSys((newDescAddr + 4) >>> 0, 4, newHi, 0);
  s.segSel[7] = sel;
  s.segBase[7] = nBase;
  s.segLimit[7] = descLimit(lo, hi);
  s.segAttr[7] = (newHi >>> 8) & 0xf0ff;
  s.cr[0] |= Cr0.TS;

  if (nCr3 >= 0) cpu.writeCr(3, nCr3);
  for (let r = 0; r < 8; r++) s.gpr[r] = nf.width === 2 ? (s.gpr[r] & 0xffff0000) | newGpr[r] : newGpr[r];
  s.rip[0] = nEip;
  // From here on, faults belong to the new task: they restore its EIP, not the old instruction's.
  cpu.startEip = nEip;
  cpu.setFlags(nFlags | Flag.FIXED1, 0x3f7fd5 | Flag.VM);
  // Selectors first (the registers hold them even if a descriptor load then faults).
  for (let k = 0; k < 6; k++) s.segSel[k] = newSeg[k];
  s.segSel[6] = nLdt;
  const v86 = (nFlags & Flag.VM) !== 0;
  s.cpl = v86 ? 3 : newSeg[1] & 3;
  loadLdt(cpu, nLdt);
  if (v86) {
    for (let k = 0; k < 6; k++) cpu.loadSegReal(k, newSeg[k]);
  } else {
    loadTaskCs(cpu, newSeg[1]);
    loadTaskSs(cpu, newSeg[2]);
    for (const k of DATA_SEGS) loadTaskData(cpu, k, newSeg[k]);
  }
  cpu.updateMode();
  for (let k = 0; k < 8; k++) cpu.updateSegFlags(k);
  if (s.rip[0] > s.segLimit[1]) cpu.gp0();
  if (hasError) cpu.push(errorCode, nf.width);
}

const DATA_SEGS = [0, 3, 4, 5];

function tsFault(cpu: Cpu, sel: number): never {
  return cpu.raise(C.TS, sel & 0xfffc, true);
}

function loadLdt(cpu: Cpu, sel: number): void {
  const s = cpu.state;
  if ((sel & 0xfffc) === 0) {
    s.segBase[6] = 0;
    s.segLimit[6] = 0;
    s.segAttr[6] = SegAttr.UNUSABLE;
    return;
  }
  if (sel & 4) tsFault(cpu, sel);
  const lo = cpu.readDescriptorLo(sel, 0, C.TS);
  const hi = cpu.descHi;
  if (((hi >>> 8) & 0x1f) !== 0x02 || !(hi & 0x8000)) tsFault(cpu, sel);
  s.segBase[6] = descBase(lo, hi);
  s.segLimit[6] = descLimit(lo, hi);
  s.segAttr[6] = (hi >>> 8) & 0xf0ff;
}

/** SDM Vol. 3 Table 7-1: the new CS. */
function loadTaskCs(cpu: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) tsFault(cpu, sel);
  const lo = cpu.readDescriptorLo(sel, 0, C.TS);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  const dpl = (hi >>> 13) & 3;
  const rpl = sel & 3;
  if ((type & 0x18) !== 0x18) tsFault(cpu, sel);
  if (type & 4 ? dpl > rpl : dpl !== rpl) tsFault(cpu, sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  cpu.setDescAccessed(sel, hi);
  cpu.setSegFromDesc(1, sel, lo, hi);
}

function loadTaskSs(cpu: Cpu, sel: number): void {
  const cpl = cpu.state.cpl;
  if ((sel & 0xfffc) === 0) tsFault(cpu, sel);
  const lo = cpu.readDescriptorLo(sel, 0, C.TS);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  if ((type & 0x1a) !== 0x12 || (sel & 3) !== cpl || ((hi >>> 13) & 3) !== cpl) tsFault(cpu, sel);
  if (!(hi & 0x8000)) cpu.raise(C.SS, sel & 0xfffc, true);
  cpu.setDescAccessed(sel, hi);
  cpu.setSegFromDesc(2, sel, lo, hi);
}

function loadTaskData(cpu: Cpu, seg: number, sel: number): void {
  if ((sel & 0xfffc) === 0) {
    cpu.loadNull(seg);
    cpu.state.segSel[seg] = sel;
    return;
  }
  const cpl = cpu.state.cpl;
  const lo = cpu.readDescriptorLo(sel, 0, C.TS);
  const hi = cpu.descHi;
  const type = (hi >>> 8) & 0x1f;
  const dpl = (hi >>> 13) & 3;
  if (!(type & 0x10) || (type & 0x1a) === 0x18) tsFault(cpu, sel);
  if ((type & 0x1c) !== 0x1c && (dpl < cpl || dpl < (sel & 3))) tsFault(cpu, sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  cpu.setDescAccessed(sel, hi);
  cpu.setSegFromDesc(seg, sel, lo, hi);
}
