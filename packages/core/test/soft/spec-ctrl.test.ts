/**
 * The speculation controls on the software engine (spec-ctrl.ts): KVM_GET_SUPPORTED_CPUID lists
 * leaf 7's sub-leaves 0 to 2 as KVM does, with the BHI control (7.2:EDX[4]) on an Intel model
 * whatever its leaf 7 lists, and not on an AMD one; IA32_SPEC_CTRL takes the bits the model
 * implements (BHI_DIS_S on Intel's only) and refuses the rest; a guest's CPUID table is masked to
 * those bits per sub-leaf.
 */
import { describe, expect, it } from 'vitest';
import { openKvm } from '../../src/front/kvm-system.js';
import type { HostCpu } from '../../src/soft/arch-ops.js';
import { kvmCpuidFilter } from '../../src/soft/cpuid-filter.js';
import { SoftKvmDevice } from '../../src/soft/device.js';
import { CPUID_7_2_EDX_BHI_CTRL, MSR_IA32_SPEC_CTRL, SPEC_CTRL } from '../../src/soft/spec-ctrl.js';
import { fakeArch } from './fake-arch.js';

/** A silicon of `vendor` whose CPUID has leaf 7 (the fake's stops at leaf 1), all zeros. */
function leaf7Cpu(vendor: 'GenuineIntel' | 'AuthenticAMD'): HostCpu {
  const word = (i: number): number => Buffer.from(vendor, 'latin1').readUInt32LE(i);
  return {
    cpuid(leaf, _sub, out) {
      out.fill(0);
      if (leaf === 0) out.set([7, word(0), word(8), word(4)]);
    },
    rdmsr: () => false,
    wrmsr: () => false,
  };
}

function open(vendor: 'GenuineIntel' | 'AuthenticAMD' = 'GenuineIntel') {
  const arch = { ...fakeArch(), cpu: leaf7Cpu(vendor) };
  const kvm = openKvm(new SoftKvmDevice(arch, { mmu: null }));
  return { arch, kvm, vcpu: kvm.createVm().createVcpu(0) };
}

describe('the speculation controls on the software engine', () => {
  it('lists leaf 7 sub-leaves 0 to 2, index-significant, the BHI control in 7.2:EDX[4]', () => {
    const leaf7 = open()
      .kvm.getSupportedCpuid()
      .filter((e) => e.function === 7);
    expect(leaf7.map((e) => [e.index, e.flags])).toEqual([
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    // 7.0:EAX is the highest sub-leaf; 7.1 holds nothing; 7.2:EDX only BHI_CTRL (bit 4).
    expect(leaf7[0].eax).toBe(2);
    expect([leaf7[1].eax, leaf7[1].ebx, leaf7[1].ecx, leaf7[1].edx]).toEqual([0, 0, 0, 0]);
    expect(leaf7[2].edx).toBe(1 << 4);
  });

  it('IA32_SPEC_CTRL takes IBRS, STIBP, SSBD and BHI_DIS_S, and refuses the bits this processor lacks', () => {
    const { vcpu } = open();
    const all = SPEC_CTRL.IBRS | SPEC_CTRL.STIBP | SPEC_CTRL.SSBD | SPEC_CTRL.BHI_DIS_S;
    expect(all).toBe(0x407);
    expect(vcpu.setMsrs([{ index: MSR_IA32_SPEC_CTRL, data: BigInt(all) }])).toBe(1);
    expect(vcpu.getMsrs([MSR_IA32_SPEC_CTRL])[0].data).toBe(BigInt(all));
    // IPRED_DIS_U/S 3–4, RRSBA_DIS_U/S 5–6, PSFD 7, DDPD_U 8, bit 9, bit 11 and the high half.
    for (const n of [3, 4, 5, 6, 7, 8, 9, 11, 32]) {
      expect(vcpu.setMsrs([{ index: MSR_IA32_SPEC_CTRL, data: 1n << BigInt(n) }]), `bit ${n}`).toBe(0);
    }
    expect(vcpu.getMsrs([MSR_IA32_SPEC_CTRL])[0].data).toBe(BigInt(all));
  });

  it('offers neither the BHI control nor BHI_DIS_S on an AMD model (AMD parts have neither)', () => {
    const { kvm, vcpu } = open('AuthenticAMD');
    const leaf7 = kvm.getSupportedCpuid().filter((e) => e.function === 7);
    expect(leaf7.map((e) => e.index)).toEqual([0, 1, 2]);
    expect(leaf7[2].edx).toBe(0);
    expect(vcpu.setMsrs([{ index: MSR_IA32_SPEC_CTRL, data: 7n }])).toBe(1);
    expect(vcpu.setMsrs([{ index: MSR_IA32_SPEC_CTRL, data: BigInt(SPEC_CTRL.BHI_DIS_S) }])).toBe(0);
    expect(vcpu.getMsrs([MSR_IA32_SPEC_CTRL])[0].data).toBe(7n);
  });

  it("masks a guest's leaf 7 to what the silicon and KVM give, sub-leaf by sub-leaf", () => {
    const { arch } = open();
    const read = (subleaf: number): number => {
      const out = Uint32Array.of(0, 0xffffffff, 0xffffffff, 0xffffffff);
      kvmCpuidFilter(arch, 7, subleaf, out);
      return out[3];
    };
    // 7.0: ARCH_CAPABILITIES 29 and SPEC_CTRL 26, STIBP 27, SSBD 31; 7.1: nothing; 7.2: BHI_CTRL.
    expect(read(0).toString(16)).toBe('ac000000');
    expect(read(1)).toBe(0);
    expect(read(2)).toBe(CPUID_7_2_EDX_BHI_CTRL);
    expect(read(3)).toBe(0);
    // On an AMD model a table claiming the BHI control is masked to nothing.
    const amd = open('AuthenticAMD').arch;
    const out = Uint32Array.of(0, 0, 0, 0xffffffff);
    kvmCpuidFilter(amd, 7, 2, out);
    expect(out[3]).toBe(0);
  });
});
