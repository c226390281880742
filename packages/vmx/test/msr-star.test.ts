/**
 * The 32-bit VMX silicon (configured without Intel 64) has no MSR_STAR (SYSCALL is AMD's in
 * 32-bit mode): KVM_GET_MSR_INDEX_LIST must not offer it, and a guest's RDMSR of it takes #GP
 * (changelog, MSR_STAR: the index list lists only what the silicon has). The Intel 64 part and
 * the SVM engine pin the opposite.
 */
import { KVM_EXIT } from '@kvm/core';
import { realModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxKvm } from '../src/index.js';

const MSR_STAR = 0xc0000081;

const vmx32 = () => createVmxKvm({ siliconConfig: { longMode: false } });

describe('VMX engine without Intel 64: MSR_STAR', () => {
  it('is absent from KVM_GET_MSR_INDEX_LIST', () => {
    expect(vmx32().getMsrIndexList()).not.toContain(MSR_STAR);
  });

  it('raises #GP on a guest RDMSR of it', () => {
    // mov ecx, 0xc0000081 ; rdmsr ; mov al, 1 ; out 0x80, al ; hlt   (#GP handler: al = 0x0d)
    const { vcpu, ram } = realModeGuest(
      vmx32(),
      [0x66, 0xb9, 0x81, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0xb0, 0x01, 0xe6, 0x80, 0xf4],
    );
    ram.set([0xb0, 0x0d, 0xe6, 0x80, 0xf4], 0x3000);
    new DataView(ram.buffer).setUint32(13 * 4, 0x3000, true);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.bytes[4096]).toBe(0x0d);
  });
});

describe('VMX engine with Intel 64: MSR_STAR', () => {
  it('is read by a guest RDMSR without #GP', () => {
    const { vcpu, ram } = realModeGuest(
      createVmxKvm(),
      [0x66, 0xb9, 0x81, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0xb0, 0x01, 0xe6, 0x80, 0xf4],
    );
    ram.set([0xb0, 0x0d, 0xe6, 0x80, 0xf4], 0x3000);
    new DataView(ram.buffer).setUint32(13 * 4, 0x3000, true);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.bytes[4096]).toBe(0x01);
  });
});
