/**
 * The driver's per-vCPU state (`struct vcpu_vmx`): its VMCS, the bitmaps the VMCS points to,
 * whether it has been launched, and the registers the processor does not keep in the VMCS
 * (CR2 is loaded into the real CR2 around VM entry, as KVM's entry code does).
 */
import type { SoftVcpu } from '@kvm/core';
import { holdAsDoubles } from '@kvm/x86emu';

export class VcpuVmx {
  /** hpa of the VMCS region; -1 once freed (never VMREAD/VMWRITE it then). */
  vmcsHpa = -1;
  /** hpa of I/O bitmaps A and B, and of the MSR bitmap; -1 when not allocated. */
  ioBitmapA = -1;
  ioBitmapB = -1;
  msrBitmap = -1;
  /**
   * hpa of the virtual-APIC page ("use TPR shadow"); -1 when not allocated. KVM points the VMCS at
   * the LAPIC's own register page; ours is a page of host-physical memory that VTPR is copied to
   * before each entry and back after it.
   */
  virtualApicPage = -1;
  /** TPR shadow in use (an in-kernel LAPIC on the Intel 64 part): CR8 moves do not exit. */
  tprShadow = false;
  launched = false;
  /** With EPT: this vCPU's VPID (`allocate_vpid`, never 0), its EPTP, and whether KVM changed CR0/CR3/CR4 since the PDPTE fields were loaded (`VCPU_EXREG_PDPTR` dirty). */
  vpid = 0;
  eptpLo = 0;
  eptpHi = 0;
  pdptrsDirty = false;
  /** The guest's CR2 (low and high halves). */
  cr2 = 0;
  cr2High = 0;
  /**
   * The guest's syscall MSRs, which the VMCS does not hold (vmx.c's `guest_msrs`, switched with
   * the processor's on every entry and exit as `load_msrs`/`save_msrs` did): STAR, LSTAR, CSTAR
   * and KERNEL_GS_BASE as [low, high], SFMASK and TSC_AUX 32-bit.
   */
  readonly star = new Uint32Array(2);
  readonly lstar = new Uint32Array(2);
  readonly cstar = new Uint32Array(2);
  readonly kernelGsBase = new Uint32Array(2);
  sfmask = 0;
  tscAux = 0;
  /** CR0/CR4 bits the guest owns (not in the guest/host masks). */
  cr0GuestOwned = 0;
  cr4GuestOwned = 0;
  /**
   * High halves of IA32_SYSENTER_ESP/EIP on the 32-bit part, whose VMCS fields hold 32 bits:
   * KVM_SET_MSRS/KVM_GET_MSRS round-trip 64-bit values as the host engine does. (On the Intel 64
   * part the natural-width fields hold them.)
   */
  sysenterEspHigh = 0;
  sysenterEipHigh = 0;
  /** The guest's IA32_FEATURE_CONTROL (`msr_ia32_feature_control`): only LOCKED is valid here. */
  featureControl = 0;
  /**
   * The control fields as the driver last wrote them (KVM's `controls_shadow`, `exec_controls_set`):
   * the run loop sets the interrupt window, the exception bitmap and the TPR threshold before every
   * entry, and with the shadow that is a compare, not a VMREAD and a VMWRITE (-1: not written yet).
   * Only the driver writes these fields (the processor never does), so the shadow stays exact.
   */
  execControls = -1;
  /**
   * GUEST_RSP and GUEST_RIP as `cacheRegs` last read them or `decacheRegs` last wrote them, as
   * [low, high]; -1 in the low half when unknown (after an exit or a reset). Float64 so that -1 is
   * no register value.
   */
  readonly vmcsRsp = new Float64Array([-1, 0]);
  readonly vmcsRip = new Float64Array([-1, 0]);
  exceptionBitmap = -1;
  tprThreshold = -1;
  /** Exits by basic reason. */
  readonly exitCounts = new Float64Array(65);

  constructor() {
    // CR2 and the high halves are uint32 values at or above 2^31, the execution controls have
    // bit 31 (x86emu's double-fields.ts).
    holdAsDoubles(this, ['cr2', 'cr2High', 'sysenterEspHigh', 'sysenterEipHigh', 'execControls']);
  }
}

/** `to_vmx(vcpu)` */
export function toVmx(vcpu: SoftVcpu): VcpuVmx {
  return vcpu.arch as VcpuVmx;
}
