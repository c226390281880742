import { KvmError } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';
import { FeatureControl, VmxMsr } from '../src/silicon/vmx-arch.js';
import { VmxSilicon } from '../src/silicon/vmx-silicon.js';

function refusal(f: () => unknown): KvmError {
  try {
    f();
  } catch (e) {
    if (e instanceof KvmError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('VMX hardware check', () => {
  it('refuses silicon whose firmware locked IA32_FEATURE_CONTROL with VMX disabled, saying so', () => {
    const e = refusal(() => createVmxKvm({ siliconConfig: { featureControl: FeatureControl.LOCKED } }));
    expect(e.code).toBe('EOPNOTSUPP');
    expect(e.message).toContain('disabled by bios');
  });
  it('locks VMX on when the firmware left it enabled but unlocked (the MacBook case), so VMXON does not fault', () => {
    const silicon = new VmxSilicon({ featureControl: FeatureControl.VMXON_ENABLED_OUTSIDE_SMX });
    const kvm = createVmxKvm({ silicon });
    expect(kvm.engine).toBe('vmx');
    expect(silicon.featureControl & 5).toBe(5);
    expect(silicon.inVmxOperation).toBe(true);
    expect(silicon.wrmsr(VmxMsr.IA32_FEATURE_CONTROL, 0, 0)).toBe(false);
  });
  it('refuses silicon without CPUID.1:ECX.VMX and non-Intel silicon', () => {
    expect(refusal(() => createVmxKvm({ siliconConfig: { vmx: false } })).message).toContain(
      'no hardware support',
    );
    expect(refusal(() => createVmxKvm({ siliconConfig: { vendor: 'AuthenticAMD' } })).message).toContain(
      'not on speaking terms',
    );
  });
  it('lists the MSRs this Intel part saves and restores, but not read-only ones', () => {
    const list = createVmxKvm().getMsrIndexList();
    expect(list).toContain(0x174);
    expect(list).toContain(0x1a0); // IA32_MISC_ENABLE
    // The benchmark MSRs read fine in the guest but refuse writes, so a VMM could not restore them.
    expect(list).not.toContain(0x2a); // IA32_EBL_CR_POWERON
    expect(list).not.toContain(0x198); // IA32_PERF_STATUS
  });
  it('lists the syscall MSRs and TSC_AUX on the Intel 64 part, in KVM order, and none on the 32-bit part', () => {
    const syscall = [0xc0000081, 0xc0000083, 0xc0000102, 0xc0000084, 0xc0000082];
    const list = createVmxKvm().getMsrIndexList();
    // msrs_to_save: SYSENTER_CS/ESP/EIP, STAR, CSTAR, KERNEL_GS_BASE, SYSCALL_MASK, LSTAR, TSC, PAT, TSC_AUX.
    expect(list.slice(3, 8)).toEqual(syscall);
    expect(list).toContain(0xc0000103);
    const list32 = createVmxKvm({ siliconConfig: { longMode: false } }).getMsrIndexList();
    for (const m of [...syscall, 0xc0000103]) expect(list32).not.toContain(m);
  });
});
