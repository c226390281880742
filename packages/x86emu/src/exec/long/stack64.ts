/**
 * The stack in 64-bit mode (SDM Vol. 1 6.2.5, Vol. 3 6.14.2): RSP is 64 bits, SS has no base or
 * limit, every stack reference is checked for canonical form (#SS(0)). Pushes and pops of 8 bytes
 * (2 with a 66H prefix).
 */
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

/** Pushes `size` (8 or 2) bytes: the value's low half `lo`, high half `hi`. */
export function push64(cpu: Cpu, lo: number, hi: number, size: number): void {
  rspPlus(cpu, -size);
  const off = signed64(NEW_RSP[0], NEW_RSP[1]);
  if (size === 8) {
    cpu.write64(2, off, lo, hi);
  } else {
    cpu.write(2, off, size, lo);
  }
  cpu.state.gpr[4] = NEW_RSP[0];
  cpu.state.gprHigh[4] = NEW_RSP[1];
}

/** Reads `size` bytes at RSP + `delta` into lo64/hi64 without moving RSP. */
export function peek64(cpu: Cpu, delta: number, size: number): void {
  rspPlus(cpu, delta);
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
