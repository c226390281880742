/**
 * The front end against a small fake `KvmDevice` that follows Linux's rules for fds and the
 * handful of ioctls these tests use (dispatching by the ioctl table, as an engine does). The
 * real engines run the same front end in their own `*.kvm.test.ts` suites.
 */
import { describe, expect, it } from 'vitest';
import { KVM_EXIT, KVM_EXIT_IO_OUT } from '../abi/exit-reasons.js';
import { kvmCpuid2, kvmMsrList, kvmMsrs } from '../abi/flex.js';
import { lookupIoctl } from '../abi/ioctls.js';
import { KvmRunView } from '../abi/run.js';
import { kvmRegs, kvmUserspaceMemoryRegion } from '../abi/structs.js';
import { Errno, KvmError } from '../api/errors.js';
import type { HostMemory, VcpuKickHandle } from '../api/types.js';
import type { KvmDevice } from './device.js';
import { openKvm } from './kvm-system.js';

type FdState =
  | { kind: 'system' }
  | { kind: 'vm'; vcpuIds: Set<number>; slots: Map<number, { gpa: bigint; size: bigint }> }
  | { kind: 'vcpu'; run: KvmRunView; regs: Uint8Array };

const fail = (op: string, errno: number): KvmError => new KvmError(op, errno);

class FakeDevice implements KvmDevice {
  readonly engine = 'fake';
  apiVersion = 12;
  readonly fds = new Map<number, FdState>();
  readonly calls: string[] = [];
  readonly msrs = new Map<number, bigint>([
    [0x10, 1234n],
    [0x174, 8n],
    [0xc0000080, 0x500n],
  ]);
  readonly cpuidCount = 100;
  throwOnRun: unknown = null;
  private nextFd = 3;

  open(): number {
    return this.add({ kind: 'system' });
  }

  private add(state: FdState): number {
    const fd = this.nextFd++;
    this.fds.set(fd, state);
    return fd;
  }

  ioctl(fd: number, request: number, arg: Uint8Array | number): number {
    const state = this.fds.get(fd);
    const def = lookupIoctl(request);
    this.calls.push(def?.name ?? 'unknown');
    if (!state) throw fail('ioctl', Errno.EBADF);
    if (!def?.scopes.includes(state.kind)) throw fail('ioctl', Errno.ENOTTY);
    const bytes = arg instanceof Uint8Array ? arg : new Uint8Array(0);
    switch (def.name) {
      case 'KVM_GET_API_VERSION':
        return this.apiVersion;
      case 'KVM_CHECK_EXTENSION':
        return arg === 3 ? 1 : 0;
      case 'KVM_GET_VCPU_MMAP_SIZE':
        return 3 * 4096;
      case 'KVM_CREATE_VM':
        return this.add({ kind: 'vm', vcpuIds: new Set(), slots: new Map() });
      case 'KVM_GET_MSR_INDEX_LIST': {
        const capacity = kvmMsrList.count(bytes);
        const all = [...this.msrs.keys()];
        bytes.set(kvmMsrList.encode([], all.length).subarray(0, 4));
        if (capacity < all.length) throw fail('KVM_GET_MSR_INDEX_LIST', Errno.E2BIG);
        bytes.set(kvmMsrList.encode(all));
        return 0;
      }
      case 'KVM_GET_SUPPORTED_CPUID': {
        if (kvmCpuid2.count(bytes) < this.cpuidCount) throw fail('KVM_GET_SUPPORTED_CPUID', Errno.E2BIG);
        const entries = Array.from({ length: this.cpuidCount }, (_, i) => ({
          function: i,
          index: 0,
          flags: 0,
          eax: i * 3,
          ebx: 0,
          ecx: 0,
          edx: 0,
        }));
        bytes.set(kvmCpuid2.encode(entries));
        return 0;
      }
      case 'KVM_CREATE_VCPU': {
        if (state.kind !== 'vm') break;
        const id = arg as number;
        if (id >= 1024) throw fail('KVM_CREATE_VCPU', Errno.EINVAL);
        if (state.vcpuIds.has(id)) throw fail('KVM_CREATE_VCPU', Errno.EEXIST);
        state.vcpuIds.add(id);
        return this.add({
          kind: 'vcpu',
          run: new KvmRunView(new ArrayBuffer(3 * 4096)),
          regs: new Uint8Array(144),
        });
      }
      case 'KVM_SET_USER_MEMORY_REGION': {
        if (state.kind !== 'vm') break;
        const r = kvmUserspaceMemoryRegion.decode(bytes);
        for (const [slot, s] of state.slots) {
          if (slot !== r.slot && r.guestPhysAddr < s.gpa + s.size && s.gpa < r.guestPhysAddr + r.memorySize) {
            throw fail('KVM_SET_USER_MEMORY_REGION', Errno.EEXIST);
          }
        }
        state.slots.set(r.slot, { gpa: r.guestPhysAddr, size: r.memorySize });
        return 0;
      }
      case 'KVM_RUN': {
        if (state.kind !== 'vcpu') break;
        if (this.throwOnRun) throw this.throwOnRun;
        const run = state.run;
        run.exitReason = KVM_EXIT.IO;
        run.io.direction = KVM_EXIT_IO_OUT;
        run.io.size = 1;
        run.io.port = 0x3f8;
        run.io.count = 1;
        run.io.dataOffset = 4096;
        run.io.value = 0x41;
        return 0;
      }
      case 'KVM_GET_REGS':
        if (state.kind !== 'vcpu') break;
        bytes.set(state.regs);
        return 0;
      case 'KVM_SET_REGS':
        if (state.kind !== 'vcpu') break;
        state.regs.set(bytes.subarray(0, 144));
        return 0;
      case 'KVM_GET_MSRS': {
        // Linux's __msr_io: in order, stopping at the first MSR it cannot read.
        const entries = kvmMsrs.decode(bytes);
        let n = 0;
        for (; n < entries.length; n++) {
          const value = this.msrs.get(entries[n].index);
          if (value === undefined) break;
          new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(8 + 16 * n + 8, value, true);
        }
        return n;
      }
    }
    throw fail(def.name, Errno.EINVAL);
  }

  close(fd: number): void {
    if (!this.fds.delete(fd)) throw fail('close', Errno.EBADF);
  }

  mmapRun(vcpuFd: number): ArrayBufferLike {
    const state = this.fds.get(vcpuFd);
    if (state?.kind !== 'vcpu') throw fail('mmap', Errno.EBADF);
    return state.run.bytes.buffer;
  }

  allocateMemory(size: number): HostMemory {
    return { userspaceAddr: 0x7f0000000000n, size, buffer: new ArrayBuffer(size) };
  }

  kickHandle(vcpuFd: number): VcpuKickHandle {
    return { engine: this.engine, fd: vcpuFd };
  }

  kick(): void {}

  getStats(): Record<string, number> {
    return { shadow_pages: 7 };
  }
}

function errorOf(fn: () => unknown): KvmError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KvmError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('openKvm', () => {
  it('accepts an engine that speaks API version 12', () => {
    const device = new FakeDevice();
    const kvm = openKvm(device);
    expect(kvm.engine).toBe('fake');
    expect(kvm.getApiVersion()).toBe(12);
    expect(kvm.checkExtension(3)).toBe(1);
  });

  it('refuses another API version with EPROTO, naming both versions, and closes the fd', () => {
    const device = new FakeDevice();
    device.apiVersion = 11;
    const err = errorOf(() => openKvm(device));
    expect(err.errno).toBe(Errno.EPROTO);
    expect(err.op).toBe('KVM_GET_API_VERSION');
    expect(err.message).toContain('version 11');
    expect(err.message).toContain('version 12');
    expect(err.message).toContain("'fake'");
    expect(device.fds.size).toBe(0);
  });
});

describe('errors', () => {
  it('pass the engine errno through unchanged', () => {
    const vm = openKvm(new FakeDevice()).createVm();
    vm.createVcpu(0);
    const err = errorOf(() => vm.createVcpu(0));
    expect(err.errno).toBe(Errno.EEXIST);
    expect(err.code).toBe('EEXIST');
    expect(errorOf(() => vm.createVcpu(5000)).errno).toBe(Errno.EINVAL);
  });

  it('turn arguments C could not express into EINVAL before reaching the engine', () => {
    const device = new FakeDevice();
    const vm = openKvm(device).createVm();
    const before = device.calls.length;
    expect(errorOf(() => vm.createVcpu(-1)).errno).toBe(Errno.EINVAL);
    expect(errorOf(() => vm.createVcpu(1.5)).errno).toBe(Errno.EINVAL);
    expect(
      errorOf(() =>
        vm.setUserMemoryRegion({ slot: -1, flags: 0, guestPhysAddr: 0n, memorySize: 0n, userspaceAddr: 0n }),
      ).errno,
    ).toBe(Errno.EINVAL);
    expect(errorOf(() => vm.allocateMemory(0)).errno).toBe(Errno.EINVAL);
    expect(device.calls.length).toBe(before);
  });

  it('turn an engine bug (a non-KvmError) into EIO that keeps the cause', () => {
    const device = new FakeDevice();
    const vcpu = openKvm(device).createVm().createVcpu(0);
    const bug = new TypeError('oops');
    device.throwOnRun = bug;
    const err = errorOf(() => vcpu.run());
    expect(err.errno).toBe(Errno.EIO);
    expect(err.op).toBe('KVM_RUN');
    expect((err as { cause?: unknown }).cause).toBe(bug);
    device.throwOnRun = new KvmError('KVM_RUN', Errno.EINTR);
    expect(errorOf(() => vcpu.run()).errno).toBe(Errno.EINTR);
  });

  it('report an overlapping memory slot as the engine does (EEXIST)', () => {
    const vm = openKvm(new FakeDevice()).createVm();
    const mem = vm.allocateMemory(8192);
    vm.setUserMemoryRegion({
      slot: 0,
      flags: 0,
      guestPhysAddr: 0n,
      memorySize: 8192n,
      userspaceAddr: mem.userspaceAddr,
    });
    const err = errorOf(() =>
      vm.setUserMemoryRegion({
        slot: 1,
        flags: 0,
        guestPhysAddr: 4096n,
        memorySize: 4096n,
        userspaceAddr: mem.userspaceAddr,
      }),
    );
    expect(err.errno).toBe(Errno.EEXIST);
  });
});

describe('handle lifetimes', () => {
  it('keeps VMs working after an early close of the system handle', () => {
    const device = new FakeDevice();
    const kvm = openKvm(device);
    const vm = kvm.createVm();
    kvm.close();
    expect(errorOf(() => kvm.getApiVersion()).errno).toBe(Errno.EBADF);
    const vcpu = vm.createVcpu(0);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.io.port).toBe(0x3f8);
    kvm.close(); // a second close is harmless
  });

  it('closes every vCPU with its VM; later calls are EBADF', () => {
    const device = new FakeDevice();
    const kvm = openKvm(device);
    const vm = kvm.createVm();
    const a = vm.createVcpu(0);
    const b = vm.createVcpu(1);
    b.close();
    vm.close();
    expect([...device.fds.values()].map((s) => s.kind)).toEqual(['system']);
    expect(errorOf(() => a.run()).errno).toBe(Errno.EBADF);
    expect(errorOf(() => a.getRegs()).errno).toBe(Errno.EBADF);
    expect(errorOf(() => vm.createVcpu(2)).errno).toBe(Errno.EBADF);
    a.close();
    vm.close();
  });
});

describe('close under failure', () => {
  it('still closes the VM fd when closing a vCPU fails, then reports that failure', () => {
    const device = new FakeDevice();
    const vm = openKvm(device).createVm();
    const vcpu = vm.createVcpu(0);
    device.fds.delete(vcpu.fd); // the engine already lost it: close() will say EBADF
    const err = errorOf(() => vm.close());
    expect(err.errno).toBe(Errno.EBADF);
    expect([...device.fds.values()].map((s) => s.kind)).toEqual(['system']);
    expect(vm.closed).toBe(true);
  });
});

describe('typed calls', () => {
  it('run returns kvm_run.exit_reason and the view shows the exit', () => {
    const vcpu = openKvm(new FakeDevice()).createVm().createVcpu(0);
    expect(vcpu.run()).toBe(KVM_EXIT.IO);
    expect(vcpu.kvmRun.exit()).toMatchObject({ reason: 'io', direction: 'out', port: 0x3f8, size: 1 });
    expect(vcpu.kvmRun.io.value).toBe(0x41);
  });

  it('counts exits per VM and merges the engine counters', () => {
    const vm = openKvm(new FakeDevice()).createVm();
    const a = vm.createVcpu(0);
    const b = vm.createVcpu(1);
    a.run();
    a.run();
    b.run();
    expect(vm.getStats()).toEqual({ exits: 3, exits_io: 3, shadow_pages: 7 });
  });

  it('passes register bytes through the codec both ways', () => {
    const vcpu = openKvm(new FakeDevice()).createVm().createVcpu(0);
    const regs = vcpu.getRegs();
    expect(regs.rip).toBe(0n);
    regs.rip = 0x7c00n;
    regs.rax = 0xffff_ffff_ffff_ffffn;
    regs.rflags = 2n;
    vcpu.setRegs(regs);
    expect(vcpu.getRegs()).toEqual(regs);
    expect(kvmRegs.encode(vcpu.getRegs())).toEqual(kvmRegs.encode(regs));
  });

  it('sizes the MSR index list with the E2BIG protocol', () => {
    const device = new FakeDevice();
    const kvm = openKvm(device);
    expect(kvm.getMsrIndexList()).toEqual([0x10, 0x174, 0xc0000080]);
    expect(device.calls.filter((c) => c === 'KVM_GET_MSR_INDEX_LIST').length).toBe(2);
  });

  it('grows the CPUID buffer until the table fits', () => {
    const entries = openKvm(new FakeDevice()).getSupportedCpuid();
    expect(entries.length).toBe(100);
    expect(entries[99]).toMatchObject({ function: 99, eax: 297 });
  });

  it('returns only the MSRs the engine read', () => {
    const vcpu = openKvm(new FakeDevice()).createVm().createVcpu(0);
    expect(vcpu.getMsrs([0x10, 0x174, 0x9999, 0xc0000080])).toEqual([
      { index: 0x10, data: 1234n },
      { index: 0x174, data: 8n },
    ]);
  });

  it('hands out the engine kick handle', () => {
    const vcpu = openKvm(new FakeDevice()).createVm().createVcpu(0);
    expect(vcpu.kickHandle()).toEqual({ engine: 'fake', fd: vcpu.fd });
  });
});
