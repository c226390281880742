/**
 * The driver's per-vCPU state (`struct vcpu_vmx`): its VMCS, the bitmaps the VMCS points to,
 * whether it has been launched, and the registers the processor does not keep in the VMCS
 * (CR2 is loaded into the real CR2 around VM entry, as KVM's entry code does).
 */
import type { SoftVcpu } from '@kvm/core';

export class VcpuVmx {
  /** hpa of the VMCS region; -1 once freed (never VMREAD/VMWRITE it then). */
  vmcsHpa = -1;
  /** hpa of I/O bitmaps A and B, and of the MSR bitmap; -1 when not allocated. */
  ioBitmapA = -1;
  ioBitmapB = -1;
  msrBitmap = -1;
  launched = false;
  /** The guest's CR2. */
  cr2 = 0;
  /** CR0/CR4 bits the guest owns (not in the guest/host masks). */
  cr0GuestOwned = 0;
  cr4GuestOwned = 0;
  /**
   * High halves of IA32_SYSENTER_ESP/EIP as userspace set them: this 32-bit part's VMCS fields
   * hold 32 bits, but KVM_SET_MSRS/KVM_GET_MSRS round-trip 64-bit values as the host engine does.
   */
  sysenterEspHigh = 0;
  sysenterEipHigh = 0;
  /** The guest's IA32_FEATURE_CONTROL (`msr_ia32_feature_control`): only LOCKED is valid here. */
  featureControl = 0;
  /** Exits by basic reason. */
  readonly exitCounts = new Float64Array(65);
}

/** `to_vmx(vcpu)` */
export function toVmx(vcpu: SoftVcpu): VcpuVmx {
  return vcpu.arch as VcpuVmx;
}
