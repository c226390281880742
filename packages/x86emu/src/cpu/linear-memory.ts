/**
 * Linear memory: reads and writes at a linear address through the TLB (tlb.ts) or, under
 * `emulate()`, through the caller's ops, with the alignment check (#AC, SDM Vol. 3 6.15
 * Interrupt 17), data breakpoints, accesses split across pages (both pages checked before
 * anything is stored) and MMIO through `PhysicalMemory`; and the linear addresses of 64-bit mode
 * (canonical checks, the 48-bit fold, SDM Vol. 3 3.3.7.1).
 */
import { PFERR } from '../paging/walker.js';
import { Cr0, Flag } from '../state.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { tlbTranslate } from './tlb.js';
import { viewLoad, viewStore } from './view-bytes.js';

const TWO32 = 4294967296;
const TWO47 = 140737488355328;
const TWO48 = 281474976710656;

export class CpuLinearMemory {
  /**
   * Linear address of RIP in 64-bit mode: CS.base is 0 and there is no limit, but RIP must be
   * canonical (#GP(0), SDM Vol. 3 3.3.7.1). Folded to 48 bits.
   */
  ripLinear(this: Cpu): number {
    const r = this.state.rip;
    const hi = r[1] | 0;
    if (hi >= 0x8000 || hi < -0x8000) this.gp0();
    return hi < 0 ? (hi + 0x10000) * TWO32 + r[0] : hi * TWO32 + r[0];
  }

  /** The linear address `i` bytes after `lin`: modulo 2^32, or 2^48 (the canonical fold) in 64-bit mode. */
  linNext(this: Cpu, lin: number, i: number): number {
    const a = lin + i;
    if (!this.long64) return a >>> 0;
    return a >= TWO48 ? a - TWO48 : a;
  }

  /**
   * The linear address of `seg:off` in 64-bit mode (SDM Vol. 3 3.4.4): no limit or type checks,
   * a base only for FS and GS; `off` is the 64-bit effective address as a signed number (see
   * `ea`). The whole access must be canonical: #GP(0), or #SS(0) for stack references (SDM Vol. 3
   * 6.15 "Interrupt 12"). Returns the address folded to 48 bits.
   */
  linear64(this: Cpu, seg: number, off: number, size: number): number {
    let lin = off;
    if (seg >= 4) {
      const s = this.state;
      lin += (s.segBaseHigh[seg] | 0) * TWO32 + s.segBase[seg];
    }
    if (lin < -TWO47 || lin + size - 1 >= TWO47) this.raise(seg === 2 ? C.SS : C.GP, 0, true);
    return lin < 0 ? lin + TWO48 : lin;
  }

  /** PFERR access bits of a data access at the current privilege. */
  dataAccess(this: Cpu, write: boolean): number {
    return (this.state.cpl === 3 ? PFERR.USER : 0) | (write ? PFERR.WRITE : 0);
  }

  /** Reads `size` (1, 2, 4) bytes at linear `lin`; `access` carries USER/FETCH. Unsigned result. */
  linRead(this: Cpu, lin: number, size: number, access: number): number {
    if (this.acEnabled && access === PFERR.USER && lin & (size - 1)) this.raise(C.AC, 0, true);
    if (this.dbgData !== 0 && !(access & PFERR.FETCH)) this.checkDataBreakpoints(lin, size, false);
    if (this.linearOps !== null) return this.linearOps.read(lin, size);
    const off = lin & 0xfff;
    if (off + size > 4096) {
      // Split across pages: both translations must succeed before anything is used.
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.linRead(this.linNext(lin, i), 1, access) << (8 * i);
      return v >>> 0;
    }
    const pa = this.translate(lin, access);
    const view = this.tlbView[(lin >>> 12) & C.TLB_MASK];
    if (view !== null) return viewLoad(view, off, size);
    this.irqCheck = true;
    if (size === 1) return this.memory.read8(pa);
    if (size === 2) return this.memory.read16(pa);
    return this.memory.read32(pa) >>> 0;
  }

  /** Writes `size` bytes at linear `lin` with `access` (USER bit; WRITE is implied). */
  linWrite(this: Cpu, lin: number, size: number, value: number, access: number): void {
    if (this.acEnabled && access === PFERR.USER && lin & (size - 1)) this.raise(C.AC, 0, true);
    if (this.dbgData !== 0) this.checkDataBreakpoints(lin, size, true);
    if (this.linearOps !== null) {
      this.linearOps.write(lin, size, value);
      return;
    }
    const off = lin & 0xfff;
    const acc = access | PFERR.WRITE;
    if (off + size > 4096) {
      // Probe every page first so a #PF on the second page leaves memory untouched.
      for (let i = 0; i < size; i++) this.translate(this.linNext(lin, i), acc);
      for (let i = 0; i < size; i++)
        this.linWrite(this.linNext(lin, i), 1, (value >>> (8 * i)) & 0xff, access);
      return;
    }
    const pa = this.translate(lin, acc);
    const view = this.tlbView[(lin >>> 12) & C.TLB_MASK];
    if (view !== null) {
      viewStore(view, off, size, value);
      return;
    }
    // MMIO: a device (an APIC EOI, a PIC) may raise or drop an interrupt: look again at the boundary.
    this.irqCheck = true;
    if (size === 1) this.memory.write8(pa, value & 0xff);
    else if (size === 2) this.memory.write16(pa, value & 0xffff);
    else this.memory.write32(pa, value >>> 0);
  }

  /** A system write (descriptor tables, TSS, interrupt frames) at privilege `cpl`. */
  linWriteSys(this: Cpu, lin: number, size: number, value: number, cpl: number): void {
    this.linWrite(lin, size, value, cpl === 3 ? PFERR.USER : 0);
  }

  /** Checks that a write of `size` bytes at `lin` would succeed (fills the TLB for write). */
  probeWrite(this: Cpu, lin: number, size: number): void {
    if (this.linearOps !== null) return;
    const acc = this.dataAccess(true);
    this.translate(lin, acc);
    // A write running into the next page faults there with CR2 = that page's first byte (the
    // lowest faulting address, as the byte-by-byte linWrite reports), not the access's last byte.
    if ((lin & 0xfff) + size > 4096) this.translate(this.linNext(lin, 4096 - (lin & 0xfff)), acc);
  }

  /**
   * #AC(0) for a misaligned `size`-byte data access at CPL 3 with CR0.AM and RFLAGS.AC set (SDM
   * Vol. 3 6.15, Interrupt 17: 8-byte operands on 8-byte boundaries). The dword accessors check
   * their own size; operands of 8 or 16 bytes read as dwords call this first.
   */
  alignCheck(this: Cpu, lin: number, size: number): void {
    if (this.acEnabled && this.state.cpl === 3 && lin & (size - 1)) this.raise(C.AC, 0, true);
  }

  /** Recomputes `acEnabled` (after CR0 or RFLAGS.AC changed). */
  updateAc(this: Cpu): void {
    this.acEnabled = (this.state.cr[0] & Cr0.AM) !== 0 && (this.state.rflags[0] & Flag.AC) !== 0;
  }

  /** Translates linear → physical for `access` (PFERR bits), through the TLB (tlb.ts). */
  translate(this: Cpu, lin: number, access: number): number {
    return tlbTranslate(this, lin, access);
  }
}
