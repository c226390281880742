/**
 * 64-bit operands as two 32-bit halves (SDM Vol. 1 3.4.1.1): registers from `gpr`/`gprHigh`,
 * memory as two dword accesses after one canonical check of all 8 bytes, immediates
 * sign-extended. Results come back in `cpu.lo64` / `cpu.hi64` (plain number fields: no allocation).
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { memSlot64, SLOT_OFF } from './mem-slot64.js';

export const TWO32 = 4294967296;

/** Reads 8 bytes at `seg:off` (off as `Cpu.ea` returns it) into lo64/hi64. */
export function readM64(cpu: Cpu, seg: number, off: number): void {
  cpu.read64(seg, off);
}

/** Writes 8 bytes at `seg:off`; both pages are checked before either half is stored. */
export function writeM64(cpu: Cpu, seg: number, off: number, lo: number, hi: number): void {
  cpu.write64(seg, off, lo, hi);
}

/** Stores 8 bytes at a linear address already checked for writing (`rmwLinear(cpu, i, 8)`). */
export function writeLin64(cpu: Cpu, lin: number, lo: number, hi: number): void {
  cpu.alignCheck(lin, 8);
  const acc = cpu.dataAccess(false);
  cpu.linWrite(lin, 4, lo, acc);
  cpu.linWrite(cpu.linNext(lin, 4), 4, hi, acc);
}

/** Reads 8 bytes at a linear address into lo64/hi64. */
export function readLin64(cpu: Cpu, lin: number): void {
  cpu.alignCheck(lin, 8);
  const acc = cpu.dataAccess(false);
  const lo = cpu.linRead(lin, 4, acc);
  cpu.hi64 = cpu.linRead(cpu.linNext(lin, 4), 4, acc);
  cpu.lo64 = lo;
}

/** The r/m operand (register or memory) into lo64/hi64. */
export function readE64(cpu: Cpu, i: Insn): void {
  if (i.mod === 3) {
    cpu.lo64 = cpu.state.gpr[i.rm];
    cpu.hi64 = cpu.state.gprHigh[i.rm];
    return;
  }
  const v = memSlot64(cpu, i, 8, false);
  if (v !== null) {
    const o = SLOT_OFF[0];
    cpu.lo64 = (v[o] | (v[o + 1] << 8) | (v[o + 2] << 16) | (v[o + 3] << 24)) >>> 0;
    cpu.hi64 = (v[o + 4] | (v[o + 5] << 8) | (v[o + 6] << 16) | (v[o + 7] << 24)) >>> 0;
  } else readM64(cpu, i.memSeg, cpu.ea(i));
}

/** The r/m operand := hi:lo (each as uint32 or int32: only their bytes are stored). */
export function writeE64(cpu: Cpu, i: Insn, lo: number, hi: number): void {
  if (i.mod === 3) {
    setReg64(cpu, i.rm, lo, hi);
    return;
  }
  const v = memSlot64(cpu, i, 8, true);
  if (v !== null) {
    const o = SLOT_OFF[0];
    v[o] = lo;
    v[o + 1] = lo >>> 8;
    v[o + 2] = lo >>> 16;
    v[o + 3] = lo >>> 24;
    v[o + 4] = hi;
    v[o + 5] = hi >>> 8;
    v[o + 6] = hi >>> 16;
    v[o + 7] = hi >>> 24;
  } else writeM64(cpu, i.memSeg, cpu.ea(i), lo >>> 0, hi >>> 0);
}

export function setReg64(cpu: Cpu, r: number, lo: number, hi: number): void {
  cpu.state.gpr[r] = lo;
  cpu.state.gprHigh[r] = hi;
}

/** High half of the 64-bit sign extension of a 32-bit value. */
export function signHi(v: number): number {
  return v & 0x80000000 ? 0xffffffff : 0;
}

/** A register as a signed number (exact within ±2^53: what addresses need, see `Cpu.ea64`). */
export function signed64(lo: number, hi: number): number {
  return (hi | 0) * TWO32 + lo;
}

/**
 * A string instruction's index register `r` (RSI, RDI) as an offset: with 67H its 32 bits, else
 * the signed 64-bit value, as `Cpu.ea64` forms addresses.
 */
export function indexOffset(cpu: Cpu, r: number, ad: number): number {
  const s = cpu.state;
  return ad === 4 ? s.gpr[r] : signed64(s.gpr[r], s.gprHigh[r]);
}

/** Adds `delta` to register `r` at address size `ad` (67H: 32 bits, the upper half cleared). */
export function advanceIndex(cpu: Cpu, r: number, ad: number, delta: number): void {
  const s = cpu.state;
  const lo = s.gpr[r] + delta;
  if (ad === 4) {
    s.gpr[r] = lo >>> 0;
    s.gprHigh[r] = 0;
    return;
  }
  const carry = Math.floor(lo / TWO32);
  s.gpr[r] = lo - carry * TWO32;
  s.gprHigh[r] = (s.gprHigh[r] + carry) >>> 0;
}
