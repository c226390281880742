/**
 * XSETBV exits to the driver (VMX exit reason 55, unconditional; SVM's XSETBV intercept, exit
 * code 8DH, which KVM sets) and is handled as KVM's `kvm_emulate_xsetbv`: XCR0 takes EDX:EAX when
 * `__kvm_set_xcr` allows it, checked against the guest's CPUID.0DH (not the processor's), else
 * the guest gets #GP(0).
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { longModeGuest } from './guests.js';

// mov eax, 3 ; xor edx, edx ; xor ecx, ecx ; xsetbv ; xgetbv ; mov [0x4000], eax ; hlt
const XSETBV_3 = [
  0xb8, 0x03, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x31, 0xc9, 0x0f, 0x01, 0xd1, 0x0f, 0x01, 0xd0, 0x89, 0x04, 0x25,
  0x00, 0x40, 0x00, 0x00, 0xf4,
];

function guest(kvm: Kvm, withLeaf0d: boolean) {
  const g = longModeGuest(kvm, XSETBV_3);
  const cpuid = kvm.getSupportedCpuid();
  g.vcpu.setCpuid2(withLeaf0d ? cpuid : cpuid.filter((e) => e.function !== 0xd));
  // PAE | OSFXSR | OSXSAVE
  g.vcpu.setSregs({ ...g.vcpu.getSregs(), cr4: 0x40220n });
  return g;
}

export function defineXsetbvSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: XSETBV`, () => {
    it('sets XCR0 through the hypervisor: the guest reads it back, KVM_GET_XCRS shows it', () => {
      const { vcpu, ram } = guest(open(), true);
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(new DataView(ram.buffer, ram.byteOffset).getUint32(0x4000, true)).toBe(3);
      expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 3n }]);
    });

    it('is #GP(0) for SSE state the guest CPUID does not offer (no leaf 0DH), though the processor has it', () => {
      const { vcpu, ram } = guest(open(), false);
      // No IDT: the #GP becomes a triple fault.
      expect(vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
      expect(new DataView(ram.buffer, ram.byteOffset).getUint32(0x4000, true)).toBe(0);
      expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 1n }]);
    });
  });
}
