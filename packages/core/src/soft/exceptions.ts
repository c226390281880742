/**
 * `kvm_multiple_exception` (x86.c): an exception raised for the guest while another is still
 * waiting to be delivered — typically the exception whose delivery faulted, queued again by the
 * backend after the exit (IDT-vectoring information / EXITINTINFO). The two combine by the
 * double-fault rules (SDM Vol. 3 6.15, Table 6-5): contributory on contributory, or #PF then
 * contributory or #PF, is #DF(0); anything on a #DF is a triple fault (KVM_REQ_TRIPLE_FAULT →
 * KVM_EXIT_SHUTDOWN); otherwise the new one replaces the old, which re-executing the instruction
 * raises again. Without this a #PF whose delivery keeps faulting (an unmapped IDT) is reflected
 * to the guest for ever and KVM_RUN never returns.
 */
import { KvmRequest, type SoftVcpu } from './vcpu.js';

const DF_VECTOR = 8;
const PF_VECTOR = 14;
/** #DE, #TS, #NP, #SS, #GP: the contributory exceptions. */
const CONTRIBUTORY = (1 << 0) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13);

const contributory = (v: number): boolean => v < 32 && ((CONTRIBUTORY >>> v) & 1) === 1;

/** Queues exception `vector` for the next entry, combined with one already pending. */
export function kvmQueueException(
  vcpu: SoftVcpu,
  vector: number,
  errorCode: number,
  hasErrorCode: boolean,
): void {
  const ops = vcpu.ops;
  const prev = ops.pendingException?.(vcpu) ?? -1;
  if (prev === DF_VECTOR) {
    vcpu.requests |= KvmRequest.TRIPLE_FAULT;
    return;
  }
  if (
    prev >= 0 &&
    ((contributory(prev) && contributory(vector)) ||
      (prev === PF_VECTOR && (contributory(vector) || vector === PF_VECTOR)))
  ) {
    ops.injectException(vcpu, DF_VECTOR, 0, true);
    return;
  }
  ops.injectException(vcpu, vector, errorCode, hasErrorCode);
}
