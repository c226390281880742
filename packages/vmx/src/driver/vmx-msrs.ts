/**
 * The MSRs the VMX driver keeps for the guest (`vmx_get_msr` / `vmx_set_msr`): those the VMCS
 * holds (SYSENTER_*, FS/GS bases), the processor's TSC, the guest's IA32_FEATURE_CONTROL, and the
 * guest MSR area of the syscall MSRs (STAR, LSTAR, CSTAR, SFMASK, KERNEL_GS_BASE, TSC_AUX) that
 * `VmxDriver.run` switches with the processor around each entry. EFER is core's `kvmSetEfer`.
 */
import { canonicalHigh, isCanonicalHigh, MSR, type SoftVcpu } from '@kvm/core';
import { VMCS } from '../silicon/vmcs-fields.js';
import { toVmx } from './vcpu-vmx.js';
import type { VmxDriver } from './vmx.js';

/** IA32_FEATURE_CONTROL.LOCKED, the one bit a guest without nested VMX may set. */
const FEAT_CTL_LOCKED = 1 << 0;

/**
 * `vmx_get_msr`: those the VMCS or the processor keeps for the guest, and the syscall MSRs of
 * the guest MSR area (only on the Intel 64 part: the 32-bit one has none, #GP).
 */
export function vmxGetMsr(d: VmxDriver, vcpu: SoftVcpu, index: number, out: Uint32Array): boolean {
  d.vcpuLoad(vcpu);
  out[1] = 0;
  const vmx = toVmx(vcpu);
  const pair = (p: Uint32Array): boolean => {
    out[0] = p[0];
    out[1] = p[1];
    return d.cpu.longMode;
  };
  switch (index) {
    case MSR.STAR:
      return pair(vmx.star);
    case MSR.LSTAR:
      return pair(vmx.lstar);
    case MSR.CSTAR:
      return pair(vmx.cstar);
    case MSR.KERNEL_GS_BASE:
      return pair(vmx.kernelGsBase);
    case MSR.SYSCALL_MASK:
      out[0] = vmx.sfmask;
      return d.cpu.longMode;
    case MSR.TSC_AUX:
      out[0] = vmx.tscAux;
      return d.cpu.longMode;
    case MSR.FS_BASE:
      out[0] = d.vmcs.read(VMCS.GUEST_FS_BASE);
      out[1] = d.vmcs.high;
      return d.cpu.longMode;
    case MSR.GS_BASE:
      out[0] = d.vmcs.read(VMCS.GUEST_GS_BASE);
      out[1] = d.vmcs.high;
      return d.cpu.longMode;
    case MSR.EFER:
      out[0] = vcpu.efer;
      out[1] = vcpu.eferHigh;
      return true;
    case MSR.IA32_SYSENTER_CS:
      out[0] = d.vmcs.read(VMCS.GUEST_SYSENTER_CS);
      return true;
    case MSR.IA32_SYSENTER_ESP:
      out[0] = d.vmcs.read(VMCS.GUEST_SYSENTER_ESP);
      out[1] = d.cpu.longMode ? d.vmcs.high : vmx.sysenterEspHigh;
      return true;
    case MSR.IA32_SYSENTER_EIP:
      out[0] = d.vmcs.read(VMCS.GUEST_SYSENTER_EIP);
      out[1] = d.cpu.longMode ? d.vmcs.high : vmx.sysenterEipHigh;
      return true;
    case MSR.IA32_TSC: {
      const tsc = d.cpu.nonRoot.cpu.state.tsc;
      out[0] = tsc[0];
      out[1] = tsc[1];
      return true;
    }
    case MSR.IA32_FEATURE_CONTROL:
      // vmx_get_msr: the guest's own copy (no nested VMX: only the lock bit is valid).
      out[0] = toVmx(vcpu).featureControl;
      return true;
    default:
      return false;
  }
}

/**
 * `vmx_set_msr` (EFER never gets here: core's `kvmSetEfer` checks it and calls `setEfer`). The
 * address MSRs must be canonical (`__kvm_set_msr`: #GP); SYSENTER_ESP/EIP are made canonical
 * as Intel does; TSC_AUX has no bits 63:32 on Intel.
 */
export function vmxSetMsr(d: VmxDriver, vcpu: SoftVcpu, index: number, lo: number, hi: number): boolean {
  d.vcpuLoad(vcpu);
  const vmx = toVmx(vcpu);
  const lm = d.cpu.longMode;
  const pair = (p: Uint32Array): boolean => {
    if (!lm || !isCanonicalHigh(hi)) return false;
    p[0] = lo;
    p[1] = hi;
    return true;
  };
  switch (index) {
    case MSR.STAR:
      if (!lm) return false;
      vmx.star[0] = lo;
      vmx.star[1] = hi;
      return true;
    case MSR.LSTAR:
      return pair(vmx.lstar);
    case MSR.CSTAR:
      return pair(vmx.cstar);
    case MSR.KERNEL_GS_BASE:
      return pair(vmx.kernelGsBase);
    case MSR.SYSCALL_MASK:
      // IA32_FMASK: bits 63:32 reserved (SDM Vol. 4 Table 2-2).
      if (!lm || hi) return false;
      vmx.sfmask = lo >>> 0;
      return true;
    case MSR.TSC_AUX:
      if (!lm || hi) return false;
      vmx.tscAux = lo >>> 0;
      return true;
    case MSR.FS_BASE:
    case MSR.GS_BASE:
      if (!lm || !isCanonicalHigh(hi)) return false;
      d.vmcs.write(index === MSR.FS_BASE ? VMCS.GUEST_FS_BASE : VMCS.GUEST_GS_BASE, lo, hi);
      return true;
    case MSR.IA32_SYSENTER_CS:
      d.vmcs.write(VMCS.GUEST_SYSENTER_CS, lo);
      return true;
    case MSR.IA32_SYSENTER_ESP:
      d.vmcs.write(VMCS.GUEST_SYSENTER_ESP, lo, lm ? canonicalHigh(hi) : 0);
      vmx.sysenterEspHigh = hi >>> 0;
      return true;
    case MSR.IA32_SYSENTER_EIP:
      d.vmcs.write(VMCS.GUEST_SYSENTER_EIP, lo, lm ? canonicalHigh(hi) : 0);
      vmx.sysenterEipHigh = hi >>> 0;
      return true;
    case MSR.IA32_TSC: {
      const tsc = d.cpu.nonRoot.cpu.state.tsc;
      tsc[0] = lo;
      tsc[1] = hi;
      return true;
    }
    case MSR.IA32_FEATURE_CONTROL: {
      // vmx_set_msr: bits outside the valid ones (LOCKED) or any write once locked is #GP.
      const vmx = toVmx(vcpu);
      if (lo & ~FEAT_CTL_LOCKED || hi || vmx.featureControl & FEAT_CTL_LOCKED) return false;
      vmx.featureControl = lo >>> 0;
      return true;
    }
    default:
      return false;
  }
}
