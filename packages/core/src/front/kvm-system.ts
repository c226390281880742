/**
 * `KvmSystem`: the typed `/dev/kvm` handle over a system fd, and `openKvm`, which opens one and
 * refuses an engine that speaks another API version (kvmtool's `kvm__init` checks, each with its
 * own message).
 */

import { kvmMsrList } from '../abi/flex.js';
import { KVM_API_VERSION } from '../abi/version.js';
import { Errno, KvmError } from '../api/errors.js';
import type { KvmCpuidEntry2 } from '../api/structs.js';
import type { Kvm } from '../api/types.js';
import type { KvmDevice } from './device.js';
import { asKvmError, DeviceFd } from './fd.js';
import { getCpuidTable } from './kvm-vcpu.js';
import { KvmVm } from './kvm-vm.js';

/** Most MSR indices we accept from KVM_GET_MSR_INDEX_LIST. */
const MSR_LIST_CAPACITY_MAX = 65536;

export class KvmSystem implements Kvm {
  readonly engine: string;
  private readonly handle: DeviceFd;

  /** Use `openKvm`. */
  constructor(
    readonly device: KvmDevice,
    readonly fd: number,
  ) {
    this.engine = device.engine;
    this.handle = new DeviceFd(device, fd);
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  getApiVersion(): number {
    return this.handle.ioctl('KVM_GET_API_VERSION', 0);
  }

  checkExtension(cap: number): number {
    if (!Number.isInteger(cap)) throw new KvmError('KVM_CHECK_EXTENSION', Errno.EINVAL, `cap ${cap}`);
    return this.handle.ioctl('KVM_CHECK_EXTENSION', cap);
  }

  getVcpuMmapSize(): number {
    return this.handle.ioctl('KVM_GET_VCPU_MMAP_SIZE', 0);
  }

  getSupportedCpuid(): KvmCpuidEntry2[] {
    this.handle.check('KVM_GET_SUPPORTED_CPUID');
    return getCpuidTable(
      (buf) => this.handle.ioctl('KVM_GET_SUPPORTED_CPUID', buf),
      'KVM_GET_SUPPORTED_CPUID',
    );
  }

  /** KVM_GET_EMULATED_CPUID: the CPUID bits KVM emulates (not necessarily fast). */
  getEmulatedCpuid(): KvmCpuidEntry2[] {
    this.handle.check('KVM_GET_EMULATED_CPUID');
    return getCpuidTable((buf) => this.handle.ioctl('KVM_GET_EMULATED_CPUID', buf), 'KVM_GET_EMULATED_CPUID');
  }

  getMsrIndexList(): number[] {
    return this.msrList('KVM_GET_MSR_INDEX_LIST');
  }

  /** KVM_GET_MSR_FEATURE_INDEX_LIST: MSRs that describe features (KVM_CAP_GET_MSR_FEATURES). */
  getMsrFeatureIndexList(): number[] {
    return this.msrList('KVM_GET_MSR_FEATURE_INDEX_LIST');
  }

  /**
   * The kernel writes the number it has into `nmsrs` even when it fails with E2BIG, so one call
   * with room for none tells the size, the second fills it (retried if the list grew).
   */
  private msrList(op: 'KVM_GET_MSR_INDEX_LIST' | 'KVM_GET_MSR_FEATURE_INDEX_LIST'): number[] {
    this.handle.check(op);
    let capacity = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const buf = kvmMsrList.encode([], capacity);
      try {
        this.handle.ioctl(op, buf);
        return kvmMsrList.decode(buf);
      } catch (e) {
        if (!(e instanceof KvmError) || e.errno !== Errno.E2BIG) throw e;
        const needed = kvmMsrList.count(buf);
        capacity = needed > capacity ? needed : capacity * 2 + 64;
        if (capacity > MSR_LIST_CAPACITY_MAX) break;
      }
    }
    throw new KvmError(op, Errno.E2BIG, 'the list kept growing');
  }

  /**
   * KVM_CREATE_VM. Asks KVM_GET_VCPU_MMAP_SIZE first and hands it to the VM, so the VM never
   * needs this handle again.
   */
  createVm(): KvmVm {
    const mmapSize = this.getVcpuMmapSize();
    const vmFd = this.handle.ioctl('KVM_CREATE_VM', 0);
    return new KvmVm(this.device, vmFd, mmapSize);
  }

  /** Closes the system fd only; VMs created from it stay valid. A second call does nothing. */
  close(): void {
    this.handle.close();
  }
}

/**
 * Opens an engine's `/dev/kvm` and checks KVM_GET_API_VERSION. Throws KvmError: whatever
 * `device.open()` throws (ENOENT, EACCES, …), and EPROTO if the engine speaks another API
 * version than `KVM_API_VERSION` (12), with both versions in the message.
 */
export function openKvm(device: KvmDevice): KvmSystem {
  let fd: number;
  try {
    fd = device.open();
  } catch (e) {
    throw asKvmError('open /dev/kvm', e);
  }
  const kvm = new KvmSystem(device, fd);
  let version: number;
  try {
    version = kvm.getApiVersion();
  } catch (e) {
    closeQuietly(kvm);
    throw e;
  }
  if (version !== KVM_API_VERSION) {
    closeQuietly(kvm);
    throw new KvmError(
      'KVM_GET_API_VERSION',
      Errno.EPROTO,
      `engine '${device.engine}' speaks KVM API version ${version}, @kvm/core speaks version ${KVM_API_VERSION}`,
    );
  }
  return kvm;
}

/** Closes `kvm` on a failure path, where the first error is the one to report. */
function closeQuietly(kvm: KvmSystem): void {
  try {
    kvm.close();
  } catch {
    // Reported: the error that made us close.
  }
}
