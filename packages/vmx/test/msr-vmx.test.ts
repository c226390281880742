/**
 * The MSRs `vmx_get_msr`/`vmx_set_msr` and KVM's EFER rules decide on Intel, as a guest sees
 * them: IA32_FEATURE_CONTROL (the guest's own copy: only the lock bit, then read-only) and
 * EFER.SCE (never reserved in KVM, whatever CPUID says). A #GP ends the tiny guest as a shutdown.
 */
import { KVM_EXIT } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
/** mov ecx, index ; mov eax, lo ; xor edx, edx ; wrmsr ; rdmsr ; hlt */
const writeRead = (index: number, lo: number): number[] => [
  ...[0xb9, ...imm32(index), 0xb8, ...imm32(lo), 0x31, 0xd2],
  ...[0x0f, 0x30, 0x0f, 0x32, 0xf4],
];

describe('VMX engine: Intel MSRs as vmx_set_msr', () => {
  it('reads IA32_FEATURE_CONTROL as 0 and lets the guest set only its lock bit', () => {
    const { vcpu } = protectedModeGuest(createVmxKvm(), [0xb9, ...imm32(0x3a), 0x0f, 0x32, 0xf4]);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getRegs().rax & 0xffffffffn).toBe(0n);
    const locked = protectedModeGuest(createVmxKvm(), writeRead(0x3a, 1));
    expect(locked.vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(locked.vcpu.getRegs().rax & 0xffffffffn).toBe(1n);
    // VMXON enabled outside SMX (bit 2) is not valid without nested VMX.
    expect(protectedModeGuest(createVmxKvm(), writeRead(0x3a, 5)).vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
  });

  it('refuses any IA32_FEATURE_CONTROL write once locked', () => {
    // wrmsr(0x3a, 1) ; wrmsr(0x3a, 1) again
    const code = [0xb9, ...imm32(0x3a), 0xb8, ...imm32(1), 0x31, 0xd2, 0x0f, 0x30, 0x0f, 0x30, 0xf4];
    expect(protectedModeGuest(createVmxKvm(), code).vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
  });

  it('takes EFER.SCE, as KVM does whatever CPUID says', () => {
    const { vcpu } = protectedModeGuest(createVmxKvm(), writeRead(0xc0000080, 1));
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getRegs().rax & 0xffffffffn).toBe(1n);
    expect(vcpu.getSregs().efer).toBe(1n);
  });
});
