/**
 * Nested paging on the SVM silicon (APM Vol. 2 15.25): NP_ENABLE bit 0 in the VMCB runs the
 * guest on its own CR0/CR3/CR4/EFER with every guest-physical address translated through the
 * nested tables at N_CR3 (x86emu's `NestedPaging`), and a nested page fault is #VMEXIT(NPF).
 */
import type { Cpu } from '@kvm/x86emu';
import type { Vmcb } from './vmcb.js';
import { VMCB } from './vmcb-layout.js';

/** NP_ENABLE bit 0 (APM Table B-1, offset 90h). */
export const NP_ENABLE = 1;

/**
 * EXITINFO1's high half on #VMEXIT(NPF) (15.25.6): bit 32 set when the fault was on the final
 * guest-physical address, bit 33 when it was on an access of the guest's page-table walk.
 */
export const NPF_INFO_HI_FINAL = 1 << 0;
export const NPF_INFO_HI_TABLE = 1 << 1;

/**
 * When VMRUN may keep the TLB under nested paging: its entries are combined guest-linear →
 * host-physical translations, tagged by ASID (15.16, 15.25.9), so they stay valid across an exit
 * and entry with the same ASID, N_CR3 and guest paging state (CR0, CR3, CR4, EFER) when no host
 * code filled the TLB meanwhile; the hypervisor flushes (TLB_CONTROL or its own flush) when it
 * changes the nested tables. Allocation-free.
 */
export class NptTlbRegime {
  private root = -1;
  private cr0 = -1;
  private cr3 = -1;
  private cr4 = -1;
  private efer = -1;
  private asid = -1;
  private missesAtExit = -1;

  /** At VMRUN with NP_ENABLE: true when the TLB may stay; records the regime either way. */
  keep(v: Vmcb, cpu: Cpu): boolean {
    const s = cpu.state;
    const root = v.u32(VMCB.N_CR3) + v.hi(VMCB.N_CR3) * 4294967296;
    const cr3 = s.cr[3] + s.crHigh[3] * 4294967296;
    const asid = v.u32(VMCB.GUEST_ASID);
    const same =
      this.root === root &&
      this.cr0 === s.cr[0] &&
      this.cr3 === cr3 &&
      this.cr4 === s.cr[4] &&
      this.efer === s.efer[0] &&
      this.asid === asid &&
      this.missesAtExit === cpu.stats.tlbMisses;
    this.root = root;
    this.cr0 = s.cr[0];
    this.cr3 = cr3;
    this.cr4 = s.cr[4];
    this.efer = s.efer[0];
    this.asid = asid;
    return same;
  }

  /** At #VMEXIT: the guest's TLB fills end here (the guest's own CR3 writes are in `keep`'s compare). */
  exited(cpu: Cpu): void {
    const s = cpu.state;
    this.missesAtExit = cpu.stats.tlbMisses;
    // A guest CR3/CR0/CR4 write that did not exit flushed the TLB itself: the state it ran on last
    // is what the next entry compares against.
    this.cr0 = s.cr[0];
    this.cr3 = s.cr[3] + s.crHigh[3] * 4294967296;
    this.cr4 = s.cr[4];
    this.efer = s.efer[0];
  }

  /** Forget the regime: the next entry flushes. */
  reset(): void {
    this.root = -1;
    this.missesAtExit = -1;
  }
}
