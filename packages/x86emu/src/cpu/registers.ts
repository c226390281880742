/**
 * General registers by operand size (byte registers AH–BH without REX, SPL–DIL with one: SDM
 * Vol. 1 3.4.1, 3.7.2.1) and the effective address of an instruction's memory operand: 16/32-bit
 * with the address-size wrap, 64-bit as a signed number or as exact halves (SDM Vol. 1 3.7.5).
 */
import type { Insn } from '../decoder/insn.js';
import type { Cpu } from './cpu.js';

const TWO32 = 4294967296;

export class CpuRegisters {
  /** Reads register `r` of `size` bytes; for size 1 without REX, 4–7 are AH, CH, DH, BH. */
  getReg(this: Cpu, r: number, size: number, rex: number): number {
    const g = this.gpr;
    if (size === 4) return g[r];
    if (size === 2) return g[r] & 0xffff;
    if (r < 4 || r >= 8 || rex !== 0) return g[r] & 0xff;
    return (g[r - 4] >>> 8) & 0xff;
  }

  setReg(this: Cpu, r: number, size: number, rex: number, v: number): void {
    const g = this.gpr;
    if (size === 4) {
      // A 32-bit destination zero-extends into the whole 64-bit register (SDM Vol. 1 3.4.1.1);
      // outside 64-bit mode the upper half is undefined, so clearing it there is right too.
      g[r] = v;
      this.gprHigh[r] = 0;
    } else if (size === 2) g[r] = (g[r] & 0xffff0000) | (v & 0xffff);
    else if (r < 4 || r >= 8 || rex !== 0) g[r] = (g[r] & 0xffffff00) | (v & 0xff);
    else g[r - 4] = (g[r - 4] & 0xffff00ff) | ((v & 0xff) << 8);
  }

  /** Effective address of the instruction's memory operand (address-size wrap applied). */
  ea(this: Cpu, i: Insn): number {
    const g = this.gpr;
    if (i.adSize === 8 || i.ripRel) return this.ea64(i);
    let a = i.disp;
    if (i.base >= 0) a += g[i.base];
    if (i.index >= 0) a += g[i.index] << i.scale;
    return i.adSize === 2 ? a & 0xffff : a >>> 0;
  }

  /**
   * Effective address in 64-bit mode (SDM Vol. 1 3.7.5): base (or RIP) + index × scale + disp over
   * 64 bits, returned as a SIGNED number. That is exact wherever the address can be canonical
   * (within ±2^47, also after adding an FS/GS base); further out only "not canonical" matters,
   * which rounding cannot change. With a 32-bit address size (67H) the sum is truncated to 32
   * bits and zero-extended (RIP-relative then uses EIP).
   */
  ea64(this: Cpu, i: Insn): number {
    // Fast path: 64-bit address size with base and index whose high halves are canonical-sized
    // (|value| < 2^47; RIP always is): each term and the sum are exact as doubles (< 2^51).
    if (i.adSize === 8) {
      let a = i.disp;
      if (i.ripRel) a += (this.state.rip[1] | 0) * TWO32 + this.state.rip[0];
      else if (i.base >= 0) {
        const hb = this.gprHigh[i.base];
        if ((hb + 0x8000) >>> 0 >= 0x10000) return this.ea64Exact(i);
        a += (hb | 0) * TWO32 + this.gpr[i.base];
      }
      if (i.index >= 0) {
        const hx = this.gprHigh[i.index];
        if ((hx + 0x8000) >>> 0 >= 0x10000) return this.ea64Exact(i);
        a += ((hx | 0) * TWO32 + this.gpr[i.index]) * (1 << i.scale);
      }
      return a;
    }
    return this.ea64Exact(i);
  }

  /** `ea64` over exact halves (any register values; 67H's 32-bit sum). */
  ea64Exact(this: Cpu, i: Insn): number {
    this.eaHalves(i);
    return i.adSize === 4 ? this.lo64 : (this.hi64 | 0) * TWO32 + this.lo64;
  }

  /**
   * The 64-bit effective address exactly, as halves in lo64/hi64 (LEA needs every bit, also of a
   * non-canonical address that `ea64`'s signed number cannot hold). 67H: the low 32 bits.
   */
  eaHalves(this: Cpu, i: Insn): void {
    const g = this.gpr;
    const h = this.gprHigh;
    let lo = i.disp >>> 0;
    let hi = i.disp < 0 ? -1 : 0;
    if (i.ripRel) {
      lo += this.state.rip[0];
      hi += this.state.rip[1];
    } else if (i.base >= 0) {
      lo += g[i.base];
      hi += h[i.base];
    }
    if (i.index >= 0) {
      lo += g[i.index] * (1 << i.scale);
      hi += h[i.index] << i.scale;
    }
    const carry = lo >= 0 && lo < TWO32 ? 0 : Math.floor(lo / TWO32);
    this.lo64 = lo - carry * TWO32;
    this.hi64 = i.adSize === 4 ? 0 : (hi + carry) >>> 0;
  }
}
