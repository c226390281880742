/**
 * x87/SSE state management only (SDM Vol. 1 8.1, 10.5): what an OS needs to initialise, save
 * and restore FPU state. Arithmetic x87 instructions are not implemented (CPUID.1:EDX.FPU = 0).
 */
import * as C from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import { Cr0 } from '../state.js';
import { partEa } from './operands.js';

/** x87 instructions raise #NM when CR0.EM or CR0.TS is set (SDM Vol. 3 2.5, Table 2-2). */
function checkNm(cpu: Cpu): void {
  if (cpu.state.cr[0] & (Cr0.EM | Cr0.TS)) cpu.raise(C.NM, 0, false);
}

/** Every x87 form we do not implement: #NM under EM/TS (what an emulating OS relies on), else #UD. */
export const FPU_OTHER: Handler = (cpu) => {
  checkNm(cpu);
  cpu.ud();
};

function fninit(cpu: Cpu): void {
  const s = cpu.state;
  s.fpuControl[0] = 0x37f;
  s.fpuStatus[0] = 0;
  s.fpuTag[0] = 0xffff;
}
export const FNINIT: Handler = (cpu) => {
  checkNm(cpu);
  fninit(cpu);
};
export const FNCLEX: Handler = (cpu) => {
  checkNm(cpu);
  cpu.state.fpuStatus[0] &= 0x7f00;
};
export const FNSTSW: Handler = (cpu, i) => {
  checkNm(cpu);
  cpu.write(i.memSeg, cpu.ea(i), 2, cpu.state.fpuStatus[0]);
};
export const FNSTSW_AX: Handler = (cpu) => {
  checkNm(cpu);
  cpu.setReg(0, 2, 0, cpu.state.fpuStatus[0]);
};
export const FNSTCW: Handler = (cpu, i) => {
  checkNm(cpu);
  cpu.write(i.memSeg, cpu.ea(i), 2, cpu.state.fpuControl[0]);
};
export const FLDCW: Handler = (cpu, i) => {
  checkNm(cpu);
  cpu.state.fpuControl[0] = cpu.read(i.memSeg, cpu.ea(i), 2) | 0x40;
};

/** The 14/28-byte environment (SDM Vol. 1 Figures 8-9, 8-10): control, status, tag; pointers stored as 0. */
function envSize(i: Insn): number {
  return i.opSize === 2 ? 14 : 28;
}
function storeEnv(cpu: Cpu, i: Insn, ea: number): void {
  const s = cpu.state;
  const w = i.opSize === 2 ? 2 : 4;
  const vals = [
    s.fpuControl[0] | 0xffff0000,
    s.fpuStatus[0] | 0xffff0000,
    s.fpuTag[0] | 0xffff0000,
    0,
    0,
    0,
    0,
  ];
  for (let k = 0; k < 7; k++)
    cpu.write(i.memSeg, partEa(ea + k * w, i.adSize), w, w === 2 ? vals[k] & 0xffff : vals[k] >>> 0);
}
function loadEnv(cpu: Cpu, i: Insn, ea: number): void {
  const s = cpu.state;
  const w = i.opSize === 2 ? 2 : 4;
  s.fpuControl[0] = cpu.read(i.memSeg, ea, 2) | 0x40;
  s.fpuStatus[0] = cpu.read(i.memSeg, partEa(ea + w, i.adSize), 2);
  s.fpuTag[0] = cpu.read(i.memSeg, partEa(ea + 2 * w, i.adSize), 2);
}
export const FNSTENV: Handler = (cpu, i) => {
  checkNm(cpu);
  const ea = cpu.ea(i);
  cpu.segAddr(i.memSeg, ea, envSize(i), true);
  storeEnv(cpu, i, ea);
};
export const FLDENV: Handler = (cpu, i) => {
  checkNm(cpu);
  const ea = cpu.ea(i);
  cpu.segAddr(i.memSeg, ea, envSize(i), false);
  loadEnv(cpu, i, ea);
};
/** FNSAVE: environment + 8 × 80-bit registers, then FNINIT (SDM FSAVE). */
export const FNSAVE: Handler = (cpu, i) => {
  checkNm(cpu);
  const ea = cpu.ea(i);
  const env = envSize(i);
  cpu.segAddr(i.memSeg, ea, env + 80, true);
  storeEnv(cpu, i, ea);
  const r = cpu.state.fpuRegs;
  for (let k = 0; k < 80; k++) cpu.write(i.memSeg, partEa(ea + env + k, i.adSize), 1, r[k]);
  fninit(cpu);
};
export const FRSTOR: Handler = (cpu, i) => {
  checkNm(cpu);
  const ea = cpu.ea(i);
  const env = envSize(i);
  cpu.segAddr(i.memSeg, ea, env + 80, false);
  const r = cpu.state.fpuRegs;
  for (let k = 0; k < 80; k++) r[k] = cpu.read(i.memSeg, partEa(ea + env + k, i.adSize), 1);
  loadEnv(cpu, i, ea);
};

/** FXSAVE/FXRSTOR: the 512-byte image (SDM Vol. 2 FXSAVE, Table 3-53), 16-byte aligned or #GP(0). */
function fxCheck(cpu: Cpu, i: Insn, write: boolean): number {
  if (cpu.state.cr[0] & (Cr0.EM | Cr0.TS)) cpu.raise(C.NM, 0, false);
  const ea = cpu.ea(i);
  const lin = cpu.segAddr(i.memSeg, ea, 512, write);
  if (lin & 15) cpu.gp0();
  return ea;
}
export const FXSAVE: Handler = (cpu, i) => {
  const ea = fxCheck(cpu, i, true);
  const s = cpu.state;
  const seg = i.memSeg;
  const at = (o: number) => partEa(ea + o, i.adSize);
  let abridged = 0;
  for (let k = 0; k < 8; k++) if (((s.fpuTag[0] >>> (2 * k)) & 3) !== 3) abridged |= 1 << k;
  cpu.write(seg, at(0), 2, s.fpuControl[0]);
  cpu.write(seg, at(2), 2, s.fpuStatus[0]);
  cpu.write(seg, at(4), 1, abridged);
  cpu.write(seg, at(5), 1, 0);
  for (let o = 6; o < 24; o += 2) cpu.write(seg, at(o), 2, 0);
  cpu.write(seg, at(24), 4, s.mxcsr[0]);
  cpu.write(seg, at(28), 4, 0xffff);
  for (let k = 0; k < 8; k++) {
    for (let b = 0; b < 10; b++) cpu.write(seg, at(32 + k * 16 + b), 1, s.fpuRegs[k * 10 + b]);
    for (let b = 10; b < 16; b++) cpu.write(seg, at(32 + k * 16 + b), 1, 0);
  }
  for (let b = 0; b < 128; b++) cpu.write(seg, at(160 + b), 1, s.xmm[b]);
};
export const FXRSTOR: Handler = (cpu, i) => {
  const ea = fxCheck(cpu, i, false);
  const s = cpu.state;
  const seg = i.memSeg;
  const at = (o: number) => partEa(ea + o, i.adSize);
  const mxcsr = cpu.read(seg, at(24), 4);
  // Reserved MXCSR bits set → #GP(0) (SDM FXRSTOR); our MXCSR_MASK is 0xFFFF.
  if (mxcsr & 0xffff0000) cpu.gp0();
  s.fpuControl[0] = cpu.read(seg, at(0), 2);
  s.fpuStatus[0] = cpu.read(seg, at(2), 2);
  const abridged = cpu.read(seg, at(4), 1);
  let tag = 0;
  for (let k = 0; k < 8; k++) tag |= ((abridged >>> k) & 1 ? 0 : 3) << (2 * k);
  s.fpuTag[0] = tag;
  s.mxcsr[0] = mxcsr;
  for (let k = 0; k < 8; k++)
    for (let b = 0; b < 10; b++) s.fpuRegs[k * 10 + b] = cpu.read(seg, at(32 + k * 16 + b), 1);
  for (let b = 0; b < 128; b++) s.xmm[b] = cpu.read(seg, at(160 + b), 1);
};
