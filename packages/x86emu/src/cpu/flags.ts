/**
 * RFLAGS: the arithmetic flags evaluated from the lazy record of the last ALU result (the
 * operations of lazy-flags.ts), written back by `materializeFlags`, the condition codes (SDM
 * Vol. 1 Appendix B), and whole-register writes with their side effects (RFLAGS.AC, IF, VM).
 */
import { Flag } from '../state.js';
import type { Cpu } from './cpu.js';
import {
  LF_ADC,
  LF_ADD,
  LF_ARITH64,
  LF_DEC,
  LF_INC,
  LF_LOGIC,
  LF_NONE,
  LF_SBB,
  LF_SUB,
  PARITY,
} from './lazy-flags.js';

const ARITH = Flag.CF | Flag.PF | Flag.AF | Flag.ZF | Flag.SF | Flag.OF;

function signBit(size: number): number {
  return size === 4 ? 0x80000000 : size === 2 ? 0x8000 : 0x80;
}

export class CpuFlags {
  getCF(this: Cpu): boolean {
    switch (this.lfOp) {
      case LF_NONE:
        return (this.state.rflags[0] & Flag.CF) !== 0;
      case LF_ADD:
        return this.lfRes < this.lfDst;
      case LF_ADC:
        return this.lfRes <= this.lfDst;
      case LF_SUB:
        return this.lfDst < this.lfSrc;
      case LF_SBB:
        return this.lfDst <= this.lfSrc;
      case LF_LOGIC:
        return false;
      case LF_ARITH64:
        return (this.lfAux & 1) !== 0;
      default:
        return this.lfAux !== 0;
    }
  }

  getZF(this: Cpu): boolean {
    if (this.lfOp === LF_NONE) return (this.state.rflags[0] & Flag.ZF) !== 0;
    return this.lfOp === LF_ARITH64 ? (this.lfRes | this.lfResHi) === 0 : this.lfRes === 0;
  }

  getSF(this: Cpu): boolean {
    if (this.lfOp === LF_NONE) return (this.state.rflags[0] & Flag.SF) !== 0;
    if (this.lfOp === LF_ARITH64) return (this.lfResHi & 0x80000000) !== 0;
    return (this.lfRes & signBit(this.lfSize)) !== 0;
  }

  getPF(this: Cpu): boolean {
    return this.lfOp === LF_NONE ? (this.state.rflags[0] & Flag.PF) !== 0 : PARITY[this.lfRes & 0xff] === 1;
  }

  getAF(this: Cpu): boolean {
    if (this.lfOp === LF_NONE) return (this.state.rflags[0] & Flag.AF) !== 0;
    if (this.lfOp === LF_LOGIC) return false;
    return ((this.lfDst ^ this.lfSrc ^ this.lfRes) & 0x10) !== 0;
  }

  getOF(this: Cpu): boolean {
    const sb = signBit(this.lfSize);
    switch (this.lfOp) {
      case LF_NONE:
        return (this.state.rflags[0] & Flag.OF) !== 0;
      case LF_ADD:
      case LF_ADC:
      case LF_INC:
        return ((this.lfDst ^ this.lfRes) & (this.lfSrc ^ this.lfRes) & sb) !== 0;
      case LF_SUB:
      case LF_SBB:
      case LF_DEC:
        return ((this.lfDst ^ this.lfSrc) & (this.lfDst ^ this.lfRes) & sb) !== 0;
      case LF_ARITH64:
        return (this.lfAux & 2) !== 0;
      default:
        return false;
    }
  }

  /** Writes lazily-held arithmetic flags into `state.rflags`. */
  materializeFlags(this: Cpu): void {
    if (this.lfOp === LF_NONE) return;
    let f = this.state.rflags[0] & ~ARITH;
    if (this.getCF()) f |= Flag.CF;
    if (this.getPF()) f |= Flag.PF;
    if (this.getAF()) f |= Flag.AF;
    if (this.getZF()) f |= Flag.ZF;
    if (this.getSF()) f |= Flag.SF;
    if (this.getOF()) f |= Flag.OF;
    this.state.rflags[0] = f;
    this.lfOp = LF_NONE;
  }

  /** Records an arithmetic result for lazy flags. Values are masked to `size` bytes, unsigned. */
  setLazy(this: Cpu, op: number, dst: number, src: number, res: number, size: number): void {
    this.lfOp = op;
    this.lfDst = dst;
    this.lfSrc = src;
    this.lfRes = res;
    this.lfSize = size;
  }

  /** Evaluates condition code `cc` (SDM Vol. 1 Appendix B). */
  cond(this: Cpu, cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0:
        r = this.getOF();
        break;
      case 1:
        r = this.getCF();
        break;
      case 2:
        r = this.getZF();
        break;
      case 3:
        r = this.getCF() || this.getZF();
        break;
      case 4:
        r = this.getSF();
        break;
      case 5:
        r = this.getPF();
        break;
      case 6:
        r = this.getSF() !== this.getOF();
        break;
      default:
        r = this.getZF() || this.getSF() !== this.getOF();
        break;
    }
    return cc & 1 ? !r : r;
  }

  /** Replaces RFLAGS bits in `mask` with `value` (materializing lazy flags first). */
  setFlags(this: Cpu, value: number, mask: number): void {
    this.materializeFlags();
    const s = this.state;
    const old = s.rflags[0];
    s.rflags[0] = ((old & ~mask) | (value & mask) | Flag.FIXED1) & ~0x8028; // bits 3, 5, 15 read as 0
    if ((old ^ s.rflags[0]) & Flag.AC) this.updateAc();
    if ((old ^ s.rflags[0]) & (Flag.VM | Flag.IF)) {
      this.irqCheck = true;
      if ((old ^ s.rflags[0]) & Flag.VM) {
        this.updateMode();
        for (let r = 0; r < 8; r++) this.updateSegFlags(r);
      }
    }
  }

  /** Architectural RFLAGS value. */
  getFlags(this: Cpu): number {
    this.materializeFlags();
    return this.state.rflags[0];
  }
}
