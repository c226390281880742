/**
 * KVM_SET_CPUID2 on the software engine: the guest sees only what the silicon (x86emu) implements
 * and KVM emulates — the KVM_GET_SUPPORTED_CPUID set — whatever richer table a VMM hands in;
 * KVM_GET_CPUID2 still returns the table as set (core's cpuid-filter.ts).
 */
import { KVM_EXIT } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';

describe('VMX engine: the guest CPUID is filtered to what the silicon implements', () => {
  it('masks leaf 1 and 80000001H by KVM_GET_SUPPORTED_CPUID; KVM_GET_CPUID2 returns what was set', () => {
    // mov eax, LEAF ; cpuid ; mov eax, ecx ; out 0x80, eax ; mov eax, edx ; out 0x80, eax ; hlt
    const code = (leaf: number) => [
      ...[0xb8, leaf & 0xff, (leaf >>> 8) & 0xff, (leaf >>> 16) & 0xff, leaf >>> 24],
      ...[0x0f, 0xa2, 0x89, 0xc8, 0xe7, 0x80, 0x89, 0xd0, 0xe7, 0x80, 0xf4],
    ];
    for (const leaf of [1, 0x80000001]) {
      const kvm = createVmxKvm();
      const { vcpu } = protectedModeGuest(kvm, code(leaf));
      const all = [0, 1, 0x80000000, 0x80000001].map((fn) => ({
        function: fn,
        index: 0,
        flags: 0,
        eax: fn === 0 ? 1 : fn === 0x80000000 ? 0x80000001 : 0,
        ebx: 0,
        ecx: 0xffffffff,
        edx: 0xffffffff,
      }));
      vcpu.setCpuid2(all);
      const supported = kvm.getSupportedCpuid().find((e) => e.function === leaf)!;
      const data = (): number =>
        new DataView((vcpu.kvmRun as unknown as { bytes: Uint8Array }).bytes.buffer).getUint32(4096, true);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(data()).toBe(supported.ecx);
      expect(vcpu.run()).toBe(KVM_EXIT.IO);
      expect(data()).toBe(supported.edx);
      // VMX (leaf 1 ECX bit 5) is never passed through; the table itself is kept as set.
      if (leaf === 1) expect(supported.ecx & (1 << 5)).toBe(0);
      expect(vcpu.getCpuid2!().find((e) => e.function === leaf)!.ecx).toBe(0xffffffff);
    }
  });
});
