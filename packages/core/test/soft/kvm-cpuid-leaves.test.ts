/**
 * KVM's paravirtual CPUID leaves on the software engine (device.ts `supportedCpuid`):
 * KVM_GET_SUPPORTED_CPUID lists the signature leaf 0x40000000 ("KVMKVMKVM\0\0\0", EAX the
 * features leaf) and the features leaf 0x40000001 with only what needs nothing from the host
 * (NOP_IO_DELAY). A guest that finds the signature knows it runs on KVM: Linux then turns on
 * x2APIC without interrupt remapping (its `x2apic_available` for KVM), so that the local APIC is
 * reached through MSRs instead of MMIO emulation.
 */
import { describe, expect, it } from 'vitest';
import { openKvm } from '../../src/front/kvm-system.js';
import { SoftKvmDevice } from '../../src/soft/device.js';
import { fakeArch } from './fake-arch.js';

const supported = () => openKvm(new SoftKvmDevice(fakeArch(), { mmu: null })).getSupportedCpuid();

const text = (...regs: number[]): string =>
  String.fromCharCode(...regs.flatMap((r) => [r & 0xff, (r >>> 8) & 0xff, (r >>> 16) & 0xff, r >>> 24]));

describe("KVM's paravirtual CPUID leaves on the software engine", () => {
  it('lists the signature leaf: KVMKVMKVM, and 0x40000001 as the highest leaf', () => {
    const sig = supported().find((e) => e.function === 0x40000000);
    expect(sig).toBeDefined();
    expect(text(sig?.ebx ?? 0, sig?.ecx ?? 0, sig?.edx ?? 0)).toBe('KVMKVMKVM\0\0\0');
    expect(sig?.eax).toBe(0x40000001);
  });

  it('offers of the features only NOP_IO_DELAY (no kvmclock, PV EOI or async #PF: none is emulated)', () => {
    const f = supported().find((e) => e.function === 0x40000001);
    expect(f).toMatchObject({ eax: 1 << 1, ebx: 0, ecx: 0, edx: 0 });
  });
});
