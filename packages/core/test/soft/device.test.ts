import { describe, expect, it } from 'vitest';
import { KVM_CAP } from '../../src/abi/capabilities.js';
import { KVM_IOCTL } from '../../src/abi/ioctls.js';
import { Errno, KvmError } from '../../src/api/errors.js';
import { openKvm } from '../../src/front/kvm-system.js';
import { SoftKvmDevice } from '../../src/soft/device.js';
import { fakeArch } from './fake-arch.js';

function errnoOf(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof KvmError) return e.errno;
    throw e;
  }
  return 0;
}

const region = (slot: number, gpa: bigint, size: bigint, addr: bigint, flags = 0) => ({
  slot,
  flags,
  guestPhysAddr: gpa,
  memorySize: size,
  userspaceAddr: addr,
});

describe('SoftKvmDevice', () => {
  it('refuses a backend whose hardware check fails, with its reason and EOPNOTSUPP', () => {
    const e = (() => {
      try {
        new SoftKvmDevice(fakeArch({ ok: false, reason: 'disabled by bios' }));
      } catch (x) {
        return x as KvmError;
      }
      throw new Error('accepted');
    })();
    expect(e.errno).toBe(Errno.EOPNOTSUPP);
    expect(e.message).toContain('disabled by bios');
  });

  it('speaks API version 12 through openKvm and answers capabilities as the host kernel does', () => {
    const kvm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null }));
    expect(kvm.getApiVersion()).toBe(12);
    expect(kvm.checkExtension(KVM_CAP.NR_MEMSLOTS)).toBe(32764);
    expect(kvm.checkExtension(KVM_CAP.MAX_VCPU_ID)).toBe(4096);
    expect(kvm.checkExtension(KVM_CAP.IRQCHIP)).toBe(1);
    expect(kvm.checkExtension(KVM_CAP.IRQ_ROUTING)).toBe(4096);
    expect(kvm.getVcpuMmapSize()).toBe(12288);
  });

  it('lists the MSRs the silicon implements, then the ones KVM emulates whatever it has', () => {
    const kvm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null }));
    // IA32_MISC_ENABLE (1A0H) is emulated_msrs', IA32_SPEC_CTRL (48H) the generic part's here:
    // listed though the fake silicon lacks them.
    expect(kvm.getMsrIndexList()).toEqual([0x174, 0x10, 0x1a0, 0x48]);
  });

  it('gives Linux errnos for unknown ioctls per fd kind and for bad fds', () => {
    const dev = new SoftKvmDevice(fakeArch(), { mmu: null });
    const sys = dev.open();
    const vm = dev.ioctl(sys, KVM_IOCTL.KVM_CREATE_VM, 0);
    const vcpu = dev.ioctl(vm, KVM_IOCTL.KVM_CREATE_VCPU, 0);
    const bogus = 0xaeff;
    expect(errnoOf(() => dev.ioctl(sys, bogus, 0))).toBe(Errno.EINVAL);
    expect(errnoOf(() => dev.ioctl(vm, bogus, 0))).toBe(Errno.ENOTTY);
    expect(errnoOf(() => dev.ioctl(vcpu, bogus, 0))).toBe(Errno.EINVAL);
    expect(errnoOf(() => dev.ioctl(sys, KVM_IOCTL.KVM_RUN, 0))).toBe(Errno.EINVAL);
    expect(errnoOf(() => dev.ioctl(99, KVM_IOCTL.KVM_GET_API_VERSION, 0))).toBe(Errno.EBADF);
    expect(errnoOf(() => dev.ioctl(sys, KVM_IOCTL.KVM_CREATE_VM, 5))).toBe(Errno.EINVAL);
    expect(errnoOf(() => dev.ioctl(vcpu, KVM_IOCTL.KVM_GET_REGS, new Uint8Array(10)))).toBe(Errno.EFAULT);
  });

  it('checks memory slots with the errnos of kvm_set_memory_region', () => {
    const kvm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null }));
    const vm = kvm.createVm();
    const m = vm.allocateMemory(1 << 20);
    const a = m.userspaceAddr;
    vm.setUserMemoryRegion(region(0, 0n, 0x100000n, a));
    expect(errnoOf(() => vm.setUserMemoryRegion(region(1, 0n, 0x100000n, a)))).toBe(Errno.EEXIST);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(1, 0x100800n, 0x1000n, a)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(1, 0x200000n, 0x800n, a)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(1, 0x200000n, 0x1000n, a + 8n)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(1, 0x200000n, 0x1000n, a, 0x80)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(32764, 0x200000n, 0x1000n, a)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(0x10005, 0x200000n, 0x1000n, a)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(7, 0n, 0n, a)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(0, 0n, 0x100000n, a + 0x1000n)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(0, 0n, 0x80000n, a)))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vm.setUserMemoryRegion(region(3, 0xfffffffffffff000n, 0x2000n, a)))).toBe(
      Errno.EINVAL,
    );
    expect(errnoOf(() => vm.setUserMemoryRegion(region(4, 0x900000n, 0x1000n, 0xffff800000000000n)))).toBe(
      Errno.EINVAL,
    );
    // Accepted by Linux too: a move, the same region again, dirty logging on, an unmapped hva.
    vm.setUserMemoryRegion(region(0, 0x400000n, 0x100000n, a));
    vm.setUserMemoryRegion(region(0, 0x400000n, 0x100000n, a));
    vm.setUserMemoryRegion(region(0, 0x400000n, 0x100000n, a, 1));
    vm.setUserMemoryRegion(region(4, 0x900000n, 0x1000n, 0x1000n));
    vm.setUserMemoryRegion(region(32763, 0x200000n, 0x1000n, a));
    vm.setUserMemoryRegion(region(32763, 0n, 0n, a));
    expect(errnoOf(() => vm.setUserMemoryRegion(region(32763, 0n, 0n, a)))).toBe(Errno.EINVAL);
  });

  it('creates vCPUs with the index checks of KVM_CREATE_VCPU', () => {
    const kvm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null }));
    const vm = kvm.createVm();
    vm.createVcpu(0);
    expect(errnoOf(() => vm.createVcpu(0))).toBe(Errno.EEXIST);
    expect(errnoOf(() => vm.createVcpu(4096))).toBe(Errno.EINVAL);
    expect(vm.createVcpu(4095).id).toBe(4095);
  });

  it('frees the control structure when a vCPU is closed, and nothing is left after a failed create', () => {
    const arch = fakeArch();
    const kvm = openKvm(new SoftKvmDevice(arch, { mmu: null }));
    const vm = kvm.createVm();
    const v = vm.createVcpu(1);
    v.close();
    expect(arch.freed).toBe(1);
    const failing = fakeArch({ ok: true }, { failCreate: true });
    const vm2 = openKvm(new SoftKvmDevice(failing, { mmu: null })).createVm();
    expect(() => vm2.createVcpu(0)).toThrow();
    // The id is free again: the failed create left nothing registered.
    expect(failing.freed).toBe(0);
  });

  it('keeps registers, the interrupt bitmap and MSRs through the ioctls', () => {
    const kvm = openKvm(new SoftKvmDevice(fakeArch(), { mmu: null }));
    const vcpu = kvm.createVm().createVcpu(0);
    const regs = vcpu.getRegs();
    expect(regs.rip).toBe(0xfff0n);
    vcpu.setRegs({ ...regs, rax: 0x1234_5678_9abc_def0n, rsp: 0x7000n, rflags: 0x200n });
    const back = vcpu.getRegs();
    expect(back.rax).toBe(0x1234_5678_9abc_def0n);
    expect(back.rsp).toBe(0x7000n);
    expect(back.rflags).toBe(0x202n);
    expect(errnoOf(() => vcpu.interrupt(256))).toBe(Errno.EINVAL);
    vcpu.interrupt(0x41);
    const s = vcpu.getSregs();
    expect(s.interruptBitmap[1]).toBe(1n << 1n);
    expect(errnoOf(() => vcpu.setSregs({ ...s, cr0: 0x80000000n }))).toBe(Errno.EINVAL);
    expect(errnoOf(() => vcpu.setSregs({ ...s, cr4: 1n << 20n }))).toBe(Errno.EINVAL);
    expect(vcpu.getMsrs([0x1a0, 0xdeadbeef, 0x1b]).map((e) => e.index)).toEqual([0x1a0]);
    expect(vcpu.setMsrs([{ index: 0x1a0, data: 0x1801n }])).toBe(1);
    expect(vcpu.getMsrs([0x1a0])[0].data).toBe(0x1801n);
  });

  it('two devices with different backends live side by side', () => {
    const a = fakeArch();
    const b = { ...fakeArch(), name: 'other' };
    const ka = openKvm(new SoftKvmDevice(a, { mmu: null }));
    const kb = openKvm(new SoftKvmDevice(b, { mmu: null }));
    expect(ka.engine).toBe('fake');
    expect(kb.engine).toBe('other');
    ka.createVm().createVcpu(0);
    expect(a.created).toBe(1);
  });
});
