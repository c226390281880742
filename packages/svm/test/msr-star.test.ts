/**
 * The SVM silicon has MSR_STAR (the VMCB holds it): KVM_GET_MSR_INDEX_LIST offers it and a guest
 * reads it without a fault (changelog, MSR_STAR). The VMX engine pins the opposite.
 */
import { KVM_EXIT } from '@kvm/core';
import { realModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createSvmKvm } from '../src/index.js';

const MSR_STAR = 0xc0000081;

describe('SVM engine: MSR_STAR', () => {
  it('is listed by KVM_GET_MSR_INDEX_LIST', () => {
    expect(createSvmKvm().getMsrIndexList()).toContain(MSR_STAR);
  });

  it('is read by a guest RDMSR without #GP', () => {
    // mov ecx, 0xc0000081 ; rdmsr ; mov al, 1 ; out 0x80, al ; hlt   (#GP handler: al = 0x0d)
    const { vcpu, ram } = realModeGuest(
      createSvmKvm(),
      [0x66, 0xb9, 0x81, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0xb0, 0x01, 0xe6, 0x80, 0xf4],
    );
    ram.set([0xb0, 0x0d, 0xe6, 0x80, 0xf4], 0x3000);
    new DataView(ram.buffer).setUint32(13 * 4, 0x3000, true);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.bytes[4096]).toBe(0x01);
  });
});
