/**
 * MOV to CR0/CR2/CR3/CR4/CR8 (SDM Vol. 2 "MOV—Move to/from Control Registers", Vol. 3 2.5) with
 * the IA-32e activation sequence of SDM Vol. 3 9.8.5 (KVM's kvm_set_cr0/kvm_set_cr4/kvm_set_cr3):
 * CR0.PG set with EFER.LME = 1 activates IA-32e mode (EFER.LMA = 1) and needs CR4.PAE = 1 and
 * CS.L = 0; CR0.PG may be cleared only outside 64-bit mode (compatibility mode), which
 * deactivates it; CR4.PAE cannot be cleared while it is active.
 */

import { WalkCtl } from '../paging/walker.js';
import { Cr0, Cr4, Efer, SegAttr } from '../state.js';
import type { Cpu } from './cpu.js';

const CR0_DEFINED =
  Cr0.PE | Cr0.MP | Cr0.EM | Cr0.TS | Cr0.ET | Cr0.NE | Cr0.WP | Cr0.AM | Cr0.NW | Cr0.CD | Cr0.PG;

const CR4_VALID =
  Cr4.VME |
  Cr4.PVI |
  Cr4.TSD |
  Cr4.DE |
  Cr4.PSE |
  Cr4.PAE |
  Cr4.MCE |
  Cr4.PGE |
  Cr4.PCE |
  Cr4.OSFXSR |
  Cr4.OSXMMEXCPT |
  Cr4.OSXSAVE;

/** CR3 bits 63:32 that may be set: physical address bits up to MAXPHYADDR (36). */
const CR3_HIGH_VALID = 0xf;

export function writeCr(cpu: Cpu, n: number, value: number, hi: number): void {
  const s = cpu.state;
  value >>>= 0;
  if (n === 0) {
    // Bits 63:32 of CR0 are reserved: #GP(0) when set (SDM Vol. 3 2.5).
    if (hi !== 0) cpu.gp0();
    // Reserved CR0 bits stay clear whatever is written, and ET is hardwired to 1 (SDM Vol. 2
    // MOV—Move to/from Control Registers; Vol. 3 2.5).
    value = ((value & CR0_DEFINED) | Cr0.ET) >>> 0;
    if (value & Cr0.PG && !(value & Cr0.PE)) cpu.gp0();
    if (value & Cr0.NW && !(value & Cr0.CD)) cpu.gp0();
    const lme = (s.efer[0] & Efer.LME) !== 0;
    if (value & Cr0.PG && !(s.cr[0] & Cr0.PG) && lme) {
      // Activating IA-32e mode (SDM Vol. 3 9.8.5 steps 3–4): PAE on, and not from a code segment
      // with L = 1.
      if (!(s.cr[4] & Cr4.PAE)) cpu.gp0();
      if (s.segAttr[1] & SegAttr.L) cpu.gp0();
    }
    // Paging can be turned off only from compatibility mode (SDM Vol. 3 9.8.5.4).
    if (!(value & Cr0.PG) && cpu.long64) cpu.gp0();
    if (cpu.intercepts?.crWrite) value = cpu.intercepts.crWrite(0, value) >>> 0;
    // A change of PG, CD or NW with PAE paging in use afterwards loads and checks the PDPTEs (SDM
    // 4.4.1); 4-level paging has none.
    if (
      value & Cr0.PG &&
      s.cr[4] & Cr4.PAE &&
      !lme &&
      (s.cr[0] ^ value) & (Cr0.PG | Cr0.CD | Cr0.NW) &&
      !cpu.override
    ) {
      if (!cpu.loadPdptes(s.cr[3], true)) cpu.gp0();
    }
    const changed = s.cr[0] ^ value;
    s.cr[0] = value;
    if (changed & Cr0.PG) {
      // EFER.LMA follows CR0.PG while EFER.LME = 1 (SDM Vol. 3 9.8.5 step 4, 9.8.5.4 step 3).
      if (value & Cr0.PG && lme) s.efer[0] |= Efer.LMA;
      else s.efer[0] &= ~Efer.LMA;
    }
    cpu.updateAc();
    if (changed & (Cr0.PE | Cr0.PG | Cr0.WP)) {
      cpu.updateMode();
      for (let r = 0; r < 8; r++) cpu.updateSegFlags(r);
      cpu.updatePaging(true);
    }
  } else if (n === 3) {
    const lma = (s.efer[0] & Efer.LMA) !== 0;
    // In IA-32e mode CR3 holds a 64-bit address; bits above MAXPHYADDR are reserved (#GP(0)).
    if (hi & ~CR3_HIGH_VALID) cpu.gp0();
    if (cpu.intercepts?.crWrite) value = cpu.intercepts.crWrite(3, value) >>> 0;
    if (cpu.pagingMode === 2 && !cpu.override) {
      if (!cpu.loadPdptes(value, true)) cpu.gp0();
    }
    s.cr[3] = value;
    s.crHigh[3] = lma ? hi : 0;
    if (!cpu.override) cpu.updatePaging(false);
    // A CR3 load flushes non-global translations (SDM Vol. 3 4.10.4.1); under a paging override
    // too, since the guest expects it whatever tables the silicon walks.
    if (cpu.walkCtl & WalkCtl.PGE) cpu.flushTlbNonGlobal();
    else cpu.flushTlb();
  } else if (n === 4) {
    if (value & ~CR4_VALID || hi !== 0) cpu.gp0();
    // IA-32e mode needs PAE: clearing it there is #GP(0) (SDM Vol. 3 2.5, KVM kvm_is_valid_cr4 users).
    if (s.efer[0] & Efer.LMA && !(value & Cr4.PAE)) cpu.gp0();
    if (cpu.intercepts?.crWrite) value = cpu.intercepts.crWrite(4, value) >>> 0;
    // So does a change of PAE, PGE or PSE (SDM 4.4.1).
    if (
      s.cr[0] & Cr0.PG &&
      value & Cr4.PAE &&
      !(s.efer[0] & Efer.LMA) &&
      (value ^ s.cr[4]) & (Cr4.PAE | Cr4.PGE | Cr4.PSE) &&
      !cpu.override
    ) {
      if (!cpu.loadPdptes(s.cr[3], true)) cpu.gp0();
    }
    s.cr[4] = value;
    cpu.updatePaging(true);
    cpu.updateDebug();
  } else if (n === 2) {
    s.cr[2] = value;
    s.crHigh[2] = hi;
  } else if (n === 8) {
    // CR8 is the TPR: bits 3:0; the rest is reserved (SDM Vol. 3 10.8.6.1).
    if (value & ~0xf || hi !== 0) cpu.gp0();
    s.cr[8] = value;
  }
}

/**
 * WRMSR IA32_EFER (SDM Vol. 3 2.2.1; KVM kvm_set_efer): SCE, LME and NXE are writable, LMA is
 * read-only (the written value is ignored, as KVM does), every other bit is reserved; LME cannot
 * change while paging is on. Returns false for #GP(0).
 */
export function writeEfer(cpu: Cpu, lo: number, hi: number): boolean {
  const s = cpu.state;
  if (hi !== 0 || lo & ~(Efer.SCE | Efer.LME | Efer.LMA | Efer.NXE)) return false;
  if (s.cr[0] & Cr0.PG && (lo ^ s.efer[0]) & Efer.LME) return false;
  s.efer[0] = (lo & ~Efer.LMA) | (s.efer[0] & Efer.LMA);
  cpu.updatePaging(true);
  return true;
}

/** `Cpu`'s methods over the control registers (installed by cpu.ts). */
export class CpuControlRegs {
  /**
   * Writes CRn after the checks of MOV to CR (and their consequences: mode, TLB, PDPTEs, IA-32e
   * activation). `hi`: bits 63:32 of the source (64-bit mode). See control-regs.ts.
   */
  writeCr(this: Cpu, n: number, value: number, hi = 0): void {
    writeCr(this, n, value, hi);
  }

  /** Reads CRn as the guest sees it (through the read-shadow hook for CR0/CR4). */
  readCr(this: Cpu, n: number): number {
    const v = this.state.cr[n];
    if ((n === 0 || n === 4) && this.intercepts?.crRead) return this.intercepts.crRead(n, v) >>> 0;
    return v;
  }
}
