/**
 * The x87/SSE state of a case (issue 11's referee): FCW, FSW, the abridged tag word, ST0–ST7,
 * MXCSR and XMM0–XMM15, in the FXSAVE image's terms (what `struct kvm_fpu` carries). The host
 * side sets it with KVM_SET_FPU before the run and reads it back with KVM_GET_FPU after — no
 * guest instruction involved, so kvm-pvm's CPL-0 emulator (no XRSTOR, LDMXCSR…) never sees it;
 * x86emu's side converts to and from `CpuState` (physical registers R0–R7, the full tag word).
 * FIP/FDP/FOP are not compared: AMD stores them only while an exception is pending (Linux's
 * X86_BUG_FXSAVE_LEAK). Nor is `mxcsr` here: KVM_GET_FPU/KVM_SET_FPU leave MXCSR out (measured:
 * it reads 0; kvm_arch_vcpu_ioctl_get_fpu copies no mxcsr), so an x87/SSE case loads it with an
 * LDMXCSR prologue and stores it with an STMXCSR epilogue at CPL 3 (generator64.ts), and the
 * stored copy is compared as memory.
 */
import type { KvmFpu } from '@kvm/core';
import type { CpuState } from '@kvm/x86emu';

export interface FpuState {
  fcw: number;
  fsw: number;
  /** Abridged tag (FXSAVE): bit i = physical register Ri is not empty. */
  ftw: number;
  /** ST0–ST7 (stack order, as FXSAVE stores them), 10 bytes each: 80 numbers. */
  st: number[];
  mxcsr: number;
  /** XMM0–XMM15, 16 bytes each: 256 numbers. */
  xmm: number[];
}

export function fpuToKvm(f: FpuState, k: KvmFpu): void {
  k.fpr.fill(0);
  for (let i = 0; i < 8; i++) k.fpr.set(f.st.slice(10 * i, 10 * i + 10), 16 * i);
  k.fcw = f.fcw;
  k.fsw = f.fsw;
  k.ftwx = f.ftw;
  k.lastOpcode = 0;
  k.lastIp = 0n;
  k.lastDp = 0n;
  k.xmm.fill(0);
  k.xmm.set(f.xmm);
  k.mxcsr = f.mxcsr;
}

export function fpuFromKvm(k: KvmFpu): FpuState {
  const st: number[] = [];
  for (let i = 0; i < 8; i++) st.push(...k.fpr.subarray(16 * i, 16 * i + 10));
  return { fcw: k.fcw, fsw: k.fsw, ftw: k.ftwx, st, mxcsr: k.mxcsr, xmm: Array.from(k.xmm.subarray(0, 256)) };
}

/**
 * The 2-bit tag FXRSTOR reconstructs for a non-empty register from its contents (SDM Vol. 1
 * 10.5.1.1, Table 10-3): 01 zero, 10 special (NaN, infinity, denormal, unnormal), 00 valid.
 */
function tagOf(r: Uint8Array, p: number): number {
  const exp = (r[p + 8] | (r[p + 9] << 8)) & 0x7fff;
  const integer = r[p + 7] & 0x80;
  let mant = 0;
  for (let k = 0; k < 8; k++) mant |= r[p + k];
  if (exp === 0) return mant === 0 ? 1 : 2;
  if (exp === 0x7fff || !integer) return 2;
  return 0;
}

/** Into x86emu: ST(i) is physical R((TOP + i) mod 8). */
export function fpuToCpu(f: FpuState, c: CpuState): void {
  const top = (f.fsw >>> 11) & 7;
  for (let i = 0; i < 8; i++) c.fpuRegs.set(f.st.slice(10 * i, 10 * i + 10), 10 * ((top + i) & 7));
  let tag = 0;
  for (let r = 0; r < 8; r++) tag |= ((f.ftw >>> r) & 1 ? tagOf(c.fpuRegs, 10 * r) : 3) << (2 * r);
  c.fpuControl[0] = f.fcw;
  c.fpuStatus[0] = f.fsw;
  c.fpuTag[0] = tag;
  c.mxcsr[0] = f.mxcsr;
  c.xmm.set(f.xmm);
}

export function fpuFromCpu(c: CpuState): FpuState {
  const top = (c.fpuStatus[0] >>> 11) & 7;
  const st: number[] = [];
  for (let i = 0; i < 8; i++) {
    const p = 10 * ((top + i) & 7);
    st.push(...c.fpuRegs.subarray(p, p + 10));
  }
  let ftw = 0;
  for (let r = 0; r < 8; r++) if (((c.fpuTag[0] >>> (2 * r)) & 3) !== 3) ftw |= 1 << r;
  return {
    fcw: c.fpuControl[0],
    fsw: c.fpuStatus[0],
    ftw,
    st,
    mxcsr: c.mxcsr[0],
    xmm: Array.from(c.xmm.subarray(0, 256)),
  };
}

const hex = (v: number, w: number): string => v.toString(16).padStart(w, '0');

/** ST(i) as sign/exponent and significand, the way the SDM writes an 80-bit value. */
export function st80(st: number[], i: number): string {
  const b = st.slice(10 * i, 10 * i + 10);
  const se = b[8] | (b[9] << 8);
  const mant = b
    .slice(0, 8)
    .reverse()
    .map((x) => hex(x, 2))
    .join('');
  return `${hex(se, 4)}:${mant}`;
}

/** 16 bytes of XMMn as two quadwords, high first. */
export function xmmHex(xmm: number[], n: number): string {
  const b = xmm.slice(16 * n, 16 * n + 16);
  const q = (o: number) =>
    b
      .slice(o, o + 8)
      .reverse()
      .map((x) => hex(x, 2))
      .join('');
  return `${q(8)}_${q(0)}`;
}

/** The differences between two FPU states (category `fpu` for x87, `sse` for MXCSR and XMM). */
export function compareFpu(
  h: FpuState,
  e: FpuState,
): { category: string; field: string; host: string; emu: string }[] {
  const d: { category: string; field: string; host: string; emu: string }[] = [];
  const w = (field: string, a: number, b: number, cat = 'fpu') => {
    if (a !== b) d.push({ category: cat, field, host: hex(a, 4), emu: hex(b, 4) });
  };
  w('fcw', h.fcw, e.fcw);
  w('fsw', h.fsw, e.fsw);
  w('ftw (abridged)', h.ftw, e.ftw);
  for (let i = 0; i < 8; i++) {
    const a = st80(h.st, i);
    const b = st80(e.st, i);
    if (a !== b) d.push({ category: 'fpu', field: `st${i}`, host: a, emu: b });
  }
  for (let n = 0; n < 16; n++) {
    const a = xmmHex(h.xmm, n);
    const b = xmmHex(e.xmm, n);
    if (a !== b) d.push({ category: 'sse', field: `xmm${n}`, host: a, emu: b });
  }
  return d;
}
