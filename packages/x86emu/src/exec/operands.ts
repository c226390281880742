/** Operand access shared by the handlers: ModRM r/m and reg, immediates, masks. */

import { EMUL_RETRY } from '../cpu/consts.js';
import type { Cpu } from '../cpu/cpu.js';
import { viewLoad, viewStore } from '../cpu/view-bytes.js';
import type { Insn } from '../decoder/insn.js';
import { PFERR } from '../paging/walker.js';
import { memSlot64, SLOT_OFF, slotLinear } from './long/mem-slot64.js';

/** Masks `v` to `size` bytes, unsigned. */
export function mask(v: number, size: number): number {
  return size === 4 ? v >>> 0 : size === 2 ? v & 0xffff : v & 0xff;
}
/**
 * Offset of a later part of one memory operand (the selector of a far pointer, the base of a
 * descriptor-table pseudo-descriptor, BOUND's upper bound, x87/FXSAVE images): `ea + k`. The
 * effective address wraps to the address size once, when it is computed; the operand then
 * occupies ea … ea + n − 1 without a second wrap, so a 16-bit operand straddling 0xFFFF is
 * caught by the segment limit check (#GP(0)/#SS(0)), as on 386 and later CPUs. Under 32-bit
 * addressing the offset wraps modulo 2^32 (see Cpu.segAddr on 4 GiB segments); under 64-bit
 * addressing it does not wrap (a canonical check covers it).
 */
export function partEa(v: number, adSize: number): number {
  // 64-bit addressing: `Cpu.ea64`'s signed number plus k, checked as a whole by `Cpu.linear64`.
  return adSize === 4 ? v >>> 0 : v;
}
/** Sign-extends a `size`-byte value to a JS int32. */
export function sext(v: number, size: number): number {
  return size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24;
}

export function readE(cpu: Cpu, i: Insn, size: number): number {
  if (i.mod === 3) return cpu.getReg(i.rm, size, i.rex);
  // 64-bit addressing: straight from the address' halves to the TLB (`memSlot64`), without the
  // signed 64-bit offset and linear address `ea`/`segAddr` form (heap numbers for a kernel's
  // addresses); anything but a TLB hit inside one page goes the general way.
  if (i.adSize === 8) {
    const m = memSlot64(cpu, i, size, false);
    if (m !== null) return viewLoad(m, SLOT_OFF[0], size);
  }
  return cpu.read(i.memSeg, cpu.ea(i), size);
}
export function writeE(cpu: Cpu, i: Insn, size: number, v: number): void {
  if (i.mod === 3) cpu.setReg(i.rm, size, i.rex, v);
  else {
    if (i.adSize === 8) {
      const m = memSlot64(cpu, i, size, true);
      if (m !== null) {
        viewStore(m, SLOT_OFF[0], size, v);
        return;
      }
    }
    cpu.write(i.memSeg, cpu.ea(i), size, v);
  }
}
export function readG(cpu: Cpu, i: Insn, size: number): number {
  return cpu.getReg(i.reg, size, i.rex);
}
export function writeG(cpu: Cpu, i: Insn, size: number, v: number): void {
  cpu.setReg(i.reg, size, i.rex, v);
}

/**
 * Read-modify-write of a memory r/m: checks the segment for writing and probes the page for
 * writing first, so the read can't succeed and the write fault afterwards (SDM: the destination
 * of a read-modify-write is checked as a write). Returns the linear address.
 */
export function rmwLinear(cpu: Cpu, i: Insn, size: number): number {
  // 64-bit addressing with a TLB entry granting the write inside one page (and so the read: no
  // entry has write rights without read rights): nothing to check or probe.
  if (i.adSize === 8 && memSlot64(cpu, i, size, true) !== null) return slotLinear(cpu);
  const lin = cpu.segAddr(i.memSeg, cpu.ea(i), size, true);
  // #AC before the page: a misaligned operand on a not-present page is #AC(0) on the CPU, as for
  // a plain load or store (the long64 garbage difftest: SHL/ADD/AND [m] gave #PF here).
  cpu.alignCheck(lin, size);
  cpu.probeWrite(lin, size);
  return lin;
}
export function linRead(cpu: Cpu, lin: number, size: number): number {
  return cpu.linRead(lin, size, cpu.state.cpl === 3 ? PFERR.USER : 0);
}
export function linWrite(cpu: Cpu, lin: number, size: number, v: number): void {
  cpu.linWrite(lin, size, v, cpu.state.cpl === 3 ? PFERR.USER : 0);
}

/**
 * The write of a read-modify-write. With LOCK under `emulate()`, it is a compare-exchange against
 * the value read (KVM emulates locked instructions with cmpxchg): if memory changed in between,
 * the instruction is retried from the start. With LOCK on a CPU sharing its RAM with other threads
 * (`Cpu.lockedMemory`), the same compare-exchange on the shared memory; a lost race runs the
 * instruction again and returns false: the handler must not write its registers.
 */
export function rmwWrite(cpu: Cpu, i: Insn, lin: number, size: number, old: number, v: number): boolean {
  if (i.lock) {
    if (cpu.linearOps !== null) {
      if (!cpu.linearOps.cmpxchg(lin, size, old, 0, v, 0)) throw EMUL_RETRY;
      return true;
    }
    const locked = cpu.lockedMemory;
    if (locked !== null) {
      if (locked.cmpxchg(lin, size, old, 0, v, 0)) return true;
      locked.retry();
      return false;
    }
  }
  linWrite(cpu, lin, size, v);
  return true;
}

/** Operand size of a row: 1 for byte forms (operands naming b), else the instruction's. */
export function isByteForm(operands: string): boolean {
  const first = operands.split(',')[0] ?? '';
  return /^(Eb|Gb|AL|Zb|Ob|Yb|Xb)$/.test(first) || operands === 'Eb,1' || operands === 'Eb,CL';
}

/** Jump target: new EIP (operand-size wrap), checked against the CS limit (#GP(0)). */
export function jumpTo(cpu: Cpu, i: Insn, target: number): void {
  const eip = i.opSize === 2 ? target & 0xffff : target >>> 0;
  if (eip > cpu.state.segLimit[1]) cpu.gp0();
  cpu.state.rip[0] = eip;
}
