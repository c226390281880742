/**
 * FPU/SSE state management of the 0F AE group and 0F 01 D0/D1 (SDM Vol. 2 FXSAVE, FXRSTOR,
 * LDMXCSR, STMXCSR, XSAVE, XRSTOR, XSAVEOPT, XGETBV, XSETBV; Vol. 1 13 "Managing state using
 * the XSAVE feature set"). XCR0 supports the x87 (bit 0) and SSE (bit 1) components; the XSAVE
 * area is the 512-byte legacy region plus the 64-byte header (CPUID.(EAX=0DH,ECX=0)).
 *
 * The images are assembled in a scratch buffer and moved as dwords; every byte of the operand
 * is checked (segment, and for stores the pages) before memory or state changes.
 */
import { InterceptKind } from '../../api/intercepts.js';
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Handler } from '../../cpu/handler.js';
import type { Insn } from '../../decoder/insn.js';
import { MXCSR_MASK } from '../../fpu/index.js';
import { Cr0, Cr4 } from '../../state.js';
import { partEa } from '../operands.js';
import { checkSse } from './fpu-checks.js';
import { abridgedTag, getTop, tagFromAbridged } from './stack.js';
import { loadedControlWord, updateSummary } from './status.js';

/** XCR0 bits implemented: x87 and SSE (SDM Vol. 1 13.3). */
export const XCR0_SUPPORTED = 0x3;
/** Size of the XSAVE area for every supported component: legacy region + header. */
export const XSAVE_AREA_SIZE = 576;

const IMG = new Uint8Array(XSAVE_AREA_SIZE);
const VIEW = new DataView(IMG.buffer);

/** The components an FXSAVE/XSAVE image holds (XSAVE's RFBM bits). */
const COMP_X87 = 1;
const COMP_SSE = 2;

/** XMM registers the instruction saves: 16 in 64-bit mode, else 8 (SDM FXSAVE). */
function xmmCount(cpu: Cpu): number {
  return cpu.long64 ? 16 : 8;
}

/** Fills IMG's legacy region from the state for the components in `rfbm`. */
function buildLegacy(cpu: Cpu, i: Insn, rfbm: number): void {
  const s = cpu.state;
  if (rfbm & COMP_X87) {
    VIEW.setUint16(0, s.fpuControl[0], true);
    VIEW.setUint16(2, s.fpuStatus[0], true);
    IMG[4] = abridgedTag(s);
    IMG[5] = 0;
    VIEW.setUint16(6, s.fpuOpcode[0] & 0x7ff, true);
    VIEW.setUint32(8, s.fpuIp[0], true);
    VIEW.setUint32(16, s.fpuDp[0], true);
    if (i.opSize === 8) {
      // REX.W (FXSAVE64/XSAVE64): 64-bit FIP and FDP, no selectors.
      VIEW.setUint32(12, s.fpuIp[1], true);
      VIEW.setUint32(20, s.fpuDp[1], true);
    } else {
      VIEW.setUint32(12, s.fpuSel[0], true);
      VIEW.setUint32(20, s.fpuSel[1], true);
    }
    const top = getTop(s);
    for (let k = 0; k < 8; k++) {
      const p = ((top + k) & 7) * 10;
      const o = 32 + k * 16;
      IMG.set(s.fpuRegs.subarray(p, p + 10), o);
      IMG.fill(0, o + 10, o + 16);
    }
  }
  if (rfbm & COMP_SSE) {
    VIEW.setUint32(24, s.mxcsr[0], true);
    VIEW.setUint32(28, MXCSR_MASK, true);
    IMG.set(s.xmm.subarray(0, 16 * xmmCount(cpu)), 160);
  }
}

/** Loads the components in `load` from IMG's legacy region (MXCSR already checked). */
function loadLegacy(cpu: Cpu, i: Insn, load: number): void {
  const s = cpu.state;
  if (load & COMP_X87) {
    s.fpuControl[0] = loadedControlWord(VIEW.getUint16(0, true));
    s.fpuStatus[0] = VIEW.getUint16(2, true);
    s.fpuOpcode[0] = VIEW.getUint16(6, true) & 0x7ff;
    s.fpuIp[0] = VIEW.getUint32(8, true);
    s.fpuDp[0] = VIEW.getUint32(16, true);
    if (i.opSize === 8) {
      s.fpuIp[1] = VIEW.getUint32(12, true);
      s.fpuDp[1] = VIEW.getUint32(20, true);
      s.fpuSel.fill(0);
    } else {
      s.fpuIp[1] = 0;
      s.fpuDp[1] = 0;
      s.fpuSel[0] = VIEW.getUint16(12, true);
      s.fpuSel[1] = VIEW.getUint16(20, true);
    }
    const top = getTop(s);
    for (let k = 0; k < 8; k++) {
      const p = ((top + k) & 7) * 10;
      s.fpuRegs.set(IMG.subarray(32 + k * 16, 32 + k * 16 + 10), p);
    }
    tagFromAbridged(s, IMG[4]);
    updateSummary(cpu);
  }
  if (load & COMP_SSE) s.xmm.set(IMG.subarray(160, 160 + 16 * xmmCount(cpu)));
}

/** The x87 component's initial configuration (XRSTOR with XSTATE_BV[0] = 0; SDM Vol. 1 13.6). */
function initX87(cpu: Cpu): void {
  const s = cpu.state;
  s.fpuControl[0] = 0x37f;
  s.fpuStatus[0] = 0;
  s.fpuTag[0] = 0xffff;
  s.fpuRegs.fill(0);
  s.fpuIp.fill(0);
  s.fpuDp.fill(0);
  s.fpuSel.fill(0);
  s.fpuOpcode[0] = 0;
  updateSummary(cpu);
}

/**
 * Checks the operand (alignment on the linear address, segment, pages); returns its offset.
 * `lastFirst`: the operand's last byte is translated first, so that a #PF on a page it shares
 * with the first byte reports that byte in CR2, as the referee CPU does for FXSAVE/FXRSTOR.
 */
function operand(cpu: Cpu, i: Insn, size: number, align: number, write: boolean, lastFirst = false): number {
  const ea = cpu.ea(i);
  const lin = cpu.segAddr(i.memSeg, ea, size, write);
  if (lin % align !== 0) cpu.gp0();
  if (lastFirst) {
    const last = partEa(ea + size - 1, i.adSize);
    if (write) cpu.probeWrite(cpu.segAddr(i.memSeg, last, 1, true), 1);
    else cpu.read(i.memSeg, last, 1);
  }
  if (write) cpu.probeWrite(lin, size);
  return ea;
}

function writeImage(cpu: Cpu, i: Insn, ea: number, from: number, to: number): void {
  for (let o = from; o < to; o += 4)
    cpu.write(i.memSeg, partEa(ea + o, i.adSize), 4, VIEW.getUint32(o, true));
}

function readImage(cpu: Cpu, i: Insn, ea: number, from: number, to: number): void {
  for (let o = from; o < to; o += 4) VIEW.setUint32(o, cpu.read(i.memSeg, partEa(ea + o, i.adSize), 4), true);
}

/** Legacy-region bytes an FXSAVE writes: through the last XMM register it saves. */
function legacyEnd(cpu: Cpu): number {
  return 160 + 16 * xmmCount(cpu);
}

/** FXSAVE/FXRSTOR: #NM under CR0.EM or TS (SDM Vol. 2 FXSAVE "Protected Mode Exceptions"). */
function checkFx(cpu: Cpu): void {
  if (cpu.state.cr[0] & (Cr0.EM | Cr0.TS)) cpu.raise(C.NM, 0, false);
}

export const FXSAVE: Handler = (cpu, i) => {
  checkFx(cpu);
  const ea = operand(cpu, i, 512, 16, true, true);
  IMG.fill(0, 0, 512);
  buildLegacy(cpu, i, COMP_X87 | COMP_SSE);
  writeImage(cpu, i, ea, 0, legacyEnd(cpu));
};

export const FXRSTOR: Handler = (cpu, i) => {
  checkFx(cpu);
  const ea = operand(cpu, i, 512, 16, false, true);
  readImage(cpu, i, ea, 0, legacyEnd(cpu));
  // Reserved MXCSR bits → #GP(0), nothing loaded (SDM Vol. 2 FXRSTOR).
  if (VIEW.getUint32(24, true) & ~MXCSR_MASK) cpu.gp0();
  cpu.state.mxcsr[0] = VIEW.getUint32(24, true);
  loadLegacy(cpu, i, COMP_X87 | COMP_SSE);
};

/** LDMXCSR m32: reserved bits → #GP(0) (SDM Vol. 2 LDMXCSR). */
export const LDMXCSR: Handler = (cpu, i) => {
  checkSse(cpu);
  const v = cpu.read(i.memSeg, cpu.ea(i), 4);
  if (v & ~MXCSR_MASK) cpu.gp0();
  cpu.state.mxcsr[0] = v;
};

export const STMXCSR: Handler = (cpu, i) => {
  checkSse(cpu);
  cpu.write(i.memSeg, cpu.ea(i), 4, cpu.state.mxcsr[0]);
};

/** XSAVE-family prologue: #UD without CR4.OSXSAVE, #NM under CR0.TS (SDM Vol. 2 XSAVE). */
function checkXsave(cpu: Cpu): void {
  const s = cpu.state;
  if (!(s.cr[4] & Cr4.OSXSAVE)) cpu.ud();
  if (s.cr[0] & Cr0.TS) cpu.raise(C.NM, 0, false);
}

/** RFBM = XCR0 AND EDX:EAX (only the low word matters: no component above bit 1). */
function rfbmOf(cpu: Cpu): number {
  return cpu.state.xcr0[0] & cpu.state.gpr[0] & XCR0_SUPPORTED;
}

/**
 * XSAVE and XSAVEOPT (which may skip unmodified components, so saving them all is one valid
 * implementation): the requested components of the legacy region, then XSTATE_BV's bits for
 * them (1: not known to be in the initial configuration, always allowed), other header bytes
 * untouched.
 */
export const XSAVE: Handler = (cpu, i) => {
  checkXsave(cpu);
  const ea = operand(cpu, i, XSAVE_AREA_SIZE, 64, true);
  const rfbm = rfbmOf(cpu);
  const seg = i.memSeg;
  const bvAt = partEa(ea + 512, i.adSize);
  const bv = cpu.read(seg, bvAt, 4);
  buildLegacy(cpu, i, rfbm);
  if (rfbm & COMP_X87) {
    writeImage(cpu, i, ea, 0, 24);
    writeImage(cpu, i, ea, 32, 160);
  }
  if (rfbm & COMP_SSE) {
    writeImage(cpu, i, ea, 24, 32);
    writeImage(cpu, i, ea, 160, legacyEnd(cpu));
  }
  cpu.write(seg, bvAt, 4, (bv & ~XCR0_SUPPORTED) | rfbm);
};

/**
 * XRSTOR (standard form): the header must have XCOMP_BV = 0, no XSTATE_BV bit outside XCR0
 * and zero reserved bytes, and MXCSR no reserved bit (else #GP(0), nothing loaded). Each
 * requested component is loaded when its XSTATE_BV bit is set, else initialised; MXCSR is
 * loaded whenever SSE is requested (SDM Vol. 1 13.8.1).
 */
export const XRSTOR: Handler = (cpu, i) => {
  checkXsave(cpu);
  const ea = operand(cpu, i, XSAVE_AREA_SIZE, 64, false);
  readImage(cpu, i, ea, 0, XSAVE_AREA_SIZE);
  const s = cpu.state;
  const bv = VIEW.getUint32(512, true);
  if (VIEW.getUint32(516, true) !== 0 || bv & ~s.xcr0[0]) cpu.gp0();
  for (let o = 520; o < 576; o += 4) if (VIEW.getUint32(o, true) !== 0) cpu.gp0();
  const rfbm = rfbmOf(cpu);
  const mxcsr = VIEW.getUint32(24, true);
  if (rfbm & COMP_SSE && mxcsr & ~MXCSR_MASK) cpu.gp0();
  loadLegacy(cpu, i, rfbm & bv);
  if (rfbm & COMP_X87 && !(bv & COMP_X87)) initX87(cpu);
  if (rfbm & COMP_SSE) {
    s.mxcsr[0] = mxcsr;
    if (!(bv & COMP_SSE)) s.xmm.fill(0, 0, 16 * xmmCount(cpu));
  }
};

/** XGETBV: ECX = 0 reads XCR0; any other ECX is #GP(0) (no XINUSE: CPUID.(0DH,1):EAX[2] = 0). */
export const XGETBV: Handler = (cpu) => {
  const s = cpu.state;
  if (!(s.cr[4] & Cr4.OSXSAVE)) cpu.ud();
  if (cpu.state.gpr[1] !== 0) cpu.gp0();
  cpu.setReg(0, 4, 0, s.xcr0[0]);
  cpu.setReg(2, 4, 0, s.xcr0[1]);
};

/**
 * XSETBV: CPL 0 only (and not in virtual-8086 mode), ECX = 0, bit 0 set, no bit outside the
 * supported x87|SSE (SDM Vol. 2 XSETBV: #GP(0)).
 */
export const XSETBV: Handler = (cpu) => {
  const s = cpu.state;
  if (!(s.cr[4] & Cr4.OSXSAVE)) cpu.ud();
  if (cpu.cplOrV86() !== 0) cpu.gp0();
  // A hypervisor's exit comes after the #UD and CPL checks, before the operands' (SDM 26.1.1).
  cpu.intercept(InterceptKind.Xsetbv);
  if (cpu.state.gpr[1] !== 0) cpu.gp0();
  const lo = cpu.state.gpr[0];
  if (cpu.state.gpr[2] !== 0 || lo & ~XCR0_SUPPORTED || !(lo & 1)) cpu.gp0();
  s.xcr0[0] = lo;
  s.xcr0[1] = 0;
};

/** LFENCE, MFENCE, SFENCE: ordering only; one CPU executing in program order has nothing to wait for. */
export const FENCE: Handler = () => {};

/** CLFLUSH m8: checked like a byte read (segment, paging, SDM Vol. 2 CLFLUSH); there is no cache to flush. */
export const CLFLUSH: Handler = (cpu, i) => {
  cpu.read(i.memSeg, cpu.ea(i), 1);
};
