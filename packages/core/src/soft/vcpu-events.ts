/**
 * KVM_GET/SET_VCPU_EVENTS for the software engine (`kvm_vcpu_ioctl_x86_get_vcpu_events` /
 * `_set_vcpu_events`): the event waiting for injection, the interrupt shadow, the NMI pending
 * and masked state, the SIPI vector. No SMM, no exception payloads and no triple-fault event
 * here: asking for them is EINVAL, as KVM answers without those capabilities.
 */
import { Errno, KvmError } from '../api/errors.js';
import type { KvmVcpuEvents } from '../api/structs.js';
import type { SoftVcpu } from './vcpu.js';

/** `KVM_VCPUEVENT_VALID_*` */
export const KVM_VCPUEVENT_VALID = {
  NMI_PENDING: 0x1,
  SIPI_VECTOR: 0x2,
  SHADOW: 0x4,
  SMM: 0x8,
  PAYLOAD: 0x10,
  TRIPLE_FAULT: 0x20,
} as const;

const VALID_ALL = 0x3f;
const NMI_VECTOR = 2;

/**
 * The events now. An exception waiting for injection is reported without its error code (the
 * backends do not hand it back; its vector is what `kvm_multiple_exception` needs).
 */
export function kvmGetVcpuEvents(vcpu: SoftVcpu): KvmVcpuEvents {
  const ops = vcpu.ops;
  const ex = ops.pendingException?.(vcpu) ?? -1;
  return {
    exceptionInjected: ex >= 0 ? 1 : 0,
    exceptionNr: Math.max(ex, 0),
    exceptionHasErrorCode: 0,
    exceptionPending: 0,
    exceptionErrorCode: 0,
    interruptInjected: vcpu.interruptQueued >= 0 ? 1 : 0,
    interruptNr: Math.max(vcpu.interruptQueued, 0),
    interruptSoft: 0,
    interruptShadow: ops.getInterruptShadow?.(vcpu) ?? 0,
    nmiInjected: 0,
    nmiPending: vcpu.nmiQueued ? 1 : 0,
    nmiMasked: ops.getNmiMask?.(vcpu) ? 1 : 0,
    // "never valid when reporting to user space"
    sipiVector: 0,
    flags: KVM_VCPUEVENT_VALID.NMI_PENDING | KVM_VCPUEVENT_VALID.SHADOW | KVM_VCPUEVENT_VALID.SMM,
    smiSmm: 0,
    smiPending: 0,
    smiSmmInsideNmi: 0,
    smiLatchedInit: 0,
    tripleFaultPending: 0,
    exceptionHasPayload: 0,
    exceptionPayload: 0n,
  };
}

/** Loads events (the checks first, in KVM's order: nothing is changed by a refused call). */
export function kvmSetVcpuEvents(vcpu: SoftVcpu, e: KvmVcpuEvents): void {
  const name = 'KVM_SET_VCPU_EVENTS';
  if (e.flags & ~VALID_ALL) throw new KvmError(name, Errno.EINVAL, `unknown flags 0x${e.flags.toString(16)}`);
  // KVM_CAP_EXCEPTION_PAYLOAD and KVM_CAP_X86_TRIPLE_FAULT_EVENT are never enabled here.
  if (e.flags & KVM_VCPUEVENT_VALID.PAYLOAD)
    throw new KvmError(name, Errno.EINVAL, 'exception payloads are not enabled');
  const exceptionPending = 0;
  if ((e.exceptionInjected || exceptionPending) && (e.exceptionNr > 31 || e.exceptionNr === NMI_VECTOR))
    throw new KvmError(name, Errno.EINVAL, `exception vector ${e.exceptionNr}`);
  // No SMM on this engine (a kernel without CONFIG_KVM_SMM refuses entering it the same way).
  if (e.flags & KVM_VCPUEVENT_VALID.SMM && (e.smiSmm || e.smiPending))
    throw new KvmError(name, Errno.EINVAL, 'no SMM');
  if (e.flags & KVM_VCPUEVENT_VALID.TRIPLE_FAULT)
    throw new KvmError(name, Errno.EINVAL, 'the triple-fault event is not enabled');
  const ops = vcpu.ops;
  if (e.exceptionInjected)
    ops.injectException(vcpu, e.exceptionNr, e.exceptionErrorCode >>> 0, e.exceptionHasErrorCode !== 0);
  vcpu.interruptQueued = e.interruptInjected ? e.interruptNr & 0xff : -1;
  if (e.flags & KVM_VCPUEVENT_VALID.SHADOW) ops.setInterruptShadow?.(vcpu, e.interruptShadow);
  // An NMI in the injection field goes in at the next entry; its delivery blocks NMIs itself.
  if (e.nmiInjected && ops.injectNmi !== undefined) ops.injectNmi(vcpu);
  if (e.flags & KVM_VCPUEVENT_VALID.NMI_PENDING) vcpu.nmiQueued = e.nmiPending !== 0;
  if (!e.nmiInjected) ops.setNmiMask?.(vcpu, e.nmiMasked !== 0);
  if (e.flags & KVM_VCPUEVENT_VALID.SIPI_VECTOR && vcpu.apic !== null)
    vcpu.apic.sipiVector = e.sipiVector & 0xff;
}
