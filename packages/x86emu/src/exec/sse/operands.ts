/**
 * SIMD operand access: 1- to 16-byte memory operands into and out of lanes (with the 16-byte
 * alignment rule of the aligned forms; copied by byte loops, not `subarray`, which allocates),
 * and the MMX registers, which alias the low 64 bits of the x87 physical registers R0–R7 (SDM
 * Vol. 3 12.2: MMn is Rn, whatever TOP says).
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { partEa } from '../operands.js';
import type { Lanes } from './lanes.js';

/**
 * #GP(0) if the 16-byte memory operand of `i` at `ea` is not 16-byte aligned (MOVDQA, MOVAPS and
 * the other legacy-SSE 128-bit memory operands: SDM Vol. 2 2.5 and each instruction's "Protected
 * Mode Exceptions"; the alignment is that of the linear address). It comes before the segment
 * and canonical checks: a misaligned, non-canonical stack operand is #GP(0), not #SS(0)
 * (measured on the host CPU). `& 15` reads exact low bits of an EA below 2^53 in magnitude; one
 * further out (non-canonical anyway) is recomputed exactly. In 64-bit mode only FS and GS have a
 * base.
 */
export function misaligned16Gp(cpu: Cpu, i: Insn, ea: number): void {
  let low = ea;
  if (ea >= 9007199254740992 || ea <= -9007199254740992) {
    cpu.eaHalves(i);
    low = cpu.lo64;
  }
  const seg = i.memSeg;
  const base = cpu.long64 && seg < 4 ? 0 : cpu.state.segBase[seg];
  if ((base + low) & 15) cpu.gp0();
}

/**
 * Linear address of the 16-byte memory operand of `i`: alignment first when `align`
 * ({@link misaligned16Gp}), then the segment as a whole (#GP(0)/#SS(0)).
 */
function lin16(cpu: Cpu, i: Insn, ea: number, write: boolean, align: boolean): number {
  if (align) misaligned16Gp(cpu, i, ea);
  const lin = cpu.segAddr(i.memSeg, ea, 16, write);
  // With alignment checking on at CPL 3, an unaligned 16-byte form (MOVDQU, LDDQU, the string
  // compares …) is #AC(0) unless 16-byte aligned: SDM Vol. 3 6.15 "Interrupt 17" leaves it to the
  // implementation, and the host CPU (AMD Zen 5) faults at any misalignment, 8-byte too.
  cpu.alignCheck(lin, 16);
  return lin;
}

/**
 * `tlbTagOf` of cpu/tlb.ts, repeated here: importing tlb.ts from a handler module would close an
 * import cycle (tlb → fetch → dispatch → handlers).
 */
function tlbTagOf(lin: number): number {
  return lin <= 0xffffffff ? lin >>> 24 : Math.floor(lin / 16777216);
}

/** The host view holding all 16 bytes at `lin`, or null (miss, page split, MMIO, AC or debug checks). */
function view16(cpu: Cpu, lin: number, write: boolean): Uint8Array | null {
  const idx = (lin >>> 12) & C.TLB_MASK;
  if (cpu.tlbTag[idx] !== tlbTagOf(lin) || (lin & 0xfff) > 4080 || cpu.dbgData !== 0 || cpu.acEnabled)
    return null;
  const user = cpu.state.cpl === 3;
  const need = write ? (user ? C.TP_UW : C.TP_SW) : user ? C.TP_UR : C.TP_SR;
  return cpu.tlbPerm[idx] & need ? cpu.tlbView[idx] : null;
}

/**
 * Reads the memory operand of `i` (mod ≠ 3) into `L` at byte `off`: `n` = 1, 2, 4, 8 or 16 bytes.
 */
export function readMem(cpu: Cpu, i: Insn, L: Lanes, off: number, n: number, align: boolean): void {
  const ea = cpu.ea(i);
  if (n === 16) {
    const lin = lin16(cpu, i, ea, false, align);
    const v = view16(cpu, lin, false);
    if (v !== null) {
      const o = lin & 0xfff;
      const d = L.u8;
      for (let k = 0; k < 16; k++) d[off + k] = v[o + k];
      return;
    }
    cpu.read64(i.memSeg, ea);
    // Both halves are read before either is stored: a fault (or an MMIO read left to userspace)
    // on the second leaves the destination as it was.
    const lo = cpu.lo64;
    const hi = cpu.hi64;
    cpu.read64(i.memSeg, partEa(ea + 8, i.adSize));
    const w = off >> 2;
    L.u32[w + 2] = cpu.lo64;
    L.u32[w + 3] = cpu.hi64;
    L.u32[w] = lo;
    L.u32[w + 1] = hi;
    return;
  }
  if (n === 8) {
    cpu.read64(i.memSeg, ea);
    const w = off >> 2;
    L.u32[w] = cpu.lo64;
    L.u32[w + 1] = cpu.hi64;
    return;
  }
  const v = cpu.read(i.memSeg, ea, n);
  if (n === 4) L.u32[off >> 2] = v;
  else if (n === 2) L.u16[off >> 1] = v;
  else L.u8[off] = v;
}

/** Writes `n` bytes of `L` at byte `off` to the memory operand of `i` (all pages checked first). */
export function writeMem(cpu: Cpu, i: Insn, L: Lanes, off: number, n: number, align: boolean): void {
  const ea = cpu.ea(i);
  if (n === 16) {
    const lin = lin16(cpu, i, ea, true, align);
    const v = view16(cpu, lin, true);
    if (v !== null) {
      const o = lin & 0xfff;
      const b = L.u8;
      for (let k = 0; k < 16; k++) v[o + k] = b[off + k];
      return;
    }
    // Both halves' pages must be writable before either is stored.
    cpu.probeWrite(lin, 16);
  }
  if (n >= 8) {
    const w = off >> 2;
    if (n === 16) {
      cpu.write64(i.memSeg, ea, L.u32[w], L.u32[w + 1]);
      cpu.write64(i.memSeg, partEa(ea + 8, i.adSize), L.u32[w + 2], L.u32[w + 3]);
      return;
    }
    cpu.write64(i.memSeg, ea, L.u32[w], L.u32[w + 1]);
    return;
  }
  if (n === 4) cpu.write(i.memSeg, ea, 4, L.u32[off >> 2]);
  else if (n === 2) cpu.write(i.memSeg, ea, 2, L.u16[off >> 1]);
  else cpu.write(i.memSeg, ea, 1, L.u8[off]);
}

/** Copies MMX register `r` (bits 63:0 of R`r`) into `L` at byte `off`. */
export function mmxRead(cpu: Cpu, r: number, L: Lanes, off: number): void {
  const f = cpu.state.fpuRegs;
  const o = (r & 7) * 10;
  const d = L.u8;
  for (let k = 0; k < 8; k++) d[off + k] = f[o + k];
}

/**
 * Writes 8 bytes of `L` at `off` to MMX register `r`: bits 79:64 of R`r` become all ones (SDM
 * Vol. 1 9.5.1, so the x87 sees a NaN or infinity there).
 */
export function mmxWrite(cpu: Cpu, r: number, L: Lanes, off: number): void {
  const f = cpu.state.fpuRegs;
  const o = (r & 7) * 10;
  const s = L.u8;
  for (let k = 0; k < 8; k++) f[o + k] = s[off + k];
  f[o + 8] = 0xff;
  f[o + 9] = 0xff;
}

/** Writes two 32-bit words (low, high) to MMX register `r` (see mmxWrite). */
export function mmxWrite32(cpu: Cpu, r: number, lo: number, hi: number): void {
  const f = cpu.state.fpuRegs;
  const o = (r & 7) * 10;
  f[o] = lo;
  f[o + 1] = lo >>> 8;
  f[o + 2] = lo >>> 16;
  f[o + 3] = lo >>> 24;
  f[o + 4] = hi;
  f[o + 5] = hi >>> 8;
  f[o + 6] = hi >>> 16;
  f[o + 7] = hi >>> 24;
  f[o + 8] = 0xff;
  f[o + 9] = 0xff;
}

/** Bits 31:0 (hi = false) or 63:32 of MMX register `r`. */
export function mmxWord(cpu: Cpu, r: number, hi: boolean): number {
  const f = cpu.state.fpuRegs;
  const o = (r & 7) * 10 + (hi ? 4 : 0);
  return (f[o] | (f[o + 1] << 8) | (f[o + 2] << 16) | (f[o + 3] << 24)) >>> 0;
}

/**
 * Every MMX instruction but EMMS moves the x87 to "MMX mode" after its operands are read and
 * no fault can occur: TOP = 0 and every tag valid (SDM Vol. 1 9.5.1, Table 9-2).
 */
export function mmxEnter(cpu: Cpu): void {
  const s = cpu.state;
  s.fpuStatus[0] &= ~0x3800;
  s.fpuTag[0] = 0;
}
