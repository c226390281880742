/**
 * The guest's DR0–DR3, kept per vCPU (KVM's `vcpu->arch.db[]`) and swapped into the silicon's
 * processor around each VM entry, as `vcpu_enter_guest` loads them and `kvm_x86_ops.sync_dirty_
 * debug_regs` saves them: neither the VMCS (SDM Vol. 3C 25.4.1 has DR7 only) nor the VMCB (APM
 * Vol. 2 15.5.1: DR6, DR7) holds them, and the processor is shared by every vCPU that runs on it.
 * Each is a 64-bit linear address on a 64-bit processor: both halves are carried.
 */
import type { CpuState } from '@kvm/x86emu';

export class GuestDebugRegs {
  /** DR0–DR3, low halves. */
  readonly db = new Uint32Array(4);
  /** DR0–DR3, high halves. */
  readonly dbHigh = new Uint32Array(4);

  /** Into the processor before entering the guest. */
  loadInto(s: CpuState): void {
    const d = s.dr;
    const db = this.db;
    d[0] = db[0];
    d[1] = db[1];
    d[2] = db[2];
    d[3] = db[3];
    s.drHigh.set(this.dbHigh);
  }

  /** Out of the processor after a VM exit. */
  saveFrom(s: CpuState): void {
    const d = s.dr;
    const db = this.db;
    db[0] = d[0];
    db[1] = d[1];
    db[2] = d[2];
    db[3] = d[3];
    this.dbHigh.set(s.drHigh);
  }
}
