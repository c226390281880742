/**
 * IA32_ARCH_CAPABILITIES on the software engine (arch-capabilities.ts): KVM_GET_SUPPORTED_CPUID
 * offers it, the value says x86emu has none of the speculative-execution bugs and enhanced IBRS
 * (so a Linux guest on an Intel model turns on no page table isolation, no MDS clearing, no ITS
 * thunks, no retpolines), and
 * userspace may set only KVM_SUPPORTED_ARCH_CAP bits. The guest's side (RDMSR only where CPUID
 * says so, WRMSR #GP) is in the shared MSR suite, on every engine.
 */
import { describe, expect, it } from 'vitest';
import { openKvm } from '../../src/front/kvm-system.js';
import { ARCH_CAP, MSR_IA32_ARCH_CAPABILITIES } from '../../src/soft/arch-capabilities.js';
import type { HostCpu } from '../../src/soft/arch-ops.js';
import { SoftKvmDevice } from '../../src/soft/device.js';
import { fakeArch } from './fake-arch.js';

/** A silicon whose CPUID has leaf 7 (the fake's stops at leaf 1), all zeros. */
const leaf7Cpu: HostCpu = {
  cpuid(leaf, _sub, out) {
    out.fill(0);
    if (leaf === 0) out[0] = 7;
  },
  rdmsr: () => false,
  wrmsr: () => false,
};

function open() {
  const arch = { ...fakeArch(), cpu: leaf7Cpu };
  const kvm = openKvm(new SoftKvmDevice(arch, { mmu: null }));
  return { kvm, vcpu: kvm.createVm().createVcpu(0) };
}

const bit = (n: number): bigint => 1n << BigInt(n);

describe('IA32_ARCH_CAPABILITIES on the software engine', () => {
  it('is offered in KVM_GET_SUPPORTED_CPUID (7.0:EDX[29]) though the silicon does not list it', () => {
    const leaf7 = open()
      .kvm.getSupportedCpuid()
      .find((e) => e.function === 7);
    // With the speculation controls KVM also emulates (spec-ctrl.ts): SPEC_CTRL 26, STIBP 27, SSBD 31.
    expect(leaf7?.edx).toBe(0xac000000);
  });

  it("reads as a processor affected by none of Linux's speculation bugs, with enhanced IBRS", () => {
    const v = open().vcpu.getMsrs([MSR_IA32_ARCH_CAPABILITIES])[0].data;
    // RDCL_NO 0 (no Meltdown: no PTI), IBRS_ALL 1 (no retpolines), SKIP_VMENTRY_L1DFLUSH 3, SSB_NO 4,
    // MDS_NO 5, PSCHANGE_MC_NO 6, SBDR_SSDP_NO 13, FBSDP_NO 14, PSDP_NO 15, BHI_NO 20, PBRSB_NO 24,
    // GDS_NO 26, RFDS_NO 27, ITS_NO 62.
    const want = [0, 1, 3, 4, 5, 6, 13, 14, 15, 20, 24, 26, 27, 62].reduce((a, n) => a | bit(n), 0n);
    expect(v.toString(16)).toBe(want.toString(16));
    // No TAA_NO without TSX (KVM clears it when RTM is absent), no FB_CLEAR (no buffers to clear).
    expect(v & BigInt(ARCH_CAP.TAA_NO | ARCH_CAP.FB_CLEAR)).toBe(0n);
  });

  it('takes from userspace only KVM_SUPPORTED_ARCH_CAP bits', () => {
    const { vcpu } = open();
    expect(vcpu.setMsrs([{ index: MSR_IA32_ARCH_CAPABILITIES, data: bit(0) | bit(62) }])).toBe(1);
    expect(vcpu.getMsrs([MSR_IA32_ARCH_CAPABILITIES])[0].data).toBe(bit(0) | bit(62));
    // Bit 9 (reserved) and bit 10 (MISC_PACKAGE_CTRLS, an MSR KVM does not virtualize) are refused.
    expect(vcpu.setMsrs([{ index: MSR_IA32_ARCH_CAPABILITIES, data: bit(9) }])).toBe(0);
    expect(vcpu.setMsrs([{ index: MSR_IA32_ARCH_CAPABILITIES, data: bit(10) }])).toBe(0);
    expect(vcpu.getMsrs([MSR_IA32_ARCH_CAPABILITIES])[0].data).toBe(bit(0) | bit(62));
  });
});
