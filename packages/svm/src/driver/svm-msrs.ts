/**
 * The MSRs the SVM driver keeps for the guest (`svm_get_msr` / `svm_set_msr`): those in the
 * VMCB's save area (SYSENTER_*, STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE, FS/GS bases: VMRUN's
 * and VMLOAD/VMSAVE's state), the processor's TSC, TSC_AUX (switched around VMRUN by
 * `SvmDriver.run`) and the guest's VM_CR. EFER is core's `kvmSetEfer`.
 */
import { isCanonicalHigh, MSR, type SoftVcpu } from '@kvm/core';
import { EFER_SVME, VmCr } from '../silicon/svm-arch.js';
import { SEG_BASE, VMCB } from '../silicon/vmcb-layout.js';
import type { SvmDriver } from './svm.js';
import { toSvm } from './vcpu-svm.js';

/** SVM_VM_CR_VALID_MASK: DPD, R_INIT, DIS_A20M, LOCK, SVMDIS. */
const VM_CR_VALID = 0x1f;

/**
 * The MSRs kept in the VMCB's VMLOAD/VMSAVE state, which the processor may hold newer than the
 * VMCB between entries (`SvmDriver.syncSaveArea`).
 */
function inSaveArea(index: number): boolean {
  switch (index) {
    case MSR.LSTAR:
    case MSR.CSTAR:
    case MSR.SYSCALL_MASK:
    case MSR.KERNEL_GS_BASE:
    case MSR.FS_BASE:
    case MSR.GS_BASE:
    case MSR.IA32_SYSENTER_CS:
    case MSR.IA32_SYSENTER_ESP:
    case MSR.IA32_SYSENTER_EIP:
    case MSR.STAR:
      return true;
    default:
      return false;
  }
}

export function svmGetMsr(d: SvmDriver, vcpu: SoftVcpu, index: number, out: Uint32Array): boolean {
  d.vcpuLoad(vcpu);
  if (inSaveArea(index)) d.syncSaveArea(vcpu);
  const v = d.vmcb;
  out[1] = 0;
  const field = (off: number): boolean => {
    out[0] = v.u32(off);
    out[1] = v.hi(off);
    return true;
  };
  const lm = d.cpu.longMode;
  switch (index) {
    case MSR.EFER:
      out[0] = vcpu.efer;
      out[1] = vcpu.eferHigh;
      return true;
    case MSR.LSTAR:
      return field(VMCB.LSTAR) && lm;
    case MSR.CSTAR:
      return field(VMCB.CSTAR) && lm;
    case MSR.SYSCALL_MASK:
      return field(VMCB.SFMASK) && lm;
    case MSR.KERNEL_GS_BASE:
      return field(VMCB.KERNEL_GS_BASE) && lm;
    case MSR.FS_BASE:
      return field(VMCB.FS + SEG_BASE) && lm;
    case MSR.GS_BASE:
      return field(VMCB.GS + SEG_BASE) && lm;
    case MSR.TSC_AUX:
      out[0] = toSvm(vcpu).tscAux;
      return lm;
    case MSR.IA32_SYSENTER_CS:
      return field(VMCB.SYSENTER_CS);
    case MSR.IA32_SYSENTER_ESP:
      return field(VMCB.SYSENTER_ESP);
    case MSR.IA32_SYSENTER_EIP:
      return field(VMCB.SYSENTER_EIP);
    case MSR.STAR:
      return field(VMCB.STAR);
    case MSR.VM_CR:
      out[0] = toSvm(vcpu).vmCr;
      return true;
    case MSR.IA32_TSC: {
      const t = d.cpu.guest.cpu.state.tsc;
      out[0] = t[0];
      out[1] = t[1];
      return true;
    }
    default:
      return false;
  }
}

/**
 * `svm_set_msr` (EFER never gets here: core's `kvmSetEfer` checks it and calls `setEfer`). The
 * address MSRs must be canonical (`__kvm_set_msr`: #GP); SFMASK and TSC_AUX keep 32 bits.
 */
export function svmSetMsr(d: SvmDriver, vcpu: SoftVcpu, index: number, lo: number, hi: number): boolean {
  d.vcpuLoad(vcpu);
  if (inSaveArea(index)) d.syncSaveArea(vcpu);
  const v = d.vmcb;
  const lm = d.cpu.longMode;
  const address = (off: number): boolean => {
    if (!lm || !isCanonicalHigh(hi)) return false;
    v.set64(off, lo, hi);
    return true;
  };
  switch (index) {
    case MSR.LSTAR:
      return address(VMCB.LSTAR);
    case MSR.CSTAR:
      return address(VMCB.CSTAR);
    case MSR.KERNEL_GS_BASE:
      return address(VMCB.KERNEL_GS_BASE);
    case MSR.FS_BASE:
      return address(VMCB.FS + SEG_BASE);
    case MSR.GS_BASE:
      return address(VMCB.GS + SEG_BASE);
    case MSR.SYSCALL_MASK:
      if (!lm || hi) return false;
      v.set64(VMCB.SFMASK, lo, 0);
      return true;
    case MSR.TSC_AUX:
      // AMD keeps bits 63:32 of TSC_AUX reserved-as-ignored; KVM truncates to 32 bits.
      if (!lm) return false;
      toSvm(vcpu).tscAux = lo >>> 0;
      return true;
    case MSR.IA32_SYSENTER_CS:
      v.set64(VMCB.SYSENTER_CS, lo, hi);
      return true;
    case MSR.IA32_SYSENTER_ESP:
      v.set64(VMCB.SYSENTER_ESP, lo, hi);
      return true;
    case MSR.IA32_SYSENTER_EIP:
      v.set64(VMCB.SYSENTER_EIP, lo, hi);
      return true;
    case MSR.STAR:
      v.set64(VMCB.STAR, lo, hi);
      return true;
    case MSR.VM_CR:
      return setVmCr(vcpu, lo, hi);
    case MSR.IA32_TSC: {
      const t = d.cpu.guest.cpu.state.tsc;
      t[0] = lo;
      t[1] = hi;
      return true;
    }
    default:
      return false;
  }
}

/**
 * `svm_set_vm_cr`: bits 4:0 only; once SVMDIS is set, LOCK and SVMDIS stay as they are; and
 * SVMDIS with the guest's EFER.SVME set is refused.
 */
function setVmCr(vcpu: SoftVcpu, lo: number, hi: number): boolean {
  if (lo & ~VM_CR_VALID || hi) return false;
  const svm = toSvm(vcpu);
  let change = VM_CR_VALID;
  if (svm.vmCr & VmCr.SVMDIS) change &= ~(VmCr.LOCK | VmCr.SVMDIS);
  svm.vmCr = ((svm.vmCr & ~change) | (lo & change)) >>> 0;
  return !(svm.vmCr & VmCr.SVMDIS && vcpu.efer & EFER_SVME);
}
