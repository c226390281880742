/** Decimal arithmetic (SDM Vol. 2 DAA, DAS, AAA, AAS, AAM, AAD) and SALC. */
import * as C from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import { LF_LOGIC } from '../cpu/lazy-flags.js';
import { Flag } from '../state.js';

function setAl(cpu: Cpu, v: number): void {
  const g = cpu.state.gpr;
  g[0] = (g[0] & 0xffffff00) | (v & 0xff);
}
function szp(cpu: Cpu, v: number): void {
  cpu.setLazy(LF_LOGIC, 0, 0, v & 0xff, 1);
  cpu.materializeFlags();
}
function setFlag(cpu: Cpu, f: number, on: boolean): void {
  const s = cpu.state;
  s.rflags[0] = on ? s.rflags[0] | f : s.rflags[0] & ~f;
}

export const DAA: Handler = (cpu) => {
  const oldAl = cpu.state.gpr[0] & 0xff;
  const oldCf = cpu.getCF();
  const af = cpu.getAF();
  let al = oldAl;
  let cf = false;
  let newAf = false;
  if ((al & 0xf) > 9 || af) {
    al = (al + 6) & 0xff;
    cf = oldCf || oldAl + 6 > 0xff;
    newAf = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = true;
  }
  setAl(cpu, al);
  szp(cpu, al);
  setFlag(cpu, Flag.CF, cf);
  setFlag(cpu, Flag.AF, newAf);
};

export const DAS: Handler = (cpu) => {
  const oldAl = cpu.state.gpr[0] & 0xff;
  const oldCf = cpu.getCF();
  const af = cpu.getAF();
  let al = oldAl;
  let cf = false;
  let newAf = false;
  if ((al & 0xf) > 9 || af) {
    cf = oldCf || al < 6;
    al = (al - 6) & 0xff;
    newAf = true;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = true;
  }
  setAl(cpu, al);
  szp(cpu, al);
  setFlag(cpu, Flag.CF, cf);
  setFlag(cpu, Flag.AF, newAf);
};

/**
 * AAA/AAS as on the 386 and later (SDM Vol. 2 AAA, AAS): AX = AX + 106H / AX − 106H as one
 * 16-bit operation, so a carry or borrow out of AL reaches AH (the 8086 adjusted AL and AH
 * separately: AAA of AX = 00FAH gives 0100H there, 0200H here).
 */
function asciiAdjust(cpu: Cpu, sub: boolean): void {
  const g = cpu.state.gpr;
  const adjust = (g[0] & 0xf) > 9 || cpu.getAF();
  cpu.materializeFlags();
  let ax = g[0] & 0xffff;
  if (adjust) ax = (sub ? ax - 0x106 : ax + 0x106) & 0xffff;
  g[0] = (g[0] & 0xffff0000) | (ax & 0xff0f);
  setFlag(cpu, Flag.AF, adjust);
  setFlag(cpu, Flag.CF, adjust);
}
export const AAA: Handler = (cpu) => asciiAdjust(cpu, false);
export const AAS: Handler = (cpu) => asciiAdjust(cpu, true);

export const AAM: Handler = (cpu, i) => {
  const base = i.imm & 0xff;
  if (base === 0) cpu.raise(C.DE, 0, false);
  const g = cpu.state.gpr;
  const al = g[0] & 0xff;
  const r = al % base;
  g[0] = (g[0] & 0xffff0000) | ((Math.floor(al / base) & 0xff) << 8) | r;
  szp(cpu, r);
};
export const AAD: Handler = (cpu, i) => {
  const g = cpu.state.gpr;
  const al = ((g[0] & 0xff) + ((g[0] >>> 8) & 0xff) * (i.imm & 0xff)) & 0xff;
  g[0] = (g[0] & 0xffff0000) | al;
  szp(cpu, al);
};
export const SALC: Handler = (cpu) => setAl(cpu, cpu.getCF() ? 0xff : 0);
