/**
 * CPUID leaf 1 has CLFLUSH (x86emu implements it): EDX.CLFSH (bit 19) and the line size in
 * EBX[15:8] (8 × 8 = 64 bytes), in KVM_GET_SUPPORTED_CPUID and in what a guest given that table
 * reads.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT } from '../abi/exit-reasons.js';
import type { Kvm } from '../api/types.js';
import { protectedModeGuest } from './guests.js';

export function defineCpuidClflushSuite(name: string, open: () => Kvm): void {
  describe(`${name} engine: CPUID leaf 1 CLFLUSH`, () => {
    it('reports CLFSH and a 64-byte CLFLUSH line, to userspace and to the guest', () => {
      const kvm = open();
      const leaf1 = kvm.getSupportedCpuid().find((e) => e.function === 1)!;
      expect((leaf1.edx >>> 19) & 1).toBe(1);
      expect((leaf1.ebx >>> 8) & 0xff).toBe(8);
      // mov eax, 1 ; cpuid ; mov eax, ebx ; out 0x80, eax ; mov eax, edx ; out 0x80, eax ; hlt
      const { vcpu } = protectedModeGuest(
        kvm,
        [0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xd8, 0xe7, 0x80, 0x89, 0xd0, 0xe7, 0x80, 0xf4],
      );
      vcpu.setCpuid2(kvm.getSupportedCpuid());
      const data = (): number =>
        new DataView((vcpu.kvmRun as unknown as { bytes: Uint8Array }).bytes.buffer).getUint32(4096, true);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect((data() >>> 8) & 0xff).toBe(8);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect((data() >>> 19) & 1).toBe(1);
    });
  });
}
