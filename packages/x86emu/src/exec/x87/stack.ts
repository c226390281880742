/**
 * The x87 register stack (SDM Vol. 1 8.1.2, 8.1.7): eight physical registers R0–R7 in
 * `state.fpuRegs`, TOP in status-word bits 13:11, ST(i) = R((TOP + i) mod 8), and the tag word
 * with two bits per physical register (00 valid, 01 zero, 10 special, 11 empty).
 */
import { classify80, type Ext80, F80Class } from '../../fpu/index.js';
import type { CpuState } from '../../state.js';

export const TAG_VALID = 0;
export const TAG_ZERO = 1;
export const TAG_SPECIAL = 2;
export const TAG_EMPTY = 3;

export const SW_TOP_SHIFT = 11;
export const SW_TOP_MASK = 0x3800;

export function getTop(s: CpuState): number {
  return (s.fpuStatus[0] >>> SW_TOP_SHIFT) & 7;
}

export function setTop(s: CpuState, top: number): void {
  s.fpuStatus[0] = (s.fpuStatus[0] & ~SW_TOP_MASK) | ((top & 7) << SW_TOP_SHIFT);
}

/** Physical register number of ST(i). */
export function physOf(s: CpuState, i: number): number {
  return (((s.fpuStatus[0] >>> SW_TOP_SHIFT) + i) & 7) >>> 0;
}

export function tagOfPhys(s: CpuState, p: number): number {
  return (s.fpuTag[0] >>> (2 * p)) & 3;
}

export function isEmpty(s: CpuState, i: number): boolean {
  return tagOfPhys(s, physOf(s, i)) === TAG_EMPTY;
}

function setTagPhys(s: CpuState, p: number, tag: number): void {
  s.fpuTag[0] = (s.fpuTag[0] & ~(3 << (2 * p))) | (tag << (2 * p));
}

/** The tag a value gets when written (SDM Vol. 1 Figure 8-7). */
export function tagFor(signExp: number, hi: number, lo: number): number {
  const c = classify80(signExp, hi, lo);
  if (c === F80Class.Zero) return TAG_ZERO;
  if (c === F80Class.Normal) return TAG_VALID;
  return TAG_SPECIAL;
}

export function readPhys(s: CpuState, p: number, out: Ext80): void {
  const w = s.fpuWords;
  const o = p * 5;
  out.lo = (w[o] | (w[o + 1] << 16)) >>> 0;
  out.hi = (w[o + 2] | (w[o + 3] << 16)) >>> 0;
  out.signExp = w[o + 4];
}

/** Writes physical register p and its tag. */
export function writePhys(s: CpuState, p: number, x: Ext80): void {
  const w = s.fpuWords;
  const o = p * 5;
  w[o] = x.lo;
  w[o + 1] = x.lo >>> 16;
  w[o + 2] = x.hi;
  w[o + 3] = x.hi >>> 16;
  w[o + 4] = x.signExp;
  setTagPhys(s, p, tagFor(x.signExp, x.hi, x.lo));
}

/** ST(i) into `out` (whatever its tag: an empty register reads as what it last held). */
export function readSt(s: CpuState, i: number, out: Ext80): void {
  readPhys(s, physOf(s, i), out);
}

export function writeSt(s: CpuState, i: number, x: Ext80): void {
  writePhys(s, physOf(s, i), x);
}

/** Marks ST(0) empty and increments TOP. */
export function pop(s: CpuState): void {
  const top = getTop(s);
  setTagPhys(s, top, TAG_EMPTY);
  setTop(s, top + 1);
}

/** Decrements TOP and writes the new ST(0). */
export function push(s: CpuState, x: Ext80): void {
  const top = (getTop(s) + 7) & 7;
  setTop(s, top);
  writePhys(s, top, x);
}

/** FFREE: tags ST(i) empty (TOP unchanged). */
export function freeSt(s: CpuState, i: number): void {
  setTagPhys(s, physOf(s, i), TAG_EMPTY);
}

/**
 * The tag word recomputed from the registers' contents for the registers that are not empty
 * (FNSTENV/FNSAVE store it so: SDM Vol. 1 8.1.7 "the tag word in memory reflects the actual
 * contents"; FXSAVE's abridged form loses the distinction and FXRSTOR recomputes it).
 */
export function fullTagWord(s: CpuState): number {
  let tag = 0;
  const w = s.fpuWords;
  for (let p = 0; p < 8; p++) {
    let t = TAG_EMPTY;
    if (tagOfPhys(s, p) !== TAG_EMPTY) {
      const o = p * 5;
      t = tagFor(w[o + 4], (w[o + 2] | (w[o + 3] << 16)) >>> 0, (w[o] | (w[o + 1] << 16)) >>> 0);
    }
    tag |= t << (2 * p);
  }
  return tag;
}

/** The abridged tag (FXSAVE): bit p set when R(p) is not empty. */
export function abridgedTag(s: CpuState): number {
  let t = 0;
  for (let p = 0; p < 8; p++) if (tagOfPhys(s, p) !== TAG_EMPTY) t |= 1 << p;
  return t;
}

/** FXRSTOR/XRSTOR: the full tag word from an abridged one and the register contents. */
export function tagFromAbridged(s: CpuState, abridged: number): void {
  s.fpuTag[0] = 0xffff;
  for (let p = 0; p < 8; p++) if ((abridged >>> p) & 1) setTagPhys(s, p, TAG_VALID);
  s.fpuTag[0] = fullTagWord(s);
}
