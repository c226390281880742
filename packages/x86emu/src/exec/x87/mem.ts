/**
 * x87 memory operands (SDM Vol. 1 4.2, 4.7): 16/32/64-bit integers, 32/64-bit reals converted to
 * the 80-bit format, and the 10-byte extended-real and packed-BCD images, read and written
 * through the CPU's segmented accessors. The 10-byte forms are checked as one operand (segment
 * limit, and for stores every page before any byte is written).
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { Ext80, fild, fld32, fld64 } from '../../fpu/index.js';
import { partEa } from '../operands.js';

export const FMT_F32 = 0;
export const FMT_F64 = 1;
export const FMT_I16 = 2;
export const FMT_I32 = 3;
export const FMT_I64 = 4;
export const FMT_F80 = 5;

/**
 * Reads the memory operand at `ea` in format `fmt` into `out`. Real operands are converted with
 * every exception masked (the conversion is exact; an SNaN comes back quieted): the returned
 * FE_* flags (IE for an SNaN, DE for a denormal) are the caller's to merge.
 */
export function readOperand(cpu: Cpu, i: Insn, ea: number, fmt: number, out: Ext80): number {
  const seg = i.memSeg;
  switch (fmt) {
    case FMT_F32:
      return fld32(cpu.read(seg, ea, 4), out, 0x3f);
    case FMT_F64:
      cpu.read64(seg, ea);
      return fld64(cpu.hi64, cpu.lo64, out, 0x3f);
    case FMT_I16:
      fild(0, cpu.read(seg, ea, 2), 16, out);
      return 0;
    case FMT_I32:
      fild(0, cpu.read(seg, ea, 4), 32, out);
      return 0;
    case FMT_I64:
      cpu.read64(seg, ea);
      fild(cpu.hi64, cpu.lo64, 64, out);
      return 0;
    default:
      read80(cpu, i, ea, out);
      return 0;
  }
}

/** The 10-byte image at ea: significand low, high, then sign/exponent (also packed BCD's words). */
export function read80(cpu: Cpu, i: Insn, ea: number, out: Ext80): void {
  const seg = i.memSeg;
  cpu.segAddr(seg, ea, 10, false);
  cpu.read64(seg, ea);
  const lo = cpu.lo64;
  const hi = cpu.hi64;
  out.set(cpu.read(seg, partEa(ea + 8, i.adSize), 2), hi, lo);
}

/** Writes a 10-byte image; all ten bytes are checked for writing before the first is stored. */
export function write80(cpu: Cpu, i: Insn, ea: number, signExp: number, hi: number, lo: number): void {
  const seg = i.memSeg;
  const lin = cpu.segAddr(seg, ea, 10, true);
  cpu.probeWrite(lin, 10);
  cpu.write64(seg, ea, lo, hi);
  cpu.write(seg, partEa(ea + 8, i.adSize), 2, signExp);
}

/** Scratch for converted operands (no allocation per instruction). */
export const OPND = new Ext80();
