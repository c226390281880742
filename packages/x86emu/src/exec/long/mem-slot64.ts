/**
 * A memory operand in 64-bit mode straight from its effective address's halves to the TLB: the
 * common access (64-bit address size, inside one page, a TLB entry with the rights, no #AC or data
 * breakpoint) without forming the signed 64-bit offset that `Cpu.ea64`, `segAddr` and `linear64`
 * pass around. That offset is a kernel address (about -2^46 or -2^31) and V8 boxes it at every
 * call it does not inline: a heap number per memory operand, and a division (`tlbTagOf`) on each.
 * Anything else returns null and the caller takes the general path, which raises what must be
 * raised (#GP/#SS for a non-canonical address, #PF, #AC).
 */
import * as C from '../../cpu/consts.js';
import type { Cpu } from '../../cpu/cpu.js';
import type { Insn } from '../../decoder/insn.js';

const TWO32 = 4294967296;

/**
 * Where the operand `memSlot64` found is: [0] its offset in the view returned, [1] its TLB entry
 * (the linear address is that entry's page, `slotLinear`, plus the offset).
 */
export const SLOT_OFF = new Int32Array(2);

/**
 * The host view holding the `size`-byte memory operand of `i` (read, or written when `write`) when
 * the TLB grants it inside one page, with its offset in SLOT_OFF[0]; else null. The address is
 * base + index × scale + displacement (RIP-relative: the next instruction's RIP), plus the FS/GS
 * base (SDM Vol. 1 3.7.5, Vol. 3 3.4.4: no other segment has a base or limit in 64-bit mode).
 */
export function memSlot64(cpu: Cpu, i: Insn, size: number, write: boolean): Uint8Array | null {
  if (i.adSize !== 8 || cpu.dbgData !== 0 || cpu.acEnabled || cpu.linearOps !== null) return null;
  const seg = i.seg >= 0 ? i.seg : i.defSeg;
  const f = cpu.segFlags[seg];
  if ((f & (C.SF_FLAT | C.SF_LONG)) !== (C.SF_FLAT | C.SF_LONG) || !(f & (write ? C.SF_W : C.SF_R)))
    return null;
  const disp = i.disp;
  let lo = disp >>> 0;
  let hi = disp < 0 ? -1 : 0;
  if (i.ripRel) {
    const r = cpu.state.rip;
    lo += r[0];
    hi += r[1];
  } else if (i.base >= 0) {
    lo += cpu.gpr[i.base];
    hi += cpu.gprHigh[i.base];
  }
  if (i.index >= 0) {
    lo += cpu.gpr[i.index] * (1 << i.scale);
    hi += cpu.gprHigh[i.index] << i.scale;
  }
  if (seg >= 4) {
    lo += cpu.state.segBase[seg];
    hi += cpu.state.segBaseHigh[seg];
  }
  // lo < 2^36: the carry into the high half is small.
  if (lo >= TWO32) {
    const carry = Math.floor(lo / TWO32);
    lo -= carry * TWO32;
    hi += carry;
  }
  const h = hi | 0;
  // Canonical (bits 63:47 equal); the access stays in the page, so its last byte is too.
  if (h >= 0x8000 || h < -0x8000) return null;
  const o = lo & 0xfff;
  if (o > 4096 - size) return null;
  const idx = (lo >>> 12) & C.TLB_MASK;
  // tlbTagOf of the address folded to 48 bits: its bits 47:24.
  if (cpu.tlbTag[idx] !== (((h & 0xffff) << 8) | (lo >>> 24))) return null;
  const user = cpu.state.cpl === 3;
  const need = write ? (user ? C.TP_UW : C.TP_SW) : user ? C.TP_UR : C.TP_SR;
  if (!(cpu.tlbPerm[idx] & need)) return null;
  SLOT_OFF[0] = o;
  SLOT_OFF[1] = idx;
  return cpu.tlbView[idx];
}

/**
 * The linear address (folded to 48 bits, as `Cpu.linear64` returns it) of the operand the last
 * successful `memSlot64` found: its TLB entry's tag (bits 47:24) and index (bits 23:12), and the
 * offset.
 */
export function slotLinear(cpu: Cpu): number {
  const idx = SLOT_OFF[1];
  return (cpu.tlbTag[idx] * C.TLB_SIZE + idx) * 4096 + SLOT_OFF[0];
}

/** Reads the dword memory operand of `i`: from its halves when the TLB has it, else the general path. */
export function readM32(cpu: Cpu, i: Insn): number {
  const v = memSlot64(cpu, i, 4, false);
  if (v === null) return cpu.read(i.memSeg, cpu.ea(i), 4);
  const o = SLOT_OFF[0];
  return (v[o] | (v[o + 1] << 8) | (v[o + 2] << 16) | (v[o + 3] << 24)) >>> 0;
}

/** Writes the dword memory operand of `i` (`value` as uint32 or int32). */
export function writeM32(cpu: Cpu, i: Insn, value: number): void {
  const v = memSlot64(cpu, i, 4, true);
  if (v === null) {
    cpu.write(i.memSeg, cpu.ea(i), 4, value >>> 0);
    return;
  }
  const o = SLOT_OFF[0];
  v[o] = value;
  v[o + 1] = value >>> 8;
  v[o + 2] = value >>> 16;
  v[o + 3] = value >>> 24;
}
