/**
 * What the host device adds around the kernel's answers: memory that stays mapped while a slot
 * uses it, mappings released on close, buffers too short for an ioctl refused before the kernel
 * could write past them, and kick handles that are checked.
 */
import { KVM_EXIT, KVM_IOCTL, KvmError, type KvmSystem } from '@kvm/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type HostKickHandle,
  HostKvmDevice,
  hostKvmAvailability,
  kickHostVcpu,
  openHostKvm,
} from '../src/index.js';
import { loadNative } from '../src/native.js';
import { assembleReal, assemblerUnavailable, startRealMode } from '../src/testing/index.js';

const availability = hostKvmAvailability();
const skip = availability.available ? assemblerUnavailable() : availability.reason;
if (skip) console.warn(`[device.kvm.test] skipped: ${skip}`);

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KvmError) return e.code;
    throw e;
  }
  return undefined;
}

describe.skipIf(skip !== undefined)(`the host device${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const opened: KvmSystem[] = [];
  const kvm = (): KvmSystem => {
    const k = openHostKvm() as KvmSystem;
    opened.push(k);
    return k;
  };
  afterEach(() => {
    for (const k of opened.splice(0)) k.close();
  });

  it('allocates zeroed, page-aligned guest memory, and refuses sizes that are not whole pages', () => {
    const device = new HostKvmDevice();
    const memory = device.allocateMemory(3 * 4096);
    expect(memory.userspaceAddr % 4096n).toBe(0n);
    expect(memory.buffer.byteLength).toBe(3 * 4096);
    expect(new Uint8Array(memory.buffer).every((b) => b === 0)).toBe(true);
    expect(errnoOf(() => device.allocateMemory(4097))).toBe('EINVAL');
    expect(errnoOf(() => device.allocateMemory(0))).toBe('EINVAL');
  });

  it('refuses with EFAULT an ioctl buffer shorter than the struct the request names', () => {
    const vm = kvm().createVm();
    try {
      const vcpu = vm.createVcpu(0);
      const device = new HostKvmDevice();
      // KVM_GET_REGS writes 144 bytes; 8 would let the kernel write past the buffer.
      expect(
        errnoOf(() =>
          device.ioctl((vcpu as unknown as { fd: number }).fd, KVM_IOCTL.KVM_GET_REGS, new Uint8Array(8)),
        ),
      ).toBe('EFAULT');
    } finally {
      vm.close();
    }
  });

  it('refuses with EFAULT a flexible-array ioctl whose count claims more entries than the buffer holds', () => {
    const vm = kvm().createVm();
    try {
      const fd = (vm.createVcpu(0) as unknown as { fd: number }).fd;
      const device = new HostKvmDevice();
      // struct kvm_msrs { __u32 nmsrs; __u32 pad; struct kvm_msr_entry entries[]; }: 4 claimed, 1 there.
      const msrs = new Uint8Array(8 + 16);
      new DataView(msrs.buffer).setUint32(0, 4, true);
      new DataView(msrs.buffer).setUint32(8, 0x174, true); // IA32_SYSENTER_CS
      expect(errnoOf(() => device.ioctl(fd, KVM_IOCTL.KVM_GET_MSRS, msrs))).toBe('EFAULT');
      // The same buffer with a true count is read.
      new DataView(msrs.buffer).setUint32(0, 1, true);
      expect(device.ioctl(fd, KVM_IOCTL.KVM_GET_MSRS, msrs)).toBe(1);
      // A count the kernel refuses by itself (nmsrs >= MAX_IO_MSRS) keeps the kernel's errno.
      new DataView(msrs.buffer).setUint32(0, 256, true);
      expect(errnoOf(() => device.ioctl(fd, KVM_IOCTL.KVM_GET_MSRS, msrs))).toBe('E2BIG');
      const system = device.open();
      try {
        // struct kvm_cpuid2 { __u32 nent; __u32 padding; entries[] }: room for 0, 100 claimed.
        const cpuid = new Uint8Array(8);
        new DataView(cpuid.buffer).setUint32(0, 100, true);
        expect(errnoOf(() => device.ioctl(system, KVM_IOCTL.KVM_GET_SUPPORTED_CPUID, cpuid))).toBe('EFAULT');
      } finally {
        device.close(system);
      }
    } finally {
      vm.close();
    }
  });

  it('refuses a kvm_run view longer than KVM_GET_VCPU_MMAP_SIZE, whose tail would raise SIGBUS', () => {
    const k = kvm();
    const vm = k.createVm();
    try {
      const fd = (vm.createVcpu(0) as unknown as { fd: number }).fd;
      const size = k.getVcpuMmapSize();
      const device = new HostKvmDevice();
      expect(errnoOf(() => device.mmapRun(fd, size + 4096))).toBe('EINVAL');
      expect(errnoOf(() => device.mmapRun(fd, 0))).toBe('EINVAL');
      expect(device.mmapRun(fd, size).byteLength).toBe(size);
    } finally {
      vm.close();
    }
  });

  it('kicks no vCPU for a handle whose token is not the vCPU’s (negative, NaN, fractional, huge)', () => {
    const vm = kvm().createVm();
    try {
      const vcpu = vm.createVcpu(0);
      const { fd, token } = vcpu.kickHandle() as HostKickHandle;
      const native = loadNative();
      if (!native.ok) throw new Error(native.reason);
      for (const bad of [-1, Number.NaN, token + 0.5, 2 ** 64]) {
        expect(native.addon.kick({ fd, token: bad }), `token ${bad}`).toBe(false);
      }
      expect(native.addon.kick({ fd, token })).toBe(true);
    } finally {
      vm.close();
    }
  });

  it('releases the kvm_run mapping when the vCPU is closed', () => {
    const vm = kvm().createVm();
    try {
      const vcpu = vm.createVcpu(0);
      expect(vcpu.kvmRun.bytes.buffer.byteLength).toBeGreaterThan(0);
      vcpu.close();
      expect(vcpu.kvmRun.bytes.buffer.byteLength).toBe(0); // detached, then unmapped
    } finally {
      vm.close();
    }
  });

  it('keeps a memory slot’s pages mapped after the caller dropped every reference to them', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'vitest runs this file with --expose-gc').toBeTypeOf('function');
    const vm = kvm().createVm();
    try {
      // Only the VM's slot refers to the memory once this function returns.
      (() => {
        const memory = vm.allocateMemory(0x10000);
        new Uint8Array(memory.buffer).set(assembleReal('mov al, [0x1000]\nhlt'), 0x1000);
        vm.setUserMemoryRegion({
          slot: 0,
          flags: 0,
          guestPhysAddr: 0n,
          memorySize: 0x10000n,
          userspaceAddr: memory.userspaceAddr,
        });
      })();
      for (let i = 0; i < 3; i++) {
        gc!();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const vcpu = vm.createVcpu(0);
      startRealMode(vcpu, 0x1000);
      // Were the pages unmapped, the guest could not fetch its code (KVM_EXIT_INTERNAL_ERROR).
      expect(vcpu.run()).toBe(KVM_EXIT.HLT);
      expect(vcpu.getRegs().rax & 0xffn).toBe(0xa0n); // the first byte of `mov al, [moffs]`
    } finally {
      vm.close();
    }
  });

  it('checks kick handles: EBADF for an fd with no kvm_run, EINVAL for another engine’s handle', () => {
    const device = new HostKvmDevice();
    expect(errnoOf(() => device.kickHandle(0))).toBe('EBADF');
    expect(errnoOf(() => kickHostVcpu({ engine: 'vmx', vcpu: 0 }))).toBe('EINVAL');
  });
});
