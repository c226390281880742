/**
 * The guest's DR0–DR3, kept per vCPU (KVM's `vcpu->arch.db[]`) and swapped into the silicon's
 * processor around each VM entry, as `vcpu_enter_guest` loads them and `kvm_x86_ops.sync_dirty_
 * debug_regs` saves them: neither the VMCS (SDM Vol. 3C 25.4.1 has DR7 only) nor the VMCB (APM
 * Vol. 2 15.5.1: DR6, DR7) holds them, and the processor is shared by every vCPU that runs on it.
 * Each is a 64-bit linear address on a 64-bit processor: both halves are carried.
 */
import type { CpuState } from '@kvm/x86emu';

/** DR6's bits that read as 1 (DR6_ACTIVE_LOW: 31:16, 11:4; SDM Vol. 3B 18.2.3). */
const DR6_ACTIVE_LOW = 0xffff0ff0;
/** DR7 bit 10 reads as 1 (DR7_FIXED_1; SDM Vol. 3B 18.2.4). */
const DR7_FIXED_1 = 0x400;

export class GuestDebugRegs {
  /** DR0–DR3, low halves. */
  readonly db = new Uint32Array(4);
  /** DR0–DR3, high halves. */
  readonly dbHigh = new Uint32Array(4);
  /**
   * True while the silicon holds the debugger's DR0–DR3 and DR7 (KVM_GUESTDBG_USE_HW_BP) in place
   * of the guest's: the driver then intercepts MOV DR, and the guest's DR6/DR7 live here
   * (`vcpu->arch.dr6`, `vcpu->arch.dr7`), as its DR0–DR3 always do.
   */
  debuggerOwns = false;
  /** The guest's DR6 while `debuggerOwns`. */
  dr6 = DR6_ACTIVE_LOW;
  /** The guest's DR7 while `debuggerOwns`. */
  dr7 = DR7_FIXED_1;

  /**
   * The debugger's DR0–DR3 (KVM_SET_GUEST_DEBUG's debugreg[0..3], `vcpu->arch.eff_db`) into
   * the processor in place of the guest's, and DR6 as a #DB finds it (DR6_ACTIVE_LOW, as
   * svm_vcpu_run sets it while the debugger owns the registers), so that the DR6 a #DB exit
   * reports holds only this hit's bits.
   */
  loadDebugger(s: CpuState, lo: Uint32Array, hi: Uint32Array): void {
    const d = s.dr;
    d[0] = lo[0];
    d[1] = lo[1];
    d[2] = lo[2];
    d[3] = lo[3];
    d[6] = DR6_ACTIVE_LOW;
    s.drHigh[0] = hi[0];
    s.drHigh[1] = hi[1];
    s.drHigh[2] = hi[2];
    s.drHigh[3] = hi[3];
  }

  /**
   * An intercepted MOV from DRn (`kvm_get_dr`): the guest's own value, low and high halves.
   * DR4/DR5 are DR6/DR7 here (CR4.DE = 1 made them #UD before the exit).
   */
  get(n: number): [number, number] {
    if (n < 4) return [this.db[n], this.dbHigh[n]];
    return [n === 4 || n === 6 ? this.dr6 : this.dr7, 0];
  }

  /**
   * An intercepted MOV to DRn (`kvm_set_dr`): false when bits 63:32 of DR6/DR7 are set, the
   * #GP(0) of SDM Vol. 2 MOV—Move to/from Debug Registers. The fixed bits read as the CPU has them.
   */
  set(n: number, lo: number, hi: number): boolean {
    if (n < 4) {
      this.db[n] = lo;
      this.dbHigh[n] = hi;
      return true;
    }
    if (hi !== 0) return false;
    if (n === 4 || n === 6) this.dr6 = ((lo & 0xe00f) | DR6_ACTIVE_LOW) >>> 0;
    else this.dr7 = ((lo & 0xffff2bff) | DR7_FIXED_1) >>> 0;
    return true;
  }

  /** Into the processor before entering the guest. */
  loadInto(s: CpuState): void {
    const d = s.dr;
    const db = this.db;
    d[0] = db[0];
    d[1] = db[1];
    d[2] = db[2];
    d[3] = db[3];
    // Element by element: TypedArray.set is a runtime call, twice an exit.
    const h = s.drHigh;
    const dh = this.dbHigh;
    h[0] = dh[0];
    h[1] = dh[1];
    h[2] = dh[2];
    h[3] = dh[3];
  }

  /** Out of the processor after a VM exit. */
  saveFrom(s: CpuState): void {
    const d = s.dr;
    const db = this.db;
    db[0] = d[0];
    db[1] = d[1];
    db[2] = d[2];
    db[3] = d[3];
    const h = s.drHigh;
    const dh = this.dbHigh;
    dh[0] = h[0];
    dh[1] = h[1];
    dh[2] = h[2];
    dh[3] = h[3];
  }
}
