import { KVM_EXIT, openKvm } from '@kvm/core';
import { protectedModeGuest as sharedProtectedModeGuest } from '@kvm/core/testing';
import { describe, expect, it } from 'vitest';
import { createVmxDevice, createVmxKvm, type VmxDriver } from '../src/index.js';

/** Flat 32-bit protected mode on a fresh VMX engine (the shared helper of @kvm/core/testing). */
function protectedModeGuest(code: number[]) {
  return sharedProtectedModeGuest(createVmxKvm(), code);
}

describe('VMX driver: guest-owned CR bits and teardown', () => {
  it('reads back CR4 bits the guest changed without an exit (decache_cr4_guest_bits)', () => {
    // mov eax, cr4 ; or eax, 0x200 (OSFXSR) ; mov cr4, eax ; hlt
    const { vm, vcpu } = protectedModeGuest([
      0x0f, 0x20, 0xe0, 0x0d, 0x00, 0x02, 0x00, 0x00, 0x0f, 0x22, 0xe0, 0xf4,
    ]);
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    expect(vcpu.getSregs().cr4 & 0x200n).toBe(0x200n);
    // OSFXSR is guest-owned: the MOV to CR4 did not exit.
    expect(vm.getStats().exit_cr_access ?? 0).toBe(0);
  });

  it('tears a VM down without a VMX instruction error and returns every hypervisor page', () => {
    const device = createVmxDevice();
    const kvm = openKvm(device);
    const vm = kvm.createVm();
    const mem = vm.allocateMemory(1 << 16);
    vm.setUserMemoryRegion({
      slot: 0,
      flags: 0,
      guestPhysAddr: 0n,
      memorySize: 1n << 16n,
      userspaceAddr: mem.userspaceAddr,
    });
    new Uint8Array(mem.buffer).set([0xf4], 0x1000);
    const before = device.ops.memory.allocatedPages;
    const vcpu = vm.createVcpu(0);
    const s = vcpu.getSregs();
    vcpu.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n });
    expect(vcpu.run()).toBe(KVM_EXIT.HLT);
    vm.close();
    const driver = device.ops as VmxDriver;
    expect(driver.vmcs.errors).toEqual([]);
    expect(driver.cpu.vmptrst()).toBe(-1);
    expect(device.ops.memory.allocatedPages).toBe(before);
  });
});
