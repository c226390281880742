/**
 * `Vm.signalMsi` (KVM_SIGNAL_MSI) through the typed front end onto the software engine's
 * irqchip: the message reaches the addressed local APIC's IRR, and misuse gets Linux's errnos.
 */
import { describe, expect, it } from 'vitest';
import { Errno, KvmError } from '../../src/api/errors.js';
import { openKvm } from '../../src/front/kvm-system.js';
import { SoftKvmDevice } from '../../src/soft/device.js';
import { fakeArch } from './fake-arch.js';

const APIC_SPIV = 0xf0;
const APIC_IRR = 0x200;
/** SVR bit 8: APIC software enable (SDM Vol. 3A 11.9). */
const APIC_SPIV_APIC_ENABLED = 0x100;

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

function irrHas(regs: Uint8Array, vector: number): boolean {
  return ((regs[APIC_IRR + (vector >> 5) * 0x10 + ((vector >> 3) & 3)] >> (vector & 7)) & 1) === 1;
}

describe('Vm.signalMsi (KVM_SIGNAL_MSI)', () => {
  it('sets the vector in the destination APIC’s IRR and returns how many APICs took it', () => {
    const vm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null })).createVm();
    vm.createIrqchip();
    const vcpu = vm.createVcpu(0);
    const lapic = vcpu.getLapic();
    lapic.regs[APIC_SPIV] = 0xff;
    lapic.regs[APIC_SPIV + 1] = APIC_SPIV_APIC_ENABLED >> 8;
    vcpu.setLapic(lapic);
    expect(irrHas(vcpu.getLapic().regs, 0x41)).toBe(false);
    expect(vm.signalMsi(msi(0, 0x41))).toBe(1);
    expect(irrHas(vcpu.getLapic().regs, 0x41)).toBe(true);
    vm.close();
  });

  it('is EINVAL without an irqchip or with a flag other than KVM_MSI_VALID_DEVID, EPERM with no APIC at all', () => {
    const vm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null })).createVm();
    expect(errnoOf(() => vm.signalMsi(msi(0, 0x41)))).toBe(Errno.EINVAL);
    vm.createIrqchip();
    // No vCPU yet: no APIC takes it, kvm_send_userspace_msi's -1 (the host answers the same:
    // @kvm/host's shared irqchip suite).
    expect(errnoOf(() => vm.signalMsi(msi(0, 0x41)))).toBe(Errno.EPERM);
    vm.createVcpu(0);
    expect(errnoOf(() => vm.signalMsi(msi(0, 0x41, 2)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.signalMsi({ ...msi(0, 0x41), data: -1 }))).toBe(Errno.EINVAL);
    vm.close();
  });
});
