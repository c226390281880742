/**
 * System instructions of IA-32e mode (SDM Vol. 2 SYSCALL, SYSRET, SWAPGS, RDTSCP; LGDT/LIDT/SGDT/
 * SIDT with 8-byte bases) and the MSRs they use (SDM Vol. 3 2.2.1, 5.8.8, Table 2-2 of Vol. 4).
 */
import { InterceptKind } from '../api/intercepts.js';
import type { Cpu } from '../cpu/cpu.js';
import type { Handler } from '../cpu/handler.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { Efer, Flag, SegAttr } from '../state.js';
import { readM64, setReg64 } from './long/operands64.js';

export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SFMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100;
export const MSR_GS_BASE = 0xc0000101;
export const MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103;

function canonicalHi(hi: number): boolean {
  const h = hi | 0;
  return h < 0x8000 && h >= -0x8000;
}

/**
 * RDMSR of the IA-32e MSRs the CPU owns: fills out[0..1], true when `index` is one of them.
 * (WRMSR is `writeMsr64`.)
 */
export function readMsr64(cpu: Cpu, index: number, out: Uint32Array): boolean {
  const s = cpu.state;
  switch (index) {
    case MSR_STAR:
      out[0] = s.star[0];
      out[1] = s.star[1];
      return true;
    case MSR_LSTAR:
      out[0] = s.lstar[0];
      out[1] = s.lstar[1];
      return true;
    case MSR_CSTAR:
      out[0] = s.cstar[0];
      out[1] = s.cstar[1];
      return true;
    case MSR_SFMASK:
      out[0] = s.sfmask[0];
      out[1] = 0;
      return true;
    case MSR_FS_BASE:
    case MSR_GS_BASE: {
      const seg = index === MSR_FS_BASE ? 4 : 5;
      out[0] = s.segBase[seg];
      out[1] = s.segBaseHigh[seg];
      return true;
    }
    case MSR_KERNEL_GS_BASE:
      out[0] = s.kernelGsBase[0];
      out[1] = s.kernelGsBase[1];
      return true;
    case MSR_TSC_AUX:
      out[0] = s.tscAux[0];
      out[1] = 0;
      return true;
  }
  return false;
}

/**
 * WRMSR of the IA-32e MSRs: 1 done, 0 not one of them, -1 #GP(0) (addresses must be canonical;
 * FMASK and TSC_AUX have 32 bits: the upper ones are reserved).
 */
export function writeMsr64(cpu: Cpu, index: number, lo: number, hi: number): number {
  const s = cpu.state;
  switch (index) {
    case MSR_STAR:
      s.star[0] = lo;
      s.star[1] = hi;
      return 1;
    case MSR_LSTAR:
    case MSR_CSTAR:
    case MSR_KERNEL_GS_BASE: {
      if (!canonicalHi(hi)) return -1;
      const a = index === MSR_LSTAR ? s.lstar : index === MSR_CSTAR ? s.cstar : s.kernelGsBase;
      a[0] = lo;
      a[1] = hi;
      return 1;
    }
    case MSR_SFMASK:
    case MSR_TSC_AUX:
      if (hi !== 0) return -1;
      if (index === MSR_SFMASK) s.sfmask[0] = lo;
      else s.tscAux[0] = lo;
      return 1;
    case MSR_FS_BASE:
    case MSR_GS_BASE: {
      if (!canonicalHi(hi)) return -1;
      const seg = index === MSR_FS_BASE ? 4 : 5;
      s.segBase[seg] = lo;
      s.segBaseHigh[seg] = hi;
      cpu.updateSegFlags(seg);
      return 1;
    }
  }
  return 0;
}

/** Loads a flat code or stack segment as SYSCALL/SYSRET do (fixed values, not the GDT). */
function setFlat(cpu: Cpu, seg: number, sel: number, attr: number): void {
  const s = cpu.state;
  s.segSel[seg] = sel;
  s.segBase[seg] = 0;
  s.segBaseHigh[seg] = 0;
  s.segLimit[seg] = 0xffffffff;
  s.segAttr[seg] = attr | SegAttr.S | SegAttr.P | SegAttr.G;
}

/**
 * SYSCALL (SDM Vol. 2): 64-bit mode with EFER.SCE only (#UD otherwise, as on Intel). RCX ← RIP,
 * R11 ← RFLAGS, RFLAGS &= ~FMASK, CS/SS from STAR[47:32] at CPL 0, RIP ← LSTAR.
 */
export const SYSCALL: Handler = (cpu) => {
  const s = cpu.state;
  if (!cpu.long64 || !(s.efer[0] & Efer.SCE)) cpu.ud();
  const fl = cpu.getFlags();
  setReg64(cpu, 1, s.rip[0], s.rip[1]);
  setReg64(cpu, 11, fl, 0);
  const sel = s.star[1] & 0xffff;
  s.cpl = 0;
  setFlat(cpu, 1, sel & 0xfffc, 0xb | SegAttr.L);
  setFlat(cpu, 2, (sel + 8) & 0xfffc, 0x3 | SegAttr.DB);
  cpu.setFlags(fl & ~s.sfmask[0] & ~Flag.RF, 0x3f7fd5 | Flag.RF);
  s.rip[0] = s.lstar[0];
  s.rip[1] = s.lstar[1];
  cpu.updateMode();
  for (let r = 0; r < 6; r++) cpu.updateSegFlags(r);
};

/**
 * SYSRET (SDM Vol. 2): back to CPL 3 in 64-bit mode (REX.W: CS = STAR[63:48] + 16, RIP = RCX,
 * which must be canonical: #GP(0) in ring 0) or compatibility mode (CS = STAR[63:48], RIP = ECX);
 * SS = STAR[63:48] + 8; RFLAGS from R11.
 */
export const SYSRET: Handler = (cpu, i) => {
  const s = cpu.state;
  if (!cpu.long64 || !(s.efer[0] & Efer.SCE)) cpu.ud();
  if (s.cpl !== 0) cpu.gp0();
  const to64 = i.opSize === 8;
  if (to64) {
    const h = s.gprHigh[1] | 0;
    if (h >= 0x8000 || h < -0x8000) cpu.gp0();
  }
  const base = s.star[1] >>> 16;
  const ripLo = s.gpr[1];
  const ripHi = to64 ? s.gprHigh[1] : 0;
  cpu.setFlags((s.gpr[11] & 0x3c7fd7) | 2, 0x3f7fd5 | Flag.RF);
  s.cpl = 3;
  setFlat(
    cpu,
    1,
    ((to64 ? base + 16 : base) | 3) & 0xffff,
    0xb | (3 << SegAttr.DPL_SHIFT) | (to64 ? SegAttr.L : SegAttr.DB),
  );
  setFlat(cpu, 2, ((base + 8) | 3) & 0xffff, 0x3 | (3 << SegAttr.DPL_SHIFT) | SegAttr.DB);
  s.rip[0] = ripLo;
  s.rip[1] = ripHi;
  cpu.updateMode();
  for (let r = 0; r < 6; r++) cpu.updateSegFlags(r);
  cpu.irqCheck = true;
};

/** SWAPGS (0F 01 F8): GS.base ⇄ IA32_KERNEL_GS_BASE; 64-bit mode (#UD) at CPL 0 (#GP(0)). */
export const SWAPGS: Handler = (cpu) => {
  const s = cpu.state;
  if (!cpu.long64) cpu.ud();
  if (s.cpl !== 0) cpu.gp0();
  const lo = s.segBase[5];
  const hi = s.segBaseHigh[5];
  s.segBase[5] = s.kernelGsBase[0];
  s.segBaseHigh[5] = s.kernelGsBase[1];
  s.kernelGsBase[0] = lo;
  s.kernelGsBase[1] = hi;
  cpu.updateSegFlags(5);
};

/** RDTSCP (0F 01 F9): EDX:EAX ← TSC, ECX ← TSC_AUX (SDM Vol. 2); CR4.TSD makes it CPL 0 only. */
export const RDTSCP: Handler = (cpu) => {
  const s = cpu.state;
  if (s.cr[4] & 4 && cpu.prot && (cpu.v86 || s.cpl !== 0)) cpu.gp0();
  cpu.intercept(InterceptKind.Rdtsc);
  const lo = s.tsc[0] + cpu.runCount;
  setReg64(cpu, 0, lo >>> 0, 0);
  setReg64(cpu, 2, (s.tsc[1] + Math.floor(lo / 4294967296)) >>> 0, 0);
  setReg64(cpu, 1, s.tscAux[0], 0);
};

/** LGDT/LIDT in 64-bit mode: a 10-byte operand (limit, 8-byte base) whatever the operand size. */
export function makeLoadDt64(row: OpcodeRow): Handler {
  const idt = row.mnemonic === 'LIDT' ? 1 : 0;
  return (cpu, i) => {
    if (cpu.state.cpl !== 0) cpu.gp0();
    const ea = cpu.ea(i);
    const limit = cpu.read(i.memSeg, ea, 2);
    readM64(cpu, i.memSeg, ea + 2);
    cpu.state.dtLimit[idt] = limit;
    cpu.state.dtBase[idt] = cpu.lo64;
    cpu.state.dtBaseHigh[idt] = cpu.hi64;
  };
}
/** SGDT/SIDT in 64-bit mode: store the limit and the 8-byte base. */
export function makeStoreDt64(row: OpcodeRow): Handler {
  const idt = row.mnemonic === 'SIDT' ? 1 : 0;
  return (cpu, i) => {
    const s = cpu.state;
    const ea = cpu.ea(i);
    cpu.segAddr(i.memSeg, ea, 10, true);
    cpu.write(i.memSeg, ea, 2, s.dtLimit[idt]);
    cpu.write(i.memSeg, ea + 2, 4, s.dtBase[idt]);
    cpu.write(i.memSeg, ea + 6, 4, s.dtBaseHigh[idt]);
  };
}
