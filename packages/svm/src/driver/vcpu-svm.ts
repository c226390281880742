/** The driver's per-vCPU state (`struct vcpu_svm`): the VMCB and its permission maps. */
import type { SoftVcpu } from '@kvm/core';

export class VcpuSvm {
  /** hpfn of the VMCB page; -1 once freed. */
  vmcbPage = -1;
  /** First hpfn of the 3-page I/O permission map and of the 2-page MSR permission map. */
  iopmPage = -1;
  msrpmPage = -1;
  /** The guest's VM_CR (`svm->nested.vm_cr_msr`): no nested SVM here, but the MSR is kept. */
  vmCr = 0;
  /** The guest's TSC_AUX (not in the VMCB: a user-return MSR, switched around VMRUN by svm.c). */
  tscAux = 0;
  /**
   * NMI masking, which the VMCB does not hold (no vNMI): KVM's `nmi_masked` (HF_NMI_MASK), set
   * by an injected NMI, and `awaiting_iret_completion` (HF_IRET_MASK) from the IRET intercept
   * until RIP has left the IRET at `nmiIretRip` (low, high).
   */
  nmiMasked = false;
  awaitingIretCompletion = false;
  nmiIretRip = 0;
  nmiIretRipHigh = 0;
  /**
   * A #BP or #OF that KVM itself put in EVENTINJ (KVM_GUESTDBG_INJECT_BP: RIP is already past the
   * INT3): if an exit cuts its delivery short it goes in again, there being no instruction to run
   * again (KVM's `soft_int_injected`); a guest's own INT3/INTO is re-executed instead.
   */
  injectedSoftException = false;
  /** `nmi_singlestep`: the next entry runs one instruction (see `SvmDriver.enableNmiWindow`). */
  nmiSingleStep = false;
  /** Exits by exit code (0–0x8d; the rest counted under 0x8e, NPF (400h) under 0x8f). */
  readonly exitCounts = new Float64Array(0x90);
}

/** `to_svm(vcpu)` */
export function toSvm(vcpu: SoftVcpu): VcpuSvm {
  return vcpu.arch as VcpuSvm;
}
