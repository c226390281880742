/**
 * `HostKvmDevice`: core's raw `KvmDevice` over the host kernel's `/dev/kvm`, through the native
 * addon. Bytes go straight through: the kernel reads and writes the very Uint8Arrays the front
 * end's codecs filled. The only things this layer adds are errors as KvmErrors, the kick
 * handles, and keeping guest memory alive while a memory slot points at it.
 */
import { constants as bufferConstants } from 'node:buffer';
import type { HostMemory, KvmDevice, VcpuKickHandle } from '@kvm/core';
import { Errno, ioctlName, KVM_IOCTL, KvmError } from '@kvm/core';
import { describeOpenError } from './messages.js';
import { isNativeError, loadNative, type NativeAddon } from './native.js';

/** The kick handle of a host vCPU: its fd and a token that tells it from a later fd reuse. */
export interface HostKickHandle extends VcpuKickHandle {
  readonly engine: 'host';
  readonly fd: number;
  readonly token: number;
}

export interface HostKvmDeviceOptions {
  /** The device node; `/dev/kvm` unless told otherwise. */
  path?: string;
}

const PAGE_SIZE = 4096;
/** The largest ArrayBuffer the addon can hand out (Node refuses longer external buffers). */
const MAX_LENGTH = bufferConstants.MAX_LENGTH;
// struct kvm_userspace_memory_region: slot u32 @0, flags u32 @4, guest_phys_addr u64 @8,
// memory_size u64 @16, userspace_addr u64 @24.
const REGION_SLOT = 0;
const REGION_MEMORY_SIZE = 16;
const REGION_USERSPACE_ADDR = 24;

/** The addon, or a KvmError (ENODEV) that says why there is none. */
export function requireNative(op: string): NativeAddon {
  const native = loadNative();
  if (!native.ok) throw new KvmError(op, Errno.ENODEV, native.reason);
  return native.addon;
}

/** A native error as a KvmError for `op`, keeping the kernel's errno. */
export function toKvmError(op: string, error: unknown): KvmError {
  if (error instanceof KvmError) return error;
  if (isNativeError(error)) {
    const detail = error.message.includes(': ')
      ? error.message.slice(error.message.indexOf(': ') + 2)
      : undefined;
    const kvmError = new KvmError(op, error.errno, detail);
    (kvmError as { cause?: unknown }).cause = error;
    return kvmError;
  }
  const kvmError = new KvmError(op, Errno.EIO, error instanceof Error ? error.message : String(error));
  (kvmError as { cause?: unknown }).cause = error;
  return kvmError;
}

export class HostKvmDevice implements KvmDevice {
  readonly engine = 'host';
  readonly path: string;
  /** kvm_run mappings by vCPU fd, released (munmapped once nobody kicks it) on close. */
  private readonly runs = new Map<number, ArrayBuffer>();
  /** Guest memory we handed out, by hva; weak until a memory slot uses it. */
  private readonly memories = new Map<bigint, WeakRef<HostMemory>>();
  /** Memory slots' backing per VM fd: the kernel holds only an address, so we hold the pages. */
  private readonly pins = new Map<number, Map<number, HostMemory>>();
  private readonly collected = new FinalizationRegistry<bigint>((hva) => {
    if (this.memories.get(hva)?.deref() === undefined) this.memories.delete(hva);
  });

  /** KVM_GET_VCPU_MMAP_SIZE, once asked. */
  private mmapSize: number | undefined;

  /** The addon once loaded (KVM_RUN is the hot path: no lookups per call). */
  private addon: NativeAddon | undefined;

  constructor(options: HostKvmDeviceOptions = {}) {
    this.path = options.path ?? '/dev/kvm';
  }

  /** The addon, or KvmError(ENODEV) naming `op` and why there is none. */
  private native(op: string): NativeAddon {
    this.addon ??= requireNative(op);
    return this.addon;
  }

  open(): number {
    const native = this.native(`open ${this.path}`);
    try {
      return native.open(this.path);
    } catch (error) {
      if (isNativeError(error)) {
        throw new KvmError(`open ${this.path}`, error.errno, describeOpenError(this.path, error.errno));
      }
      throw toKvmError(`open ${this.path}`, error);
    }
  }

  ioctl(fd: number, request: number, arg: Uint8Array | number): number {
    const native = this.addon ?? this.native(ioctlName(request));
    let result: number;
    try {
      result = native.ioctl(fd, request, arg);
    } catch (error) {
      throw toKvmError(ioctlName(request), error);
    }
    if (request === KVM_IOCTL.KVM_SET_USER_MEMORY_REGION && arg instanceof Uint8Array) this.pinSlot(fd, arg);
    return result;
  }

  close(fd: number): void {
    const native = this.native('close');
    const run = this.runs.get(fd);
    try {
      native.close(fd);
    } catch (error) {
      throw toKvmError('close', error);
    }
    this.pins.delete(fd);
    if (run !== undefined) {
      this.runs.delete(fd);
      native.release(run);
    }
  }

  mmapRun(vcpuFd: number, size: number): ArrayBuffer {
    const native = this.native('mmap');
    // The kernel maps a vCPU fd at any length, but a page past KVM_GET_VCPU_MMAP_SIZE raises
    // SIGBUS when touched (kvm_vcpu_fault): refuse a longer view before JavaScript can touch it.
    const limit = this.vcpuMmapSize(native);
    if (!Number.isSafeInteger(size) || size <= 0 || (limit > 0 && size > limit)) {
      throw new KvmError(
        'mmap',
        Errno.EINVAL,
        `kvm_run of ${size} bytes (KVM_GET_VCPU_MMAP_SIZE is ${limit})`,
      );
    }
    try {
      const run = native.mmapRun(vcpuFd, size);
      const earlier = this.runs.get(vcpuFd);
      if (earlier !== undefined) native.release(earlier);
      this.runs.set(vcpuFd, run);
      return run;
    } catch (error) {
      throw toKvmError('mmap', error);
    }
  }

  allocateMemory(size: number): HostMemory {
    const native = this.native('mmap');
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new KvmError(
        'mmap',
        Errno.EINVAL,
        `guest memory size ${size} is not a positive multiple of 4096`,
      );
    }
    // An ArrayBuffer over external memory can be no longer than Node's Buffer limit (4 GiB on
    // Node 20); guest RAM beyond that is several allocations, each in its own memory slot.
    if (size > MAX_LENGTH) {
      throw new KvmError(
        'mmap',
        Errno.ENOMEM,
        `guest memory of ${size} bytes is more than one ArrayBuffer can hold in this Node (buffer.constants.MAX_LENGTH = ${MAX_LENGTH}); allocate it in parts, one memory slot each`,
      );
    }
    let mapped: { buffer: ArrayBuffer; address: bigint; memfd: number };
    try {
      mapped = native.allocateMemory(size);
    } catch (error) {
      throw toKvmError('mmap', error);
    }
    const memory: HostMemory = { userspaceAddr: mapped.address, size, buffer: mapped.buffer };
    this.memories.set(mapped.address, new WeakRef(memory));
    this.collected.register(memory, mapped.address);
    return memory;
  }

  /** KVM_GET_VCPU_MMAP_SIZE of this device's /dev/kvm, asked once; 0 if it can't be asked. */
  private vcpuMmapSize(native: NativeAddon): number {
    if (this.mmapSize !== undefined) return this.mmapSize;
    let size = 0;
    try {
      const fd = native.open(this.path);
      try {
        size = native.ioctl(fd, KVM_IOCTL.KVM_GET_VCPU_MMAP_SIZE, 0);
      } finally {
        native.close(fd);
      }
    } catch {
      // No /dev/kvm to ask: then there is no vCPU fd either, and mmap itself fails.
    }
    this.mmapSize = size;
    return size;
  }

  kickHandle(vcpuFd: number): HostKickHandle {
    const native = this.native('kickHandle');
    try {
      const { fd, token } = native.kickHandle(vcpuFd);
      return { engine: 'host', fd, token };
    } catch (error) {
      throw toKvmError('kickHandle', error);
    }
  }

  kick(handle: VcpuKickHandle): void {
    kickHostVcpu(handle);
  }

  /** After a successful KVM_SET_USER_MEMORY_REGION: hold the slot's memory (or let it go). */
  private pinSlot(vmFd: number, region: Uint8Array): void {
    const view = new DataView(region.buffer, region.byteOffset, region.byteLength);
    const slot = view.getUint32(REGION_SLOT, true);
    const memorySize = view.getBigUint64(REGION_MEMORY_SIZE, true);
    const hva = view.getBigUint64(REGION_USERSPACE_ADDR, true);
    let slots = this.pins.get(vmFd);
    if (memorySize === 0n) {
      slots?.delete(slot);
      return;
    }
    const memory = this.memories.get(hva)?.deref();
    if (memory === undefined) return; // not ours (a caller-provided address): theirs to keep
    if (slots === undefined) {
      slots = new Map();
      this.pins.set(vmFd, slots);
    }
    slots.set(slot, memory);
  }
}

/**
 * Kicks a host vCPU from any thread (a worker holding only the structured-cloned handle):
 * its current or next KVM_RUN returns EINTR. A vCPU that has gone is ignored.
 */
export function kickHostVcpu(handle: VcpuKickHandle): void {
  if (handle.engine !== 'host' || typeof handle.fd !== 'number' || typeof handle.token !== 'number') {
    throw new KvmError('kick', Errno.EINVAL, `not a host kick handle (engine ${String(handle.engine)})`);
  }
  requireNative('kick').kick({ fd: handle.fd, token: handle.token });
}
