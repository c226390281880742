/**
 * x87 control instructions (SDM Vol. 2 FINIT/FNINIT, FCLEX/FNCLEX, FSTSW/FNSTSW, FSTCW/FNSTCW,
 * FLDCW, FSTENV/FNSTENV, FLDENV, FSAVE/FNSAVE, FRSTOR, WAIT/FWAIT). The FN forms do not wait:
 * they skip the pending-exception check (SDM Vol. 1 8.3.11). The environment has four layouts
 * (Vol. 1 Figures 8-9 to 8-12): 14 or 28 bytes by operand size, protected-mode (FCS, FDS,
 * offsets) or real-address/virtual-8086 (20- or 32-bit linear pointers with FOP); 64-bit mode
 * uses the 28-byte protected-mode one.
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { partEa } from '../operands.js';
import { checkFpu } from './fpu-checks.js';
import { fullTagWord, getTop } from './stack.js';
import { fpuEnter, loadedControlWord, pendingError, SW_ES, updateSummary } from './status.js';

const REGS = new Uint8Array(80);

/** FNINIT's state (SDM Vol. 2 FINIT: also the pointers and opcode). */
export function fpuInit(cpu: Cpu): void {
  const s = cpu.state;
  s.fpuControl[0] = 0x37f;
  s.fpuStatus[0] = 0;
  s.fpuTag[0] = 0xffff;
  s.fpuIp.fill(0);
  s.fpuDp.fill(0);
  s.fpuSel.fill(0);
  s.fpuOpcode[0] = 0;
  updateSummary(cpu);
}

export const FNINIT: Handler = (cpu) => {
  checkFpu(cpu);
  fpuInit(cpu);
};

/** FNCLEX: clears PE…IE, SF, ES and B. */
export const FNCLEX: Handler = (cpu) => {
  checkFpu(cpu);
  cpu.state.fpuStatus[0] &= 0x7f00;
  updateSummary(cpu);
};

export const FNSTSW: Handler = (cpu, i) => {
  checkFpu(cpu);
  cpu.write(i.memSeg, cpu.ea(i), 2, cpu.state.fpuStatus[0]);
};

export const FNSTSW_AX: Handler = (cpu) => {
  checkFpu(cpu);
  cpu.setReg(0, 2, 0, cpu.state.fpuStatus[0]);
};

export const FNSTCW: Handler = (cpu, i) => {
  checkFpu(cpu);
  cpu.write(i.memSeg, cpu.ea(i), 2, cpu.state.fpuControl[0]);
};

/** FLDCW (reserved bits as `loadedControlWord` says). A flag now unmasked becomes pending. */
export const FLDCW: Handler = (cpu, i) => {
  fpuEnter(cpu);
  cpu.state.fpuControl[0] = loadedControlWord(cpu.read(i.memSeg, cpu.ea(i), 2));
  updateSummary(cpu);
};

/** WAIT/FWAIT: #NM only when CR0.MP and CR0.TS are both set (SDM Vol. 3 Table 2-2), then pending errors. */
export const FWAIT: Handler = (cpu) => {
  const s = cpu.state;
  if ((s.cr[0] & 0xa) === 0xa) cpu.raise(C.NM, 0, false);
  if (s.fpuStatus[0] & SW_ES) pendingError(cpu);
};

function envSize(i: Insn): number {
  return i.opSize === 2 ? 14 : 28;
}

/** Real-address or virtual-8086 layout (linear pointers, FOP stored). */
function realLayout(cpu: Cpu): boolean {
  return !cpu.prot || cpu.v86;
}

/** The seven environment fields, assembled before any is written (and read before any is loaded). */
const ENV_WORDS = new Uint32Array(7);

function storeEnv(cpu: Cpu, i: Insn, ea: number): void {
  const s = cpu.state;
  const seg = i.memSeg;
  const w = i.opSize === 2 ? 2 : 4;
  const hiOnes = w === 4 ? 0xffff0000 : 0;
  ENV_WORDS[0] = s.fpuControl[0] | hiOnes;
  ENV_WORDS[1] = s.fpuStatus[0] | hiOnes;
  ENV_WORDS[2] = fullTagWord(s) | hiOnes;
  const op = s.fpuOpcode[0] & 0x7ff;
  if (realLayout(cpu)) {
    const ip = (s.fpuIp[0] + (s.fpuSel[0] << 4)) >>> 0;
    const dp = (s.fpuDp[0] + (s.fpuSel[1] << 4)) >>> 0;
    if (w === 4) {
      ENV_WORDS[3] = (ip & 0xffff) | hiOnes;
      ENV_WORDS[4] = ((ip >>> 16) << 12) | op;
      ENV_WORDS[5] = (dp & 0xffff) | hiOnes;
      ENV_WORDS[6] = (dp >>> 16) << 12;
    } else {
      ENV_WORDS[3] = ip;
      ENV_WORDS[4] = (((ip >>> 16) & 0xf) << 12) | op;
      ENV_WORDS[5] = dp;
      ENV_WORDS[6] = ((dp >>> 16) & 0xf) << 12;
    }
  } else {
    ENV_WORDS[3] = s.fpuIp[0];
    ENV_WORDS[4] = w === 4 ? s.fpuSel[0] | (op << 16) : s.fpuSel[0];
    ENV_WORDS[5] = s.fpuDp[0];
    ENV_WORDS[6] = s.fpuSel[1] | hiOnes; // FDS's upper half reads as ones, as CW/SW/TW's (the CPU's)
  }
  const m = w === 2 ? 0xffff : 0xffffffff;
  for (let k = 0; k < 7; k++) cpu.write(seg, partEa(ea + k * w, i.adSize), w, (ENV_WORDS[k] & m) >>> 0);
}

function readEnv(cpu: Cpu, i: Insn, ea: number): void {
  const seg = i.memSeg;
  const w = i.opSize === 2 ? 2 : 4;
  for (let k = 0; k < 7; k++) ENV_WORDS[k] = cpu.read(seg, partEa(ea + k * w, i.adSize), w);
}

function loadEnv(cpu: Cpu, i: Insn, ea: number): void {
  readEnv(cpu, i, ea);
  commitEnv(cpu, i);
}

/** Loads the fields `readEnv` read. */
function commitEnv(cpu: Cpu, i: Insn): void {
  const s = cpu.state;
  const w = i.opSize === 2 ? 2 : 4;
  const cw = ENV_WORDS[0] & 0xffff;
  const sw = ENV_WORDS[1] & 0xffff;
  const tw = ENV_WORDS[2] & 0xffff;
  const v3 = ENV_WORDS[3];
  const v4 = ENV_WORDS[4];
  const v5 = ENV_WORDS[5];
  const v6 = ENV_WORDS[6];
  s.fpuControl[0] = loadedControlWord(cw);
  s.fpuStatus[0] = sw;
  s.fpuTag[0] = tw;
  s.fpuIp[1] = 0;
  s.fpuDp[1] = 0;
  if (realLayout(cpu)) {
    const mask = w === 4 ? 0xffff : 0xf;
    s.fpuIp[0] = (v3 & 0xffff) | (((v4 >>> 12) & mask) << 16);
    s.fpuDp[0] = (v5 & 0xffff) | (((v6 >>> 12) & mask) << 16);
    s.fpuOpcode[0] = v4 & 0x7ff;
    s.fpuSel.fill(0);
  } else {
    s.fpuIp[0] = v3;
    s.fpuSel[0] = v4 & 0xffff;
    // The 14-byte protected-mode layout has no FOP: it loads as 0 (as the CPU does).
    s.fpuOpcode[0] = w === 4 ? (v4 >>> 16) & 0x7ff : 0;
    s.fpuDp[0] = v5;
    s.fpuSel[1] = v6 & 0xffff;
  }
}

/** Tags from a loaded tag word: only "empty" is kept, the rest follows the contents. */
function normaliseTags(cpu: Cpu): void {
  cpu.state.fpuTag[0] = fullTagWord(cpu.state);
}

/** FNSTENV: stores the environment, then masks every exception (SDM Vol. 2 FSTENV). */
export const FNSTENV: Handler = (cpu, i) => {
  checkFpu(cpu);
  const ea = cpu.ea(i);
  cpu.probeWrite(cpu.segAddr(i.memSeg, ea, envSize(i), true), envSize(i));
  storeEnv(cpu, i, ea);
  cpu.state.fpuControl[0] |= 0x3f;
};

export const FLDENV: Handler = (cpu, i) => {
  fpuEnter(cpu);
  const ea = cpu.ea(i);
  cpu.segAddr(i.memSeg, ea, envSize(i), false);
  loadEnv(cpu, i, ea);
  normaliseTags(cpu);
  updateSummary(cpu);
};

/** FNSAVE: the environment and ST(0)…ST(7) (10 bytes each, stack order), then FNINIT. */
export const FNSAVE: Handler = (cpu, i) => {
  checkFpu(cpu);
  const ea = cpu.ea(i);
  const env = envSize(i);
  cpu.probeWrite(cpu.segAddr(i.memSeg, ea, env + 80, true), env + 80);
  storeEnv(cpu, i, ea);
  const s = cpu.state;
  const top = getTop(s);
  for (let k = 0; k < 8; k++) {
    const p = ((top + k) & 7) * 10;
    for (let b = 0; b < 10; b++)
      cpu.write(i.memSeg, partEa(ea + env + k * 10 + b, i.adSize), 1, s.fpuRegs[p + b]);
  }
  fpuInit(cpu);
};

export const FRSTOR: Handler = (cpu, i) => {
  fpuEnter(cpu);
  const ea = cpu.ea(i);
  const env = envSize(i);
  cpu.segAddr(i.memSeg, ea, env + 80, false);
  // Every byte is read before any state changes, so a fault part-way leaves the FPU as it was.
  // The first byte, then the last, then the rest: a #PF reports CR2 as the referee CPU does (the
  // first byte when its page is absent, else the last byte when the operand ends in an absent page).
  cpu.read(i.memSeg, ea, 1);
  cpu.read(i.memSeg, partEa(ea + env + 79, i.adSize), 1);
  readEnv(cpu, i, ea);
  for (let k = 0; k < 80; k++) REGS[k] = cpu.read(i.memSeg, partEa(ea + env + k, i.adSize), 1);
  commitEnv(cpu, i);
  const s = cpu.state;
  const top = getTop(s);
  for (let k = 0; k < 8; k++) s.fpuRegs.set(REGS.subarray(k * 10, k * 10 + 10), ((top + k) & 7) * 10);
  normaliseTags(cpu);
  updateSummary(cpu);
};
