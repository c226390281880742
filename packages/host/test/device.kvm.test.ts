/**
 * What the host device adds around the kernel's answers: memory that stays mapped while a slot
 * uses it, mappings released on close, buffers too short for an ioctl refused before the kernel
 * could write past them, and kick handles that are checked.
 */
import { KVM_EXIT, KVM_IOCTL, KvmError, type KvmSystem } from '@kvm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { HostKvmDevice, hostKvmAvailability, kickHostVcpu, openHostKvm } from '../src/index.js';
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
