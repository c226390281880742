/**
 * `Vm.signalMsi` (KVM_SIGNAL_MSI) on the host's KVM: the referee for the software engine's
 * answer in @kvm/core's test/soft/signal-msi.test.ts. The message lands in the destination
 * APIC's IRR and the ioctl counts the APICs that took it; misuse gets the same errnos.
 */
import { Errno, KvmError } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { hostKvmAvailability, openHostKvm } from '../src/index.js';

const availability = hostKvmAvailability();
const skip = availability.available ? undefined : availability.reason;
if (skip) console.warn(`[signal-msi.kvm.test] skipped: ${skip}`);

const APIC_SPIV = 0xf0;
const APIC_IRR = 0x200;

function errnoOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof KvmError) return e.errno;
    throw e;
  }
  return 0;
}

const msi = (destId: number, vector: number, flags = 0) => ({
  addressLo: (0xfee00000 | (destId << 12)) >>> 0,
  addressHi: 0,
  data: vector,
  flags,
  devid: 0,
});

const irrHas = (regs: Uint8Array, vector: number): boolean =>
  ((regs[APIC_IRR + (vector >> 5) * 0x10 + ((vector >> 3) & 3)] >> (vector & 7)) & 1) === 1;

describe.skipIf(skip !== undefined)(`KVM_SIGNAL_MSI on the host${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('sets the vector in the destination APIC’s IRR and returns 1', () => {
    const kvm = openHostKvm();
    const vm = kvm.createVm();
    try {
      vm.createIrqchip();
      const vcpu = vm.createVcpu(0);
      const lapic = vcpu.getLapic();
      lapic.regs[APIC_SPIV] = 0xff;
      lapic.regs[APIC_SPIV + 1] = 0x01; // SVR bit 8: APIC software enable (SDM Vol. 3A 11.9)
      vcpu.setLapic(lapic);
      expect(irrHas(vcpu.getLapic().regs, 0x41)).toBe(false);
      expect(vm.signalMsi(msi(0, 0x41))).toBe(1);
      expect(irrHas(vcpu.getLapic().regs, 0x41)).toBe(true);
    } finally {
      vm.close();
      kvm.close();
    }
  });

  it('is EINVAL without an irqchip or with a flag other than KVM_MSI_VALID_DEVID, EPERM with no APIC at all', () => {
    const kvm = openHostKvm();
    const vm = kvm.createVm();
    try {
      expect(errnoOf(() => vm.signalMsi(msi(0, 0x41)))).toBe(Errno.EINVAL);
      vm.createIrqchip();
      // No vCPU, so no APIC map: kvm_irq_delivery_to_apic's slow path finds no one (-1: EPERM).
      expect(errnoOf(() => vm.signalMsi(msi(0, 0x41)))).toBe(Errno.EPERM);
      vm.createVcpu(0);
      expect(errnoOf(() => vm.signalMsi(msi(0, 0x41, 2)))).toBe(Errno.EINVAL);
    } finally {
      vm.close();
      kvm.close();
    }
  });
});
