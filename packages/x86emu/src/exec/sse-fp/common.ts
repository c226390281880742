/**
 * What every SSE floating-point handler shares: the XMM register file as 32-bit words, the
 * source operand (register or memory, with the 16-byte alignment rule of legacy SSE), and the
 * MXCSR update that ends an instruction (flags sticky, #XM/#UD on an unmasked exception with
 * the destination untouched; SDM Vol. 1 11.5.1, 11.5.2).
 */
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';
import { FE_PRECOMPUTATION } from '../../fpu/exceptions.js';
import { mxcsrMasks } from '../../fpu/mxcsr.js';
import { partEa } from '../operands.js';
import { misaligned16Gp } from '../sse/operands.js';
import { raiseSimdFp } from '../x87/fpu-checks.js';

let viewOf: Uint8Array | null = null;
let view32 = new Int32Array(64);

/**
 * `state.xmm` as 64 little-endian words (XMMn is words 4n…4n+3). The view is made once per
 * register file (a Cpu keeps its state), so an instruction allocates nothing. x86 and the hosts
 * Node runs on are little-endian, so word k holds bytes 4k…4k+3 as the CPU stores them. The
 * words are int32: V8 passes those to the arithmetic core without boxing, where an unsigned
 * word ≥ 2^31 (every negative float) is a heap number per call; src/fpu reads its word
 * arguments as unsigned whichever form they come in.
 */
export function xmmWords(cpu: Cpu): Int32Array {
  const b = cpu.state.xmm;
  if (b !== viewOf) {
    viewOf = b;
    view32 = new Int32Array(b.buffer, b.byteOffset, 64);
  }
  return view32;
}

/** The source operand, copied (so that a destination written early cannot change it). */
export const SRC = new Int32Array(4);

/**
 * Reads the xmm/m operand (ModRM r/m) into SRC[0…bytes/4-1]: 4, 8 or 16 bytes. `align16`: a
 * 16-byte memory operand of a legacy SSE packed instruction must be 16-byte aligned, else
 * #GP(0) whatever the segment (SDM Vol. 2 2.5, Table 2-19 "Type 2"/"Type 4" exceptions).
 */
export function loadSrc(cpu: Cpu, i: Insn, bytes: number, align16: boolean): void {
  if (i.mod === 3) {
    const x = xmmWords(cpu);
    const o = i.rm * 4;
    SRC[0] = x[o];
    SRC[1] = x[o + 1];
    SRC[2] = x[o + 2];
    SRC[3] = x[o + 3];
    return;
  }
  loadMem(cpu, i, bytes, align16);
}

/** The memory operand of `i` (mod != 3) into SRC, as in loadSrc. */
export function loadMem(cpu: Cpu, i: Insn, bytes: number, align16: boolean): void {
  const seg = i.memSeg;
  const ea = cpu.ea(i);
  if (bytes === 4) {
    SRC[0] = cpu.read(seg, ea, 4);
    return;
  }
  if (bytes === 16) {
    if (align16) misaligned16Gp(cpu, i, ea);
    cpu.segAddr(seg, ea, 16, false); // the whole operand against the segment, before paging
  }
  cpu.read64(seg, ea);
  SRC[0] = cpu.lo64;
  SRC[1] = cpu.hi64;
  if (bytes === 16) {
    cpu.read64(seg, partEa(ea + 8, i.adSize));
    SRC[2] = cpu.lo64;
    SRC[3] = cpu.hi64;
  }
}

/**
 * Ends an instruction's arithmetic: ORs `flags` (FE_*) into MXCSR, then if any of them is
 * unmasked takes #XM (CR4.OSXMMEXCPT = 1) or #UD, before the caller writes its destination.
 */
export function commitFlags(cpu: Cpu, flags: number): void {
  if (flags === 0) return;
  const m = cpu.state.mxcsr;
  m[0] |= flags & 0x3f;
  if (flags & ~mxcsrMasks(m[0]) & 0x3f) raiseSimdFp(cpu);
}

/**
 * The flags a packed instruction records from its elements' ORed `flags`: if a pre-computation
 * exception (IE, DE, ZE) of any element is unmasked, only those; the post-computation flags of
 * the other elements never reach MXCSR (SDM Vol. 1 11.5.2; measured, see fpu/sse-packed.ts).
 */
export function packedFlags(flags: number, mxcsr: number): number {
  const pre = flags & FE_PRECOMPUTATION;
  return pre & ~mxcsrMasks(mxcsr) ? pre : flags;
}
