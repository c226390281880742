/**
 * The stack in 64-bit mode (SDM Vol. 1 6.2.5, Vol. 3 6.14.2): RSP is 64 bits, SS has no base or
 * limit, every stack reference is checked for canonical form (#SS(0)). Pushes and pops of 8 bytes
 * (2 with a 66H prefix).
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import { signed64, TWO32 } from './operands64.js';

/** RSP + `delta` as two halves in NEW_RSP[0] (low) / NEW_RSP[1] (high), not committed. */
const NEW_RSP = new Uint32Array(2);
function rspPlus(cpu: Cpu, delta: number): void {
  const s = cpu.state;
  const lo = s.gpr[4] + delta;
  const carry = Math.floor(lo / TWO32);
  NEW_RSP[0] = lo - carry * TWO32;
  NEW_RSP[1] = s.gprHigh[4] + carry;
}

/** Offset in `stackSlot`'s view of the 8 bytes it found. */
let slotOff = 0;

/**
 * The host view holding the 8 bytes at NEW_RSP when the TLB grants the access inside one page
 * (no data breakpoint, no alignment check), else null. SS has no base in 64-bit mode (SDM Vol. 3
 * 3.4.4), so RSP's halves give the TLB index and tag directly: the signed 64-bit offset that
 * `read64`/`write64` take (a kernel stack's, about -2^46) is a number V8 boxes at every call it
 * does not inline, a heap allocation per push and pop.
 */
function stackSlot(cpu: Cpu, write: boolean): Uint8Array | null {
  const lo = NEW_RSP[0];
  const h = NEW_RSP[1] | 0;
  const f = cpu.segFlags[2];
  if ((f & (C.SF_FLAT | C.SF_LONG)) !== (C.SF_FLAT | C.SF_LONG) || !(f & (write ? C.SF_W : C.SF_R)))
    return null;
  // Canonical (else #SS(0) on the slow path); inside one page, so the last byte is canonical too.
  if (h >= 0x8000 || h < -0x8000 || (lo & 0xfff) > 4088) return null;
  if (cpu.dbgData !== 0 || cpu.acEnabled || cpu.linearOps !== null) return null;
  const idx = (lo >>> 12) & C.TLB_MASK;
  // tlbTagOf of the address folded to 48 bits: its bits 47:24.
  if (cpu.tlbTag[idx] !== (((h & 0xffff) << 8) | (lo >>> 24))) return null;
  const user = cpu.state.cpl === 3;
  const need = write ? (user ? C.TP_UW : C.TP_SW) : user ? C.TP_UR : C.TP_SR;
  if (!(cpu.tlbPerm[idx] & need)) return null;
  slotOff = lo & 0xfff;
  return cpu.tlbView[idx];
}

/**
 * Pushes `size` (8 or 2) bytes: the value's low half `lo`, high half `hi` (each as uint32 or
 * int32: only their bytes are used; callers pass `x | 0`, which V8 keeps unboxed).
 */
export function push64(cpu: Cpu, lo: number, hi: number, size: number): void {
  rspPlus(cpu, -size);
  const view = size === 8 ? stackSlot(cpu, true) : null;
  if (view !== null) {
    const o = slotOff;
    view[o] = lo;
    view[o + 1] = lo >>> 8;
    view[o + 2] = lo >>> 16;
    view[o + 3] = lo >>> 24;
    view[o + 4] = hi;
    view[o + 5] = hi >>> 8;
    view[o + 6] = hi >>> 16;
    view[o + 7] = hi >>> 24;
  } else {
    const off = signed64(NEW_RSP[0], NEW_RSP[1]);
    if (size === 8) cpu.write64(2, off, lo >>> 0, hi >>> 0);
    else cpu.write(2, off, size, lo >>> 0);
  }
  cpu.state.gpr[4] = NEW_RSP[0];
  cpu.state.gprHigh[4] = NEW_RSP[1];
}

/** Reads `size` bytes at RSP + `delta` into lo64/hi64 without moving RSP. */
export function peek64(cpu: Cpu, delta: number, size: number): void {
  rspPlus(cpu, delta);
  if (size === 8) {
    const view = stackSlot(cpu, false);
    if (view !== null) {
      const o = slotOff;
      cpu.lo64 = (view[o] | (view[o + 1] << 8) | (view[o + 2] << 16) | (view[o + 3] << 24)) >>> 0;
      cpu.hi64 = (view[o + 4] | (view[o + 5] << 8) | (view[o + 6] << 16) | (view[o + 7] << 24)) >>> 0;
      return;
    }
  }
  const off = signed64(NEW_RSP[0], NEW_RSP[1]);
  if (size === 8) {
    cpu.read64(2, off);
  } else {
    cpu.lo64 = cpu.read(2, off, size);
    cpu.hi64 = 0;
  }
}

/** RSP += n (commit after a pop). */
export function addRsp(cpu: Cpu, n: number): void {
  rspPlus(cpu, n);
  cpu.state.gpr[4] = NEW_RSP[0];
  cpu.state.gprHigh[4] = NEW_RSP[1];
}

/** Pops `size` bytes into lo64/hi64. */
export function pop64(cpu: Cpu, size: number): void {
  peek64(cpu, 0, size);
  addRsp(cpu, size);
}
