/**
 * VM_CR as `svm_get_msr`/`svm_set_vm_cr` give it to a guest: readable (0), bits 4:0 writable, and
 * once SVMDIS is set, LOCK and SVMDIS stay. A #GP ends the tiny guest as a shutdown.
 */
import { KVM_EXIT } from '@kvm/core';
import { protectedModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createSvmKvm } from '../src/index.js';

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const VM_CR = 0xc0010114;
/** WRMSR VM_CR of each value in turn, then RDMSR it; hlt. */
const program = (...values: number[]): number[] => [
  0xb9,
  ...imm32(VM_CR),
  0x31,
  0xd2,
  ...values.flatMap((v) => [0xb8, ...imm32(v), 0x0f, 0x30]),
  ...[0x0f, 0x32, 0xf4],
];

describe('SVM engine: VM_CR as svm_set_vm_cr', () => {
  it('reads 0 and keeps bits 4:0', () => {
    const { vcpu } = protectedModeGuest(createSvmKvm(), program(0x08));
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getRegs().rax & 0xffffffffn).toBe(0x08n);
  });

  it('keeps LOCK and SVMDIS once SVMDIS is set', () => {
    const { vcpu } = protectedModeGuest(createSvmKvm(), program(0x10, 0x01));
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getRegs().rax & 0xffffffffn).toBe(0x11n);
  });

  it('refuses reserved bits', () => {
    expect(protectedModeGuest(createSvmKvm(), program(0x20)).vcpu.run()).toBe(KVM_EXIT.SHUTDOWN);
  });
});
