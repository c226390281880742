/**
 * Mode and paging changes: what the CPU derives from CR0, CR4, EFER, RFLAGS.VM and CS/SS
 * (protected, virtual-8086, IA-32e and 64-bit mode, default sizes: SDM Vol. 3 2.2, 5.2.1), the
 * paging format and root (Vol. 3 4.1: none, 32-bit, PAE with its PDPTE registers, 4-level; or a
 * shadow-paging override), the TLB flushes and INVLPG (tlb.ts does the work), and `stateChanged`,
 * which recomputes all of it after state was written from outside.
 */
import type { PagingOverride } from '../api/cpu-options.js';
import { NestedFormat } from '../paging/nested.js';
import { WalkCtl } from '../paging/walker.js';
import { Cr0, Cr4, Efer, Flag, SegAttr } from '../state.js';
import type { Cpu } from './cpu.js';
import { LF_NONE } from './lazy-flags.js';
import { tlbFlush, tlbFlushNonGlobal, tlbInvlpg } from './tlb.js';
import { loadPdptesEpt } from './tlb-nested.js';

const TWO32 = 4294967296;

/** The little-endian dword at `o` of a page's host view. */
function le32(v: Uint8Array, o: number): number {
  return (v[o] | (v[o + 1] << 8) | (v[o + 2] << 16) | (v[o + 3] << 24)) >>> 0;
}

export class CpuMode {
  /** For emulate(): recompute mode and segment checks only (its memory path has no TLB). */
  syncModeOnly(this: Cpu): void {
    this.lfOp = LF_NONE;
    this.updateMode();
    for (let s = 0; s < 8; s++) this.updateSegFlags(s);
  }

  /**
   * Recomputes everything derived from `state` (mode, segment checks, paging) and flushes the TLB.
   * `flush` false keeps the TLB: a VM entry whose translation regime did not change (VPID/ASID-tagged
   * TLBs, SDM Vol. 3 28.3.3.3, APM 15.16), the hypervisor flushing explicitly when it must.
   */
  stateChanged(this: Cpu, flush = true): void {
    this.lfOp = LF_NONE;
    this.interceptMask = this.intercepts ? this.intercepts.mask : 0;
    this.updateMode();
    for (let s = 0; s < 8; s++) this.updateSegFlags(s);
    this.updatePaging(flush);
    this.updateDebug();
    this.updateAc();
    // State set from outside (KVM_SET_SREGS, VM entry) with PAE paging: load the PDPTEs from CR3.
    if (this.pagingMode === 2 && this.override === null) this.loadPdptes(this.state.cr[3], false);
    this.irqCheck = true;
  }

  /**
   * `stateChanged` for a caller that wrote no segment register, CR0/CR3/CR4, EFER.LMA, RFLAGS.VM or
   * CPL since this CPU last ran, only registers whose effects are recomputed here (RIP, RSP, the
   * other RFLAGS bits, EFER.NXE, DR7, the paging override): a VM entry that reloads the guest's hot
   * state while the processor still holds the rest (SDM Vol. 3C 25.11.1). The mode, the segment
   * checks and the code page's fetch rights stand; `flush` as in `stateChanged`.
   */
  hotStateChanged(this: Cpu, flush: boolean): void {
    this.lfOp = LF_NONE;
    this.interceptMask = this.intercepts ? this.intercepts.mask : 0;
    this.updatePaging(flush);
    this.updateDebug();
    this.updateAc();
    if (this.pagingMode === 2 && this.override === null) this.loadPdptes(this.state.cr[3], false);
    this.irqCheck = true;
  }

  /** Sets or clears the shadow-paging translation override (see `PagingOverride`). Flushes the TLB unless `flush` is false. */
  setPagingOverride(this: Cpu, o: PagingOverride | null, flush = true): void {
    this.override = o;
    this.updatePaging(flush);
  }

  /** Recomputes protected / v86 / default sizes from CR0, RFLAGS, CS and SS. */
  updateMode(this: Cpu): void {
    const s = this.state;
    const wasProt = this.prot;
    const wasV86 = this.v86;
    const wasLong64 = this.long64;
    this.prot = (s.cr[0] & Cr0.PE) !== 0;
    this.v86 = this.prot && (s.rflags[0] & Flag.VM) !== 0;
    if (!this.prot) s.cpl = 0;
    else if (this.v86) s.cpl = 3;
    this.lma = (s.efer[0] & Efer.LMA) !== 0;
    this.long64 = this.lma && this.prot && !this.v86 && (s.segAttr[1] & SegAttr.L) !== 0;
    this.def32 = !this.v86 && !this.long64 && (s.segAttr[1] & SegAttr.DB) !== 0;
    this.ss32 = !this.v86 && (s.segAttr[2] & SegAttr.DB) !== 0;
    this.modeKey = (this.def32 ? 1 : 0) | (this.long64 ? 2 : 0);
    if (wasProt !== this.prot || wasV86 !== this.v86 || wasLong64 !== this.long64) {
      for (let r = 0; r < 8; r++) this.updateSegFlags(r);
    }
    // The code page's fetch rights were checked at the old CPL/mode: look them up again.
    this.codeLpn = -1;
  }

  /** Recomputes the paging format; `flush`: drop every TLB entry (global ones too). */
  updatePaging(this: Cpu, flush: boolean): void {
    const s = this.state;
    const o = this.override;
    if (o !== null) {
      this.pagingMode = o.mode;
      this.pagingRoot = o.root;
      this.walkCtl =
        (o.wp ? WalkCtl.WP : 0) |
        (o.pse ? WalkCtl.PSE : 0) |
        (o.nxe ? WalkCtl.NXE : 0) |
        (o.pge ? WalkCtl.PGE : 0);
      if (o.mode === 2) this.loadPdptes(o.root, false);
    } else {
      const pg = (s.cr[0] & Cr0.PG) !== 0 && (s.cr[0] & Cr0.PE) !== 0;
      // IA-32e mode walks 4-level tables from CR3, whose address may reach MAXPHYADDR (SDM Vol. 3 4.5).
      this.pagingMode = pg ? (s.efer[0] & Efer.LMA ? 3 : s.cr[4] & Cr4.PAE ? 2 : 1) : 0;
      this.pagingRoot = this.pagingMode === 3 ? (s.crHigh[3] & 0xf) * TWO32 + s.cr[3] : s.cr[3];
      this.walkCtl =
        (s.cr[0] & Cr0.WP ? WalkCtl.WP : 0) |
        (s.cr[4] & Cr4.PSE ? WalkCtl.PSE : 0) |
        (s.efer[0] & Efer.NXE ? WalkCtl.NXE : 0) |
        (s.cr[4] & Cr4.PGE ? WalkCtl.PGE : 0) |
        // 1 GiB pages in IA-32e mode: CPUID.80000001H:EDX.Page1GB says so (defaults.ts).
        (this.pagingMode === 3 ? WalkCtl.PAGE1G : 0);
    }
    if (flush) this.flushTlb();
  }

  /**
   * Loads the four PAE PDPTE registers from `root` (SDM Vol. 3 4.4.1). With `check`, reserved
   * bits in a present entry make the load fail (the caller raises #GP(0)); returns false then.
   */
  loadPdptes(this: Cpu, root: number, check: boolean): boolean {
    // Under nested paging CR3 is guest-physical. NPT: the walk reads the PDPTEs through the nested
    // tables each time (tlb-nested.ts), so there is nothing to load here. EPT: an instruction's
    // load reads them through EPT (`loadPdptesEpt`); at VM entry (no check) the silicon loads them
    // from the VMCS (SDM Vol. 3C 27.3.2.4).
    if (this.nested !== null)
      return check && this.nested.format === NestedFormat.Ept ? loadPdptesEpt(this, root, check) : true;
    const base = (root & 0xffffffe0) >>> 0;
    // The four PDPTEs are 32 bytes of one page (the root is 32-byte aligned): read through the
    // page's host view when it has one. A VM entry of a PAE guest or shadow loads them every time
    // (SDM Vol. 3C 27.3.2.4), and eight read32 lookups were a few per cent of an in-kernel exit.
    const view = this.memory.pageView(Math.floor(base / 4096));
    const o = base & 0xfe0;
    for (let i = 0; i < 4; i++) {
      const lo = view !== null ? le32(view, o + i * 8) : this.memory.read32(base + i * 8);
      const hi = view !== null ? le32(view, o + i * 8 + 4) : this.memory.read32(base + i * 8 + 4);
      if (check && lo & 1 && (lo & 0x1e6 || hi & 0xfffffff0)) return false;
      this.pdptes[i] = hi * TWO32 + lo;
    }
    return true;
  }

  /** Drops every TLB entry. */
  flushTlb(this: Cpu): void {
    tlbFlush(this);
  }

  /** Drops non-global TLB entries (a MOV to CR3 with CR4.PGE = 1: SDM Vol. 3 4.10.4.1). */
  flushTlbNonGlobal(this: Cpu): void {
    tlbFlushNonGlobal(this);
  }

  /** INVLPG: drops the translation of linear `gva` (any size page holding it). */
  invlpg(this: Cpu, gva: number): void {
    tlbInvlpg(this, gva);
  }
}
