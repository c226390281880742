/**
 * Segmented memory: the data accesses of instructions, `seg:off` for `size` bytes, with the
 * segment's limit and type checks (SDM Vol. 3 5.3, 5.4; the canonical check in 64-bit mode) and
 * the hot path, a TLB hit inside one page read or written straight from the host view. The rest
 * goes through linear-memory.ts. `readOrFault`/`writeOrFault` end a #PF through `unwinding`
 * instead of a throw (see cpu.ts).
 */
import { PFERR } from '../paging/walker.js';
import * as C from './consts.js';
import { Unwind } from './consts.js';
import type { Cpu } from './cpu.js';
import { tlbTagOf, tlbTranslateStatus } from './tlb.js';
import { viewLoad, viewStore } from './view-bytes.js';

export class CpuSegmentedMemory {
  /**
   * Linear address of `seg:off` for an access of `size` bytes; raises #GP(0)/#SS(0) on a violation.
   * An expand-up segment with an effective limit of FFFFFFFFH never faults: an access running past
   * 4 GiB wraps modulo 2^32 (the linear accessors split it per byte). SDM Vol. 3 5.3 leaves that
   * case implementation-specific ("may or may not cause the indicated exceptions"); the CPUs and
   * KVM's emulator do not fault, so neither does x86emu.
   */
  segAddr(this: Cpu, seg: number, off: number, size: number, write: boolean): number {
    const f = this.segFlags[seg];
    if (!(f & (write ? C.SF_W : C.SF_R))) this.segFault(seg);
    if (f & C.SF_FLAT) return f & C.SF_LONG ? this.linear64(seg, off, size) : off;
    const s = this.state;
    const lim = s.segLimit[seg];
    if (f & C.SF_EXPDOWN) {
      const top = f & C.SF_BIG ? 0xffffffff : 0xffff;
      if (off <= lim || off + size - 1 > top) this.segFault(seg);
    } else if (off + size - 1 > lim && lim !== 0xffffffff) {
      this.segFault(seg);
    }
    return (s.segBase[seg] + off) >>> 0;
  }

  segFault(this: Cpu, seg: number): never {
    return this.raise(seg === 2 ? C.SS : C.GP, 0, true);
  }

  read(this: Cpu, seg: number, off: number, size: number): number {
    const lin = this.segAddr(seg, off, size, false);
    // Fast path: a TLB hit with a host view, inside one page (emulate() never fills the TLB).
    const idx = (lin >>> 12) & C.TLB_MASK;
    const o = lin & 0xfff;
    if (this.tlbTag[idx] === tlbTagOf(lin) && o <= 4096 - size && this.dbgData === 0 && !this.acEnabled) {
      const view = this.tlbView[idx];
      if (view !== null && this.tlbPerm[idx] & (this.state.cpl === 3 ? C.TP_UR : C.TP_SR))
        return viewLoad(view, o, size);
    }
    return this.linRead(lin, size, this.state.cpl === 3 ? PFERR.USER : 0);
  }

  write(this: Cpu, seg: number, off: number, size: number, value: number): void {
    const lin = this.segAddr(seg, off, size, true);
    const idx = (lin >>> 12) & C.TLB_MASK;
    const o = lin & 0xfff;
    if (this.tlbTag[idx] === tlbTagOf(lin) && o <= 4096 - size && this.dbgData === 0 && !this.acEnabled) {
      const view = this.tlbView[idx];
      if (view !== null && this.tlbPerm[idx] & (this.state.cpl === 3 ? C.TP_UW : C.TP_SW)) {
        viewStore(view, o, size, value);
        return;
      }
    }
    this.linWrite(lin, size, value, this.state.cpl === 3 ? PFERR.USER : 0);
  }

  /**
   * `read` for handlers that check `unwinding` after it and return when set: a #PF (demand
   * paging, shadow-page faults, write-protected page tables: the common fault) ends the
   * instruction through `unwinding` and this returns 0, instead of a throw. Segment faults, #AC,
   * page-crossing accesses and `emulate()` take `read`'s throwing path.
   */
  readOrFault(this: Cpu, seg: number, off: number, size: number): number {
    const lin = this.segAddr(seg, off, size, false);
    const idx = (lin >>> 12) & C.TLB_MASK;
    const o = lin & 0xfff;
    if (o > 4096 - size || this.dbgData !== 0 || this.acEnabled || this.linearOps !== null)
      return this.linRead(lin, size, this.state.cpl === 3 ? PFERR.USER : 0);
    const user = this.state.cpl === 3;
    if (this.tlbTag[idx] !== tlbTagOf(lin) || !(this.tlbPerm[idx] & (user ? C.TP_UR : C.TP_SR))) {
      if (tlbTranslateStatus(this, lin, user ? PFERR.USER : 0) < 0) {
        this.unwinding = Unwind.Fault;
        this.irqCheck = true;
        return 0;
      }
    }
    const view = this.tlbView[idx];
    if (view !== null) return viewLoad(view, o, size);
    const pa = this.tlbPfn[idx] * 4096 + o;
    this.irqCheck = true;
    if (size === 1) return this.memory.read8(pa);
    if (size === 2) return this.memory.read16(pa);
    return this.memory.read32(pa) >>> 0;
  }

  /** `write` with `readOrFault`'s contract: a #PF sets `unwinding` and nothing is written. */
  writeOrFault(this: Cpu, seg: number, off: number, size: number, value: number): void {
    const lin = this.segAddr(seg, off, size, true);
    const idx = (lin >>> 12) & C.TLB_MASK;
    const o = lin & 0xfff;
    if (o > 4096 - size || this.dbgData !== 0 || this.acEnabled || this.linearOps !== null) {
      this.linWrite(lin, size, value, this.state.cpl === 3 ? PFERR.USER : 0);
      return;
    }
    const user = this.state.cpl === 3;
    if (this.tlbTag[idx] !== tlbTagOf(lin) || !(this.tlbPerm[idx] & (user ? C.TP_UW : C.TP_SW))) {
      // tlbTranslate's slow path: the walk (setting D), and a write to a frame holding decoded
      // code drops those decodes.
      if (tlbTranslateStatus(this, lin, user ? PFERR.USER | PFERR.WRITE : PFERR.WRITE) < 0) {
        this.unwinding = Unwind.Fault;
        this.irqCheck = true;
        return;
      }
    }
    const view = this.tlbView[idx];
    if (view !== null) {
      view[o] = value;
      if (size >= 2) view[o + 1] = value >>> 8;
      if (size === 4) {
        view[o + 2] = value >>> 16;
        view[o + 3] = value >>> 24;
      }
      return;
    }
    const pa = this.tlbPfn[idx] * 4096 + o;
    this.irqCheck = true;
    if (size === 1) this.memory.write8(pa, value & 0xff);
    else if (size === 2) this.memory.write16(pa, value & 0xffff);
    else this.memory.write32(pa, value >>> 0);
  }

  /**
   * Reads 8 bytes at `seg:off` into lo64/hi64 (64-bit operands): one segment/canonical check for
   * all 8 bytes, a TLB hit inside one page read straight from the host view, else two dword reads.
   */
  read64(this: Cpu, seg: number, off: number): void {
    const lin = this.segAddr(seg, off, 8, false);
    const idx = (lin >>> 12) & C.TLB_MASK;
    const o = lin & 0xfff;
    if (this.tlbTag[idx] === tlbTagOf(lin) && o <= 4088 && this.dbgData === 0 && !this.acEnabled) {
      const view = this.tlbView[idx];
      if (view !== null && this.tlbPerm[idx] & (this.state.cpl === 3 ? C.TP_UR : C.TP_SR)) {
        this.lo64 = (view[o] | (view[o + 1] << 8) | (view[o + 2] << 16) | (view[o + 3] << 24)) >>> 0;
        this.hi64 = (view[o + 4] | (view[o + 5] << 8) | (view[o + 6] << 16) | (view[o + 7] << 24)) >>> 0;
        return;
      }
    }
    this.alignCheck(lin, 8);
    const acc = this.dataAccess(false);
    const lo = this.linRead(lin, 4, acc);
    this.hi64 = this.linRead(this.linNext(lin, 4), 4, acc);
    this.lo64 = lo;
  }

  /**
   * `read64` with `readOrFault`'s contract, for compiled code (jit/mem64.ts): a #PF of an access
   * inside one page sets `unwinding` and returns; the rest is `read64`'s (which then hits the TLB).
   */
  read64OrFault(this: Cpu, seg: number, off: number): void {
    if (this.faultOnly8(seg, off, false)) return;
    this.read64(seg, off);
  }

  /** `write64` with `writeOrFault`'s contract: a #PF sets `unwinding` and nothing is written. */
  write64OrFault(this: Cpu, seg: number, off: number, lo: number, hi: number): void {
    if (this.faultOnly8(seg, off, true)) return;
    this.write64(seg, off, lo, hi);
  }

  /**
   * For the OrFault forms of 8-byte accesses: the translation of `seg:off` for a read or write
   * inside one page (filling the TLB, setting A/D), true with `unwinding` set when it faults.
   * Page-splitting, watched (DR7), #AC-checked and `linearOps` accesses are left to `read64`/
   * `write64` (false), which throw as before.
   */
  faultOnly8(this: Cpu, seg: number, off: number, write: boolean): boolean {
    const lin = this.segAddr(seg, off, 8, write);
    if ((lin & 0xfff) > 4088 || this.dbgData !== 0 || this.acEnabled || this.linearOps !== null) return false;
    const access = (this.state.cpl === 3 ? PFERR.USER : 0) | (write ? PFERR.WRITE : 0);
    if (tlbTranslateStatus(this, lin, access) >= 0) return false;
    this.unwinding = Unwind.Fault;
    this.irqCheck = true;
    return true;
  }

  /** Writes 8 bytes at `seg:off`; both halves' pages are checked before either is stored. */
  write64(this: Cpu, seg: number, off: number, lo: number, hi: number): void {
    const lin = this.segAddr(seg, off, 8, true);
    const idx = (lin >>> 12) & C.TLB_MASK;
    const o = lin & 0xfff;
    if (this.tlbTag[idx] === tlbTagOf(lin) && o <= 4088 && this.dbgData === 0 && !this.acEnabled) {
      const view = this.tlbView[idx];
      if (view !== null && this.tlbPerm[idx] & (this.state.cpl === 3 ? C.TP_UW : C.TP_SW)) {
        view[o] = lo;
        view[o + 1] = lo >>> 8;
        view[o + 2] = lo >>> 16;
        view[o + 3] = lo >>> 24;
        view[o + 4] = hi;
        view[o + 5] = hi >>> 8;
        view[o + 6] = hi >>> 16;
        view[o + 7] = hi >>> 24;
        return;
      }
    }
    this.alignCheck(lin, 8);
    this.probeWrite(lin, 8);
    const acc = this.dataAccess(false);
    this.linWrite(lin, 4, lo, acc);
    this.linWrite(this.linNext(lin, 4), 4, hi, acc);
  }
}
