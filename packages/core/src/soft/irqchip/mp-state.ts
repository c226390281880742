/**
 * KVM_GET/SET_MP_STATE for the software engine (`kvm_arch_vcpu_ioctl_get/set_mpstate`). The
 * local APIC keeps the state as three flags (`uninitialized`, `waitForSipi`, `halted`); a vCPU
 * without an in-kernel APIC is always RUNNABLE, its HLT being userspace's business.
 */
import { KVM_MP_STATE } from '../../abi/mp-state.js';
import { Errno, KvmError } from '../../api/errors.js';
import type { SoftVcpu } from '../vcpu.js';
import { KVM_APIC_SIPI } from './lapic.js';
import { kvmApicAcceptEvents } from './vcpu-irq.js';

/** KVM_GET_MP_STATE: pending INIT/SIPI are taken first, as `kvm_apic_accept_events` there. */
export function kvmGetMpState(vcpu: SoftVcpu): number {
  const apic = vcpu.apic;
  if (apic === null) return KVM_MP_STATE.RUNNABLE;
  // Taking an INIT resets the vCPU's registers through the backend, which acts on the loaded
  // vCPU (a VMX backend writes the current VMCS): load this one first, as
  // `kvm_arch_vcpu_ioctl_get_mpstate` does with vcpu_load(). Without it, with several vCPUs, an
  // INIT taken here reset whichever vCPU ran last.
  const ops = vcpu.ops;
  ops.vcpuLoad(vcpu);
  try {
    kvmApicAcceptEvents(vcpu);
  } finally {
    ops.vcpuPut?.(vcpu);
  }
  if (apic.uninitialized) return KVM_MP_STATE.UNINITIALIZED;
  if (apic.waitForSipi) return KVM_MP_STATE.INIT_RECEIVED;
  return apic.halted ? KVM_MP_STATE.HALTED : KVM_MP_STATE.RUNNABLE;
}

/**
 * KVM_SET_MP_STATE: RUNNABLE always; UNINITIALIZED, HALTED, INIT_RECEIVED and SIPI_RECEIVED only
 * with an in-kernel APIC; anything else EINVAL. SIPI_RECEIVED means "INIT_RECEIVED with a SIPI
 * pending" (the SIPI's vector is the one the APIC last latched). AP_RESET_HOLD (SEV-ES's AP
 * park) is accepted as Linux accepts it and kept as HALTED, which wakes the same way.
 */
export function kvmSetMpState(vcpu: SoftVcpu, state: number): void {
  const apic = vcpu.apic;
  const op = 'KVM_SET_MP_STATE';
  switch (state) {
    case KVM_MP_STATE.RUNNABLE:
      break;
    case KVM_MP_STATE.UNINITIALIZED:
    case KVM_MP_STATE.HALTED:
    case KVM_MP_STATE.AP_RESET_HOLD:
    case KVM_MP_STATE.INIT_RECEIVED:
    case KVM_MP_STATE.SIPI_RECEIVED:
      if (apic === null) throw new KvmError(op, Errno.EINVAL, `mp_state ${state} needs the in-kernel APIC`);
      break;
    default:
      throw new KvmError(op, Errno.EINVAL, `mp_state ${state}`);
  }
  if (apic === null) return;
  apic.uninitialized = state === KVM_MP_STATE.UNINITIALIZED;
  apic.halted = state === KVM_MP_STATE.HALTED || state === KVM_MP_STATE.AP_RESET_HOLD;
  apic.waitForSipi = state === KVM_MP_STATE.INIT_RECEIVED || state === KVM_MP_STATE.SIPI_RECEIVED;
  if (state === KVM_MP_STATE.SIPI_RECEIVED) apic.pendingEvents |= KVM_APIC_SIPI;
}
