/**
 * Segment registers (SDM Vol. 3 3.4, 5.1–5.6): descriptors read from the GDT/LDT, loads in real,
 * virtual-8086 and protected mode with their checks and the accessed bit, and the per-register
 * flags (`segFlags`) that the memory accessors' limit and type checks read.
 */
import { SegAttr } from '../state.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { descBase, descLimit } from './descriptor.js';

/** `segFlags` of a segment a 64-bit wasm function reads (`INLINE_R`) or writes inline (`Cpu.segInline`). */
const INLINE_R = C.SF_R | C.SF_FLAT | C.SF_LONG;
const INLINE_W = C.SF_W | C.SF_FLAT | C.SF_LONG;

const TWO32 = 4294967296;
const TWO48 = 281474976710656;

export class CpuSegments {
  /** Reads the descriptor for `sel` from the GDT or LDT; #GP(sel) (or `vec`) when outside the table. */
  readDescriptorLo(this: Cpu, sel: number, ext = 0, vec: number = C.GP): number {
    const s = this.state;
    const idx = sel & 0xfff8;
    let base: number;
    let baseHi: number;
    let limit: number;
    if (sel & 4) {
      // The LDT is invalid when LDTR's hidden part says so (LLDT of a null selector marks it,
      // SDM Vol. 2 LLDT), not when its visible selector is null: the power-on LDTR is a present
      // LDT at base 0 with selector 0 (SDM Vol. 3 9.1.1, the power-up state table), and
      // KVM_SET_SREGS can hand over the same (VM entry's checks on a usable LDTR ask only TI = 0).
      if (s.segAttr[6] & SegAttr.UNUSABLE) this.raise(vec, (sel & 0xfffc) | ext, true);
      base = s.segBase[6];
      baseHi = s.segBaseHigh[6];
      limit = s.segLimit[6];
    } else {
      base = s.dtBase[0];
      baseHi = s.dtBaseHigh[0];
      limit = s.dtLimit[0];
    }
    if (idx + 7 > limit) this.raise(vec, (sel & 0xfffc) | ext, true);
    const a = this.tableLinear(base, baseHi, idx);
    this.descAddr = a;
    const lo = this.linRead(a, 4, 0);
    this.descHi = this.linRead(this.tableLinear(base, baseHi, idx + 4), 4, 0);
    return lo;
  }

  /**
   * Linear address of byte `off` of a descriptor table at base (lo, hi): 32-bit outside IA-32e
   * mode; in it the tables have 64-bit bases (SDM Vol. 3 2.4), folded to 48 bits like every
   * linear address here.
   */
  tableLinear(this: Cpu, base: number, baseHi: number, off: number): number {
    if (!this.lma) return (base + off) >>> 0;
    const v = (baseHi & 0xffff) * TWO32 + base + off;
    return v >= TWO48 ? v - TWO48 : v;
  }

  /** Sets the accessed bit of `sel`'s descriptor whose high dword is `hi` (SDM Vol. 3 3.4.5.1). */
  setDescAccessed(this: Cpu, sel: number, hi: number): void {
    if (hi & 0x100) return;
    const s = this.state;
    const ldt = (sel & 4) !== 0;
    const a = this.tableLinear(
      ldt ? s.segBase[6] : s.dtBase[0],
      ldt ? s.segBaseHigh[6] : s.dtBaseHigh[0],
      (sel & 0xfff8) + 4,
    );
    this.linWriteSys(a, 4, (hi | 0x100) >>> 0, 0);
  }

  /** Loads a segment register's visible and hidden parts from a descriptor. */
  setSegFromDesc(this: Cpu, seg: number, sel: number, lo: number, hi: number): void {
    const s = this.state;
    s.segSel[seg] = sel;
    s.segBase[seg] = descBase(lo, hi);
    // A selector load takes a 32-bit base; only WRMSR/SWAPGS (FS, GS) or 16-byte system
    // descriptors (LDT, TSS) set bits 63:32 (SDM Vol. 3 3.4.4).
    s.segBaseHigh[seg] = 0;
    s.segLimit[seg] = descLimit(lo, hi);
    s.segAttr[seg] = ((hi >>> 8) & 0xf0ff) | 1; // accessed is set by the load
    if (seg >= 6) s.segAttr[seg] &= ~1;
    if (seg === 6 || seg === 7) s.segAttr[seg] = (hi >>> 8) & 0xf0ff;
    this.updateSegFlags(seg);
    if (seg === 1 || seg === 2) this.updateMode();
  }

  /** A null selector in DS/ES/FS/GS: the register becomes unusable (SDM Vol. 3 5.4.1). */
  loadNull(this: Cpu, seg: number): void {
    const s = this.state;
    s.segSel[seg] = 0;
    s.segBase[seg] = 0;
    s.segLimit[seg] = 0;
    s.segAttr[seg] = SegAttr.UNUSABLE;
    this.updateSegFlags(seg);
  }

  /** Real-mode / virtual-8086 segment load: base = selector × 16. */
  loadSegReal(this: Cpu, seg: number, sel: number): void {
    const s = this.state;
    s.segSel[seg] = sel;
    s.segBase[seg] = sel << 4;
    if (this.v86) {
      // Virtual-8086: limit 0xFFFF, DPL 3, 16-bit, read/write data (CS: code) (SDM Vol. 3 20.2.1).
      s.segLimit[seg] = 0xffff;
      s.segAttr[seg] = SegAttr.P | SegAttr.S | (3 << 5) | (seg === 1 ? 0xb : 3);
    } else if (s.segAttr[seg] & SegAttr.UNUSABLE) {
      s.segAttr[seg] = SegAttr.P | SegAttr.S | (seg === 1 ? 0xb : 3);
      s.segLimit[seg] = 0xffff;
    }
    this.updateSegFlags(seg);
    if (seg === 1 || seg === 2) this.updateMode();
  }

  /**
   * MOV/POP to a data or stack segment register in protected mode, with its checks (SDM Vol. 2
   * MOV, "Protected Mode Exceptions"; Vol. 3 5.5–5.6).
   */
  loadSegProtected(this: Cpu, seg: number, sel: number): void {
    const s = this.state;
    const cpl = s.cpl;
    if ((sel & 0xfffc) === 0) {
      // A null SS is allowed in 64-bit mode below CPL 3 with RPL = CPL (SDM Vol. 2 MOV, POP).
      if (seg === 2 && !(this.long64 && cpl < 3 && (sel & 3) === cpl)) this.gp0();
      s.segSel[seg] = sel;
      s.segBase[seg] = 0;
      s.segBaseHigh[seg] = 0; // Intel clears the base on a null load (AMD keeps it: Linux X86_BUG_NULL_SEG)
      s.segLimit[seg] = 0;
      s.segAttr[seg] = SegAttr.UNUSABLE;
      this.updateSegFlags(seg);
      return;
    }
    const lo = this.readDescriptorLo(sel);
    const hi = this.descHi;
    const type = (hi >>> 8) & 0x1f;
    const dpl = (hi >>> 13) & 3;
    const rpl = sel & 3;
    if (seg === 2) {
      if (rpl !== cpl || dpl !== cpl || (type & 0x1a) !== 0x12) this.gp(sel);
      if (!(hi & 0x8000)) this.raise(C.SS, sel & 0xfffc, true);
    } else {
      // Data, or readable code.
      if (!(type & 0x10) || (type & 0x1a) === 0x18) this.gp(sel);
      const conformingCode = (type & 0x1c) === 0x1c;
      if (!conformingCode && (rpl > dpl || cpl > dpl)) this.gp(sel);
      if (!(hi & 0x8000)) this.raise(C.NP, sel & 0xfffc, true);
    }
    this.setDescAccessed(sel, hi);
    this.setSegFromDesc(seg, sel, lo, hi);
  }

  /** Loads a segment register the way the current mode does (MOV Sreg, POP Sreg, LDS…). */
  loadSeg(this: Cpu, seg: number, sel: number): void {
    if (!this.prot || this.v86) this.loadSegReal(seg, sel);
    else this.loadSegProtected(seg, sel);
  }

  updateSegFlags(this: Cpu, seg: number): void {
    const s = this.state;
    const a = s.segAttr[seg];
    let f: number;
    if (this.long64 && seg < 6) {
      // 64-bit mode: no limit or type checks on data accesses (SDM Vol. 3 5.3.1); FS/GS keep a base.
      f = C.SF_R | C.SF_W | C.SF_FLAT | C.SF_LONG;
    } else if (!this.prot || this.v86) {
      f = C.SF_R | C.SF_W;
    } else if (a & SegAttr.UNUSABLE) {
      f = C.SF_NULL;
    } else if (a & SegAttr.S) {
      const t = a & 0xf;
      if (t & 8) f = t & 2 ? C.SF_R : 0;
      else f = C.SF_R | (t & 2 ? C.SF_W : 0) | (t & 4 ? C.SF_EXPDOWN : 0) | (a & SegAttr.DB ? C.SF_BIG : 0);
    } else {
      f = 0;
    }
    if (!(f & (C.SF_EXPDOWN | C.SF_NULL)) && s.segBase[seg] === 0 && s.segLimit[seg] === 0xffffffff)
      f |= C.SF_FLAT;
    this.segFlags[seg] = f;
    if (seg < 6) {
      const r = (f & INLINE_R) === INLINE_R ? 1 << seg : 0;
      const w = (f & INLINE_W) === INLINE_W ? 64 << seg : 0;
      this.segInline = (this.segInline & ~(65 << seg)) | r | w;
    }
  }
}
