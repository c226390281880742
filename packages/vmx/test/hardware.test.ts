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
  it('lists the MSRs this Intel part saves and restores, but not MSR_STAR nor read-only ones', () => {
    const list = createVmxKvm().getMsrIndexList();
    expect(list).toContain(0x174);
    expect(list).toContain(0x1a0); // IA32_MISC_ENABLE
    // The benchmark MSRs read fine in the guest but refuse writes, so a VMM could not restore them.
    expect(list).not.toContain(0x2a); // IA32_EBL_CR_POWERON
    expect(list).not.toContain(0x198); // IA32_PERF_STATUS
    expect(list).not.toContain(0xc0000081);
  });
});
