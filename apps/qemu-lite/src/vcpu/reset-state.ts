/**
 * The vCPU's power-on state, kept so that a guest reset can put it back through the ABI.
 *
 * KVM_CREATE_VCPU leaves a vCPU in the architectural RESET state (KVM's `kvm_vcpu_reset(vcpu,
 * false)`: SDM Vol. 3A 9.1.1, Table 9-1 — CS.selector 0xf000 with base 0xffff0000, RIP 0xfff0,
 * CR0 0x60000010, RDX the processor signature, FCW 0x37f, MXCSR 0x1f80, PAT, …). The machine
 * reads that state once, right after creating the vCPU, and a reset writes it back with
 * KVM_SET_REGS, KVM_SET_SREGS, KVM_SET_FPU and KVM_SET_MSRS: what QEMU's `kvm_arch_reset_vcpu`
 * and `kvm_arch_put_registers(KVM_PUT_RESET_STATE)` do with the state `x86_cpu_reset_hold`
 * computes. The vCPU fd stays open, so its `kvm_run` mapping and kick handle stay valid.
 */
import type { Kvm, KvmFpu, KvmMsrEntry, KvmRegs, KvmSregs, Vcpu } from '@kvm/core';

export interface VcpuResetState {
  readonly regs: KvmRegs;
  readonly sregs: KvmSregs;
  readonly fpu: KvmFpu;
  /** The MSRs KVM saves and restores (KVM_GET_MSR_INDEX_LIST) that the vCPU could read. */
  readonly msrs: readonly KvmMsrEntry[];
}

/**
 * Reads the state of a vCPU that has not run yet. `kvm.getMsrIndexList()` names the MSRs; one
 * the vCPU cannot read (KVM_GET_MSRS stops at it) is skipped, as QEMU skips MSRs KVM lacks.
 */
export function captureResetState(kvm: Kvm, vcpu: Vcpu): VcpuResetState {
  const indices = kvm.getMsrIndexList();
  const msrs: KvmMsrEntry[] = [];
  let next = 0;
  while (next < indices.length) {
    const read = vcpu.getMsrs(indices.slice(next));
    msrs.push(...read);
    next += read.length + 1; // KVM_GET_MSRS stopped at indices[next + read.length]: skip it
  }
  return { regs: vcpu.getRegs(), sregs: vcpu.getSregs(), fpu: vcpu.getFpu(), msrs };
}

/**
 * Puts `state` back into `vcpu` (the guest's reset). Returns the MSRs the engine refused to
 * write (KVM_SET_MSRS stops at the first it refuses; the rest are still written), for
 * `-d cpu_reset`; an engine that takes what it gave returns none.
 */
export function resetVcpu(vcpu: Vcpu, state: VcpuResetState): number[] {
  // SREGS before REGS: KVM_SET_SREGS recomputes the mode, which REGS' RIP/RFLAGS are read in.
  vcpu.setSregs(state.sregs);
  vcpu.setRegs(state.regs);
  vcpu.setFpu(state.fpu);
  const refused: number[] = [];
  let next = 0;
  while (next < state.msrs.length) {
    const written = vcpu.setMsrs(state.msrs.slice(next));
    next += written;
    if (next < state.msrs.length) refused.push(state.msrs[next++].index);
  }
  return refused;
}
