/** System instructions (SDM Vol. 3 2.8 and the Vol. 2 pages of each). */
import { CrAccessType, DescInstruction, InterceptKind } from '../api/intercepts.js';
import * as C from '../cpu/consts.js';
import { writeEfer } from '../cpu/control-regs.js';
import type { Cpu } from '../cpu/cpu.js';
import { CPUID1_ECX_OSXSAVE } from '../cpu/defaults.js';
import { descLimit } from '../cpu/descriptor.js';
import type { Handler } from '../cpu/handler.js';
import type { Insn } from '../decoder/insn.js';
import type { OpcodeRow } from '../decoder/opcode-table.js';
import { serializeCode } from '../smp/code-sync.js';
import { Cr0, Cr4, Flag, Interruptibility, SegAttr } from '../state.js';
import { readSysenterMsr, sysenterIa32e, sysexitIa32e, writeSysenterMsr } from './long/sysenter64.js';
import { mask, partEa, readE, writeE, writeG } from './operands.js';
import { readMsr64, writeMsr64 } from './system64.js';

/** Privileged instructions: #GP(0) unless CPL = 0 (virtual-8086 counts as CPL 3) (SDM Vol. 3 5.9). */
function requireCpl0(cpu: Cpu): void {
  if (cpu.prot && (cpu.v86 || cpu.state.cpl !== 0)) cpu.gp0();
}
/** Instructions that exist only in protected mode (#UD in real and virtual-8086 mode). */
function requireProtected(cpu: Cpu): void {
  if (!cpu.prot || cpu.v86) cpu.ud();
}

// ---------------------------------------------------------------- flags

export const CLC: Handler = (cpu) => cpu.setFlags(0, Flag.CF);
export const STC: Handler = (cpu) => cpu.setFlags(Flag.CF, Flag.CF);
export const CMC: Handler = (cpu) => cpu.setFlags(cpu.getCF() ? 0 : Flag.CF, Flag.CF);
export const CLD: Handler = (cpu) => {
  cpu.state.rflags[0] &= ~Flag.DF;
};
export const STD: Handler = (cpu) => {
  cpu.state.rflags[0] |= Flag.DF;
};

/** CLI/STI: allowed when CPL ≤ IOPL (IOPL = 3 in virtual-8086 mode); no PVI/VME (SDM CLI). */
function checkIopl(cpu: Cpu): void {
  if (!cpu.prot) return;
  const iopl = (cpu.state.rflags[0] >>> 12) & 3;
  if (cpu.v86 ? iopl < 3 : cpu.state.cpl > iopl) cpu.gp0();
}
export const CLI: Handler = (cpu) => {
  checkIopl(cpu);
  cpu.state.rflags[0] &= ~Flag.IF;
};
/** STI: if IF was 0, interrupts stay blocked until after the next instruction (SDM STI). */
export const STI: Handler = (cpu) => {
  checkIopl(cpu);
  const s = cpu.state;
  if (!(s.rflags[0] & Flag.IF)) s.interruptibility |= Interruptibility.STI;
  s.rflags[0] |= Flag.IF;
  cpu.irqCheck = true;
};

// ---------------------------------------------------------------- simple privileged ones

export const HLT: Handler = (cpu) => {
  requireCpl0(cpu);
  // The exits a hypervisor takes most return through Cpu.unwinding, not a throw.
  if (cpu.interceptExits(InterceptKind.Hlt)) return;
  cpu.halt();
};
export const INVD: Handler = (cpu) => {
  requireCpl0(cpu);
  cpu.intercept(InterceptKind.Invd);
};
export const WBINVD: Handler = (cpu) => {
  requireCpl0(cpu);
  cpu.intercept(InterceptKind.Wbinvd);
};
export const UD2: Handler = (cpu) => cpu.ud();
export const VMCALL: Handler = (cpu) => {
  cpu.intercept(InterceptKind.Vmcall);
  cpu.ud();
};
export const VMMCALL: Handler = (cpu) => {
  cpu.intercept(InterceptKind.Vmmcall);
  cpu.ud();
};
/** MONITOR/MWAIT are not in our CPUID: #UD unless a hypervisor intercepts them. */
export const MONITOR: Handler = (cpu) => {
  cpu.intercept(InterceptKind.MonitorMwait);
  cpu.ud();
};

/** Clears bits 63:32 of GPR `r`: what a 32-bit result does in 64-bit mode (undefined elsewhere). */
function zeroHigh(cpu: Cpu, r: number): void {
  cpu.state.gprHigh[r] = 0;
}

const CPUID_OUT = new Uint32Array(4);
export const CPUID: Handler = (cpu) => {
  if (cpu.interceptExits(InterceptKind.Cpuid)) return;
  const g = cpu.state.gpr;
  const leaf = g[0];
  cpu.cpuidOps.cpuid(leaf, g[1], CPUID_OUT);
  // CPUID.1:ECX.OSXSAVE reflects CR4.OSXSAVE (SDM Vol. 2 CPUID, Table 3-10; KVM's
  // kvm_update_cpuid_runtime keeps it so in the guest's table).
  if (leaf === 1)
    CPUID_OUT[2] =
      (CPUID_OUT[2] & ~CPUID1_ECX_OSXSAVE) | (cpu.state.cr[4] & Cr4.OSXSAVE ? CPUID1_ECX_OSXSAVE : 0);
  g[0] = CPUID_OUT[0];
  g[3] = CPUID_OUT[1];
  g[1] = CPUID_OUT[2];
  g[2] = CPUID_OUT[3];
  // 32-bit results zero-extend into RAX/RBX/RCX/RDX in 64-bit mode (SDM Vol. 1 3.4.1.1).
  zeroHigh(cpu, 0);
  zeroHigh(cpu, 1);
  zeroHigh(cpu, 2);
  zeroHigh(cpu, 3);
};

export const RDTSC: Handler = (cpu) => {
  if (cpu.state.cr[4] & Cr4.TSD) requireCpl0(cpu);
  cpu.intercept(InterceptKind.Rdtsc);
  const t = cpu.state.tsc;
  const lo = t[0] + cpu.runCount;
  cpu.state.gpr[0] = lo >>> 0;
  cpu.state.gpr[2] = (t[1] + Math.floor(lo / 4294967296)) >>> 0;
  zeroHigh(cpu, 0);
  zeroHigh(cpu, 2);
};
/**
 * SERIALIZE (NP 0F 01 E8; CPUID.(7,0):EDX[14]): completes everything before it and fetches what
 * follows anew (SDM Vol. 2 SERIALIZE, Vol. 3 10.3), without CPUID's exit under virtualization:
 * Linux's `sync_core` prefers it to an IRET to itself (one per text patch at boot). One CPU
 * executing in program order has nothing to wait for; where other threads write this CPU's RAM
 * (`serializingCpuid`) it revalidates the decoded code, as CPUID does, and ends the run there so
 * that the next instruction is fetched from memory as it is now. F2 and F3 make it another
 * instruction (XSUSLDTRK, SETSSBSY), which x86emu does not have: #UD.
 */
export const SERIALIZE: Handler = (cpu, i) => {
  if (i.rep !== 0) cpu.ud();
  if (cpu.serializeRevalidates) {
    serializeCode(cpu);
    cpu.irqCheck = true;
  }
};

export const RDPMC: Handler = (cpu) => {
  if (!(cpu.state.cr[4] & Cr4.PCE)) requireCpl0(cpu);
  cpu.intercept(InterceptKind.Rdpmc);
  // No performance counters are implemented: every ECX is an invalid counter (SDM RDPMC).
  cpu.gp0();
};

// ---------------------------------------------------------------- MSRs

const MSR_TSC = 0x10;
const MSR_SYSENTER_CS = 0x174;
const MSR_SYSENTER_ESP = 0x175;
const MSR_SYSENTER_EIP = 0x176;
const MSR_EFER = 0xc0000080;
const MSR_PAT = 0x277;
const MSR_OUT = new Uint32Array(2);

export const RDMSR: Handler = (cpu) => {
  requireCpl0(cpu);
  if (cpu.interceptExits(InterceptKind.Rdmsr)) return;
  const s = cpu.state;
  const g = s.gpr;
  const index = g[1];
  let lo: number;
  let hi = 0;
  switch (index) {
    case MSR_TSC: {
      const l = s.tsc[0] + cpu.runCount;
      lo = l >>> 0;
      hi = (s.tsc[1] + Math.floor(l / 4294967296)) >>> 0;
      break;
    }
    case MSR_SYSENTER_CS:
      lo = s.sysenter[0];
      break;
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP:
      readSysenterMsr(cpu, index - MSR_SYSENTER_CS, MSR_OUT);
      lo = MSR_OUT[0];
      hi = MSR_OUT[1];
      break;
    case MSR_EFER:
      lo = s.efer[0];
      hi = s.efer[1];
      break;
    case MSR_PAT:
      lo = s.pat[0];
      hi = s.pat[1];
      break;
    default:
      if (!readMsr64(cpu, index, MSR_OUT) && !cpu.msr.rdmsr(index, MSR_OUT)) cpu.gp0();
      lo = MSR_OUT[0];
      hi = MSR_OUT[1];
  }
  g[0] = lo;
  g[2] = hi;
  zeroHigh(cpu, 0);
  zeroHigh(cpu, 2);
};

/**
 * Each PAT entry holds UC (0), WC (1), WT (4), WP (5), WB (6) or UC- (7); 2, 3 and 8–FFH are
 * reserved, and WRMSR of one is #GP(0) (SDM Vol. 3 12.12.2, Table 12-10).
 */
function patValid(half: number): boolean {
  for (let sh = 0; sh < 32; sh += 8) {
    const t = (half >>> sh) & 0xff;
    if (t > 7 || t === 2 || t === 3) return false;
  }
  return true;
}

export const WRMSR: Handler = (cpu) => {
  requireCpl0(cpu);
  if (cpu.interceptExits(InterceptKind.Wrmsr)) return;
  const s = cpu.state;
  const g = s.gpr;
  const index = g[1];
  const lo = g[0];
  const hi = g[2];
  switch (index) {
    case MSR_TSC:
      s.tsc[0] = (lo - cpu.runCount) >>> 0;
      s.tsc[1] = hi - (lo < cpu.runCount ? 1 : 0);
      break;
    case MSR_SYSENTER_CS:
      s.sysenter[0] = lo;
      break;
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP:
      if (!writeSysenterMsr(cpu, index - MSR_SYSENTER_CS, lo, hi)) cpu.gp0();
      break;
    case MSR_EFER:
      if (!writeEfer(cpu, lo, hi)) cpu.gp0();
      break;
    case MSR_PAT:
      if (!patValid(lo) || !patValid(hi)) cpu.gp0();
      s.pat[0] = lo;
      s.pat[1] = hi;
      break;
    default: {
      const own = writeMsr64(cpu, index, lo, hi);
      if (own < 0 || (own === 0 && !cpu.msr.wrmsr(index, lo, hi))) cpu.gp0();
    }
  }
  cpu.irqCheck = true;
};

// ---------------------------------------------------------------- control and debug registers

/** The CR-access intercept; true when it exits (the caller returns: Cpu.unwinding is set). */
function crExit(cpu: Cpu, i: Insn, type: number, kind: number): boolean {
  if (cpu.wantsIntercept(kind)) {
    const x = cpu.exit;
    // CLTS, LMSW and SMSW access CR0 whatever ModRM.reg holds (SDM Vol. 3 Table 28-3).
    x.cr = type >= CrAccessType.Clts ? 0 : i.reg;
    x.crAccessType = type;
    x.gpr = i.rm;
    return cpu.interceptExits(kind);
  }
  return false;
}

/** CR0, CR2, CR3, CR4 exist everywhere; CR8 (the TPR, REX.R) only in 64-bit mode (SDM Vol. 3 2.5). */
function checkCrNumber(cpu: Cpu, n: number): void {
  if (n !== 0 && n !== 2 && n !== 3 && n !== 4 && !(n === 8 && cpu.long64)) cpu.ud();
}

/** In 64-bit mode MOV CR moves 64 bits whatever REX.W says (SDM MOV—Move to/from Control Registers). */
export const MOV_TO_CR: Handler = (cpu, i) => {
  const n = i.reg;
  // Privilege before the register number: CR9 at CPL 3 is #GP(0), as the CPU (and KVM's emulator,
  // whose Priv check comes first) gives.
  requireCpl0(cpu);
  checkCrNumber(cpu, n);
  if (crExit(cpu, i, CrAccessType.MovToCr, InterceptKind.CrWrite)) return;
  cpu.writeCr(n, cpu.state.gpr[i.rm], cpu.long64 ? cpu.state.gprHigh[i.rm] : 0);
};
export const MOV_FROM_CR: Handler = (cpu, i) => {
  const n = i.reg;
  requireCpl0(cpu);
  checkCrNumber(cpu, n);
  if (crExit(cpu, i, CrAccessType.MovFromCr, InterceptKind.CrRead)) return;
  const s = cpu.state;
  s.gpr[i.rm] = cpu.readCr(n);
  s.gprHigh[i.rm] = cpu.long64 ? s.crHigh[n] : 0;
};
export const LMSW: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const v = readE(cpu, i, 2);
  if (cpu.wantsIntercept(InterceptKind.CrWrite)) {
    cpu.exit.lmswSource = v;
    cpu.exit.lmswMemory = i.mod !== 3;
    cpu.exit.linearAddress = i.mod === 3 ? 0 : (cpu.state.segBase[i.memSeg] + cpu.ea(i)) >>> 0;
    if (crExit(cpu, i, CrAccessType.Lmsw, InterceptKind.CrWrite)) return;
  }
  // LMSW loads PE, MP, EM, TS; it can set PE but never clear it (SDM LMSW).
  const cr0 = cpu.state.cr[0];
  const nv = (cr0 & ~0xe) | (v & 0xf) | (cr0 & 1);
  cpu.writeCr(0, nv);
};
export const SMSW: Handler = (cpu, i) => {
  // A CR0 read for SVM's intercept (APM Vol. 2 15.9); VMX never exits on SMSW.
  if (crExit(cpu, i, CrAccessType.Smsw, InterceptKind.CrRead)) return;
  const v = cpu.readCr(0);
  if (i.mod === 3) cpu.setReg(i.rm, i.opSize, 0, mask(v, i.opSize));
  else writeE(cpu, i, 2, v & 0xffff);
};
export const CLTS: Handler = (cpu, i) => {
  requireCpl0(cpu);
  if (crExit(cpu, i, CrAccessType.Clts, InterceptKind.CrWrite)) return;
  cpu.writeCr(0, cpu.state.cr[0] & ~Cr0.TS);
};

/** DR4/DR5 alias DR6/DR7 unless CR4.DE = 1, when they are #UD (SDM Vol. 3 17.2.2). */
function drIndex(cpu: Cpu, n: number): number {
  // REX.R naming DR8–DR15 is #UD (SDM Vol. 2 MOV—Move to/from Debug Registers).
  if (n > 7) cpu.ud();
  if (n === 4 || n === 5) {
    if (cpu.state.cr[4] & Cr4.DE) cpu.ud();
    return n + 2;
  }
  return n;
}
/** DR7.GD: any MOV DR is a #DB fault with DR6.BD, before a VM exit (SDM Vol. 3 17.2.4). */
function generalDetect(cpu: Cpu): void {
  const s = cpu.state;
  if (s.dr[7] & 0x2000) {
    s.dr[6] |= 0x2000;
    cpu.raise(C.DB, 0, false);
  }
}

export const MOV_FROM_DR: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const n = drIndex(cpu, i.reg);
  generalDetect(cpu);
  if (cpu.wantsIntercept(InterceptKind.DrAccess)) {
    cpu.exit.dr = i.reg;
    cpu.exit.drWrite = false;
    cpu.exit.gpr = i.rm;
    cpu.intercept(InterceptKind.DrAccess);
  }
  const s = cpu.state;
  s.gpr[i.rm] = s.dr[n];
  // 64-bit mode moves 64 bits whatever REX.W says: DR0–DR3 whole, DR6/DR7 zero-extended.
  s.gprHigh[i.rm] = cpu.long64 && n < 4 ? s.drHigh[n] : 0;
};
export const MOV_TO_DR: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const n = drIndex(cpu, i.reg);
  generalDetect(cpu);
  if (cpu.wantsIntercept(InterceptKind.DrAccess)) {
    cpu.exit.dr = i.reg;
    cpu.exit.drWrite = true;
    cpu.exit.gpr = i.rm;
    cpu.intercept(InterceptKind.DrAccess);
  }
  const v = cpu.state.gpr[i.rm];
  const hi = cpu.long64 ? cpu.state.gprHigh[i.rm] : 0;
  // Bits 63:32 of DR6 and DR7 are reserved: writing a 1 there is #GP(0) (SDM Vol. 2 MOV DR,
  // 64-bit mode exceptions; KVM's kvm_set_dr).
  if (hi !== 0 && n >= 6) cpu.gp0();
  // Fixed bits (SDM Vol. 3 17.2.3, 17.2.4): DR6 bits 31:16, 11:4 read as 1, 12 as 0; DR7 bit 10 as 1.
  if (n === 6) cpu.state.dr[6] = ((v & 0xe00f) | 0xffff0ff0) >>> 0;
  else if (n === 7) cpu.state.dr[7] = ((v & 0xffff2bff) | 0x400) >>> 0;
  else {
    cpu.state.dr[n] = v;
    cpu.state.drHigh[n] = hi;
  }
  cpu.updateDebug();
};

// ---------------------------------------------------------------- descriptor tables

function descExit(cpu: Cpu, i: Insn, which: number): void {
  if (cpu.wantsIntercept(InterceptKind.DescriptorTable)) {
    cpu.exit.descInstruction = which;
    cpu.exit.linearAddress = i.mod === 3 ? 0 : (cpu.state.segBase[i.memSeg] + cpu.ea(i)) >>> 0;
    cpu.intercept(InterceptKind.DescriptorTable);
  }
}

export function makeLoadDt(row: OpcodeRow): Handler {
  const idt = row.mnemonic === 'LIDT' ? 1 : 0;
  return (cpu, i) => {
    requireCpl0(cpu);
    descExit(cpu, i, idt ? DescInstruction.Lidt : DescInstruction.Lgdt);
    const ea = cpu.ea(i);
    const limit = cpu.read(i.memSeg, ea, 2);
    let base = cpu.read(i.memSeg, partEa(ea + 2, i.adSize), 4);
    // With a 16-bit operand only 24 bits of base are loaded (SDM LGDT).
    if (i.opSize === 2) base &= 0xffffff;
    cpu.state.dtLimit[idt] = limit;
    cpu.state.dtBase[idt] = base;
  };
}
export function makeStoreDt(row: OpcodeRow): Handler {
  const idt = row.mnemonic === 'SIDT' ? 1 : 0;
  return (cpu, i) => {
    descExit(cpu, i, idt ? DescInstruction.Sidt : DescInstruction.Sgdt);
    const ea = cpu.ea(i);
    const base = cpu.state.dtBase[idt];
    // Check both parts for writing before storing either.
    cpu.segAddr(i.memSeg, ea, 2, true);
    cpu.segAddr(i.memSeg, partEa(ea + 2, i.adSize), 4, true);
    cpu.write(i.memSeg, ea, 2, cpu.state.dtLimit[idt]);
    cpu.write(i.memSeg, partEa(ea + 2, i.adSize), 4, i.opSize === 2 ? base & 0xffffff : base);
  };
}

export const LLDT: Handler = (cpu, i) => {
  requireProtected(cpu);
  requireCpl0(cpu);
  descExit(cpu, i, DescInstruction.Lldt);
  const sel = readE(cpu, i, 2);
  const s = cpu.state;
  if ((sel & 0xfffc) === 0) {
    s.segSel[6] = sel;
    s.segBase[6] = 0;
    s.segLimit[6] = 0;
    s.segAttr[6] = SegAttr.UNUSABLE;
    return;
  }
  if (sel & 4) cpu.gp(sel);
  const lo = cpu.readDescriptorLo(sel);
  const hi = cpu.descHi;
  if (((hi >>> 8) & 0x1f) !== 0x02) cpu.gp(sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  const baseHi = systemBaseHigh(cpu, sel);
  cpu.setSegFromDesc(6, sel, lo, hi);
  s.segBaseHigh[6] = baseHi;
};

/**
 * In IA-32e mode LDT and TSS descriptors are 16 bytes: bits 63:32 of the base in the third
 * dword, and the fourth's type field must be 0 (SDM Vol. 3 7.2.3, 8.2.3). Returns the upper base
 * (0 outside IA-32e mode); #GP(selector) when the descriptor does not fit or is malformed.
 */
function systemBaseHigh(cpu: Cpu, sel: number): number {
  if (!cpu.lma) return 0;
  const s = cpu.state;
  const idx = sel & 0xfff8;
  if (idx + 15 > s.dtLimit[0]) cpu.gp(sel);
  const a = cpu.tableLinear(s.dtBase[0], s.dtBaseHigh[0], idx + 8);
  const baseHi = cpu.linRead(a, 4, 0);
  const upper = cpu.linRead(cpu.tableLinear(s.dtBase[0], s.dtBaseHigh[0], idx + 12), 4, 0);
  if ((upper >>> 8) & 0x1f) cpu.gp(sel);
  const h = baseHi | 0;
  if (h >= 0x8000 || h < -0x8000) cpu.gp(sel);
  return baseHi;
}

export const LTR: Handler = (cpu, i) => {
  requireProtected(cpu);
  requireCpl0(cpu);
  descExit(cpu, i, DescInstruction.Ltr);
  const sel = readE(cpu, i, 2);
  if ((sel & 0xfffc) === 0) cpu.gp0();
  if (sel & 4) cpu.gp(sel);
  const lo = cpu.readDescriptorLo(sel);
  const hi = cpu.descHi;
  const t = (hi >>> 8) & 0x1f;
  // Only an available TSS (16-bit type 1, 32-bit type 9; in IA-32e mode only the 64-bit type 9)
  // may be loaded; LTR marks it busy.
  if (t !== 0x09 && (t !== 0x01 || cpu.lma)) cpu.gp(sel);
  if (!(hi & 0x8000)) cpu.raise(C.NP, sel & 0xfffc, true);
  const baseHi = systemBaseHigh(cpu, sel);
  const busy = (hi | 0x200) >>> 0;
  const s = cpu.state;
  cpu.linWriteSys(cpu.tableLinear(s.dtBase[0], s.dtBaseHigh[0], (sel & 0xfff8) + 4), 4, busy, 0);
  cpu.setSegFromDesc(7, sel, lo, busy);
  s.segBaseHigh[7] = baseHi;
};

export const SLDT: Handler = (cpu, i) => {
  requireProtected(cpu);
  descExit(cpu, i, DescInstruction.Sldt);
  const v = cpu.state.segSel[6];
  if (i.mod === 3) cpu.setReg(i.rm, i.opSize, 0, v);
  else writeE(cpu, i, 2, v);
};
export const STR: Handler = (cpu, i) => {
  requireProtected(cpu);
  descExit(cpu, i, DescInstruction.Str);
  const v = cpu.state.segSel[7];
  if (i.mod === 3) cpu.setReg(i.rm, i.opSize, 0, v);
  else writeE(cpu, i, 2, v);
};

/**
 * Reads a descriptor for LAR/LSL/VERR/VERW without faulting on a bad selector: returns false
 * (ZF = 0) for null or out-of-table selectors (SDM LAR).
 */
function probeDescriptor(cpu: Cpu, sel: number): number | null {
  if ((sel & 0xfffc) === 0) return null;
  const s = cpu.state;
  const limit = sel & 4 ? (s.segAttr[6] & SegAttr.UNUSABLE ? -1 : s.segLimit[6]) : s.dtLimit[0];
  if ((sel & 0xfff8) + 7 > limit) return null;
  return cpu.readDescriptorLo(sel);
}
function setZf(cpu: Cpu, on: boolean): void {
  cpu.materializeFlags();
  const s = cpu.state;
  s.rflags[0] = on ? s.rflags[0] | Flag.ZF : s.rflags[0] & ~Flag.ZF;
}
/** Privilege check shared by LAR/LSL/VERR/VERW: conforming code skips it. */
function visible(cpu: Cpu, sel: number, hi: number): boolean {
  const t = (hi >>> 8) & 0x1f;
  if ((t & 0x1c) === 0x1c) return true;
  const dpl = (hi >>> 13) & 3;
  return dpl >= cpu.state.cpl && dpl >= (sel & 3);
}

export function makeLarLsl(row: OpcodeRow): Handler {
  const lsl = row.mnemonic === 'LSL';
  // System types LAR accepts: 1,2,3,4,5,9,B,C; LSL: 1,2,3,9,B (SDM LAR, LSL).
  const okSystem = lsl ? 0x0a0e : 0x1a3e;
  return (cpu, i) => {
    requireProtected(cpu);
    const sel = readE(cpu, i, 2);
    const lo = probeDescriptor(cpu, sel);
    if (lo === null) return setZf(cpu, false);
    const hi = cpu.descHi;
    const t = (hi >>> 8) & 0x1f;
    if (!(t & 0x10) && !((okSystem >>> (t & 0xf)) & 1)) return setZf(cpu, false);
    if (!visible(cpu, sel, hi)) return setZf(cpu, false);
    if (lsl) writeG(cpu, i, i.opSize, mask(descLimit(lo, hi), i.opSize));
    else writeG(cpu, i, i.opSize, i.opSize === 2 ? hi & 0xff00 : hi & 0x00f0ff00);
    setZf(cpu, true);
  };
}
export function makeVerx(row: OpcodeRow): Handler {
  const write = row.mnemonic === 'VERW';
  return (cpu, i) => {
    requireProtected(cpu);
    const sel = readE(cpu, i, 2);
    const lo = probeDescriptor(cpu, sel);
    if (lo === null) return setZf(cpu, false);
    const hi = cpu.descHi;
    const t = (hi >>> 8) & 0x1f;
    if (!(t & 0x10) || !visible(cpu, sel, hi)) return setZf(cpu, false);
    const code = (t & 8) !== 0;
    const ok = write ? !code && (t & 2) !== 0 : !code || (t & 2) !== 0;
    setZf(cpu, ok);
  };
}

export const ARPL: Handler = (cpu, i) => {
  requireProtected(cpu);
  const src = cpu.getReg(i.reg, 2, 0);
  let lin = -1;
  let dst: number;
  if (i.mod === 3) dst = cpu.getReg(i.rm, 2, 0);
  else {
    lin = cpu.segAddr(i.memSeg, cpu.ea(i), 2, true);
    dst = cpu.read(i.memSeg, cpu.ea(i), 2);
  }
  if ((dst & 3) < (src & 3)) {
    const v = (dst & ~3) | (src & 3);
    if (lin < 0) cpu.setReg(i.rm, 2, 0, v);
    else cpu.write(i.memSeg, cpu.ea(i), 2, v);
    setZf(cpu, true);
  } else setZf(cpu, false);
};

export const INVLPG: Handler = (cpu, i) => {
  requireCpl0(cpu);
  const lin = (cpu.state.segBase[i.memSeg] + cpu.ea(i)) >>> 0;
  if (cpu.wantsIntercept(InterceptKind.Invlpg)) {
    cpu.exit.linearAddress = lin;
    if (cpu.interceptExits(InterceptKind.Invlpg)) return;
  }
  cpu.invlpg(lin);
};

// ---------------------------------------------------------------- SYSENTER / SYSEXIT

/** SYSENTER (SDM Vol. 2): flat CPL-0 CS/SS derived from IA32_SYSENTER_CS. */
export const SYSENTER: Handler = (cpu) => {
  const s = cpu.state;
  const cs = s.sysenter[0] & 0xfffc;
  if (!cpu.prot || cs === 0) cpu.gp0();
  // IA-32e mode enters 64-bit code (long/sysenter64.ts), after the #GP(0) checks above, which
  // come first on the CPU too (compatibility mode, compat32 difftest).
  if (cpu.lma) return sysenterIa32e(cpu);
  cpu.setFlags(0, Flag.VM | Flag.IF | Flag.RF);
  s.cpl = 0;
  setFlat(cpu, 1, cs, 0, 0xb);
  setFlat(cpu, 2, cs + 8, 0, 0x3);
  s.gpr[4] = s.sysenter[1];
  s.rip[0] = s.sysenter[2];
};
export const SYSEXIT: Handler = (cpu, i) => {
  const s = cpu.state;
  const cs = s.sysenter[0] & 0xfffc;
  if (!cpu.prot || cpu.v86 || s.cpl !== 0 || cs === 0) cpu.gp0();
  if (cpu.lma) return sysexitIa32e(cpu, i.opSize); // after the #GP(0) checks, as SYSENTER
  s.cpl = 3;
  setFlat(cpu, 1, (cs + 16) | 3, 3, 0xb);
  setFlat(cpu, 2, (cs + 24) | 3, 3, 0x3);
  s.gpr[4] = s.gpr[1];
  s.rip[0] = s.gpr[2];
};
function setFlat(cpu: Cpu, seg: number, sel: number, dpl: number, type: number): void {
  const s = cpu.state;
  s.segSel[seg] = sel;
  s.segBase[seg] = 0;
  s.segLimit[seg] = 0xffffffff;
  s.segAttr[seg] = type | SegAttr.S | (dpl << 5) | SegAttr.P | SegAttr.DB | SegAttr.G;
  cpu.updateSegFlags(seg);
  cpu.updateMode();
}

// ---------------------------------------------------------------- port I/O

export function makeInOut(row: OpcodeRow): Handler {
  const isIn = row.mnemonic === 'IN';
  const byte = row.operands.includes('AL');
  const immPort = row.operands.includes('Ib');
  return (cpu, i) => {
    const size = byte ? 1 : i.opSize === 2 ? 2 : 4;
    const port = immPort ? i.imm & 0xff : cpu.state.gpr[2] & 0xffff;
    cpu.checkIoPermission(port, size);
    if (cpu.wantsIntercept(InterceptKind.Io)) {
      const x = cpu.exit;
      x.port = port;
      x.ioSize = size;
      x.ioIn = isIn;
      x.ioString = false;
      x.ioRep = false;
      x.ioAddressSize = i.adSize;
      x.ioImmediate = immPort;
      if (cpu.interceptExits(InterceptKind.Io)) return;
    }
    if (isIn) cpu.setReg(0, size, 0, cpu.portIn(port, size));
    else cpu.portOut(port, size, cpu.getReg(0, size, 0));
  };
}
