/**
 * SYSENTER and SYSEXIT in IA-32e mode (SDM Vol. 2 SYSENTER, SYSEXIT; Vol. 3 5.8.7): Intel runs
 * them in 64-bit and compatibility mode, with 64-bit IA32_SYSENTER_ESP/EIP; AMD raises #UD for
 * both in long mode (APM Vol. 3 SYSENTER, SYSEXIT), so the CPUID vendor decides. Called by the
 * legacy handlers (exec/system.ts) after their #GP(0) checks, which come first on both.
 */
import type { Cpu } from '../../cpu/cpu.js';
import { Flag, SegAttr } from '../../state.js';
import { setReg64 } from './operands64.js';

const VENDOR = new Uint32Array(4);

/** CPUID leaf 0 says AuthenticAMD ("Auth" "enti" "cAMD" in EBX, EDX, ECX). */
function amdVendor(cpu: Cpu): boolean {
  cpu.cpuidOps.cpuid(0, 0, VENDOR);
  return VENDOR[1] === 0x68747541 && VENDOR[3] === 0x69746e65 && VENDOR[2] === 0x444d4163;
}

function canonicalHi(hi: number): boolean {
  const h = hi | 0;
  return h < 0x8000 && h >= -0x8000;
}

/**
 * CS or SS as SYSENTER/SYSEXIT load them: fixed flat descriptors (base 0, limit FFFFFH with
 * G = 1), not read from the GDT.
 */
function setFlat(cpu: Cpu, seg: number, sel: number, attr: number): void {
  const s = cpu.state;
  s.segSel[seg] = sel;
  s.segBase[seg] = 0;
  s.segBaseHigh[seg] = 0;
  s.segLimit[seg] = 0xffffffff;
  s.segAttr[seg] = attr | SegAttr.S | SegAttr.P | SegAttr.G;
}

/** SYSENTER in IA-32e mode: to 64-bit code at CPL 0, RSP and RIP from the 64-bit MSRs. */
export function sysenterIa32e(cpu: Cpu): void {
  if (amdVendor(cpu)) cpu.ud();
  const s = cpu.state;
  const cs = s.sysenter[0] & 0xfffc;
  cpu.setFlags(0, Flag.VM | Flag.IF | Flag.RF);
  s.cpl = 0;
  setFlat(cpu, 1, cs, 0xb | SegAttr.L);
  setFlat(cpu, 2, cs + 8, 0x3 | SegAttr.DB);
  setReg64(cpu, 4, s.sysenter[1], s.sysenterHigh[1]);
  s.rip[0] = s.sysenter[2];
  s.rip[1] = s.sysenterHigh[2];
  cpu.updateMode();
  cpu.updateSegFlags(1);
  cpu.updateSegFlags(2);
}

/**
 * SYSEXIT in IA-32e mode: with REX.W to 64-bit mode (CS = SYSENTER_CS + 32, RIP = RDX, RSP =
 * RCX, both canonical or #GP(0)), else to compatibility mode (CS + 16, EDX, ECX), at CPL 3.
 */
export function sysexitIa32e(cpu: Cpu, opSize: number): void {
  if (amdVendor(cpu)) cpu.ud();
  const s = cpu.state;
  const g = s.gpr;
  const h = s.gprHigh;
  const to64 = opSize === 8;
  if (to64 && (!canonicalHi(h[1]) || !canonicalHi(h[2]))) cpu.gp0();
  const cs = ((s.sysenter[0] + (to64 ? 32 : 16)) & 0xffff) | 3;
  s.cpl = 3;
  setFlat(cpu, 1, cs, 0xb | (3 << 5) | (to64 ? SegAttr.L : SegAttr.DB));
  setFlat(cpu, 2, ((cs + 8) & 0xffff) | 3, 0x3 | (3 << 5) | SegAttr.DB);
  if (to64) {
    s.rip[0] = g[2];
    s.rip[1] = h[2];
    setReg64(cpu, 4, g[1], h[1]);
  } else {
    s.rip[0] = g[2];
    s.rip[1] = 0;
    setReg64(cpu, 4, g[1], 0);
  }
  cpu.updateMode();
  cpu.updateSegFlags(1);
  cpu.updateSegFlags(2);
}

/** RDMSR of IA32_SYSENTER_ESP/EIP: both halves. */
export function readSysenterMsr(cpu: Cpu, n: number, out: Uint32Array): void {
  out[0] = cpu.state.sysenter[n];
  out[1] = cpu.state.sysenterHigh[n];
}

/**
 * WRMSR of IA32_SYSENTER_ESP/EIP: 64-bit addresses that must be canonical on Intel 64 (SDM Vol. 2
 * WRMSR, #GP(0)); false for #GP. AMD ignores bits 63:32 (no 64-bit SYSENTER there; KVM's
 * __kvm_set_msr canonicalizes them for the same reason): kept as written there.
 */
export function writeSysenterMsr(cpu: Cpu, n: number, lo: number, hi: number): boolean {
  if (!amdVendor(cpu) && !canonicalHi(hi)) return false;
  cpu.state.sysenter[n] = lo;
  cpu.state.sysenterHigh[n] = hi;
  return true;
}
