/**
 * `KvmDevice`: the raw layer an engine implements — file descriptors, ioctl request numbers and
 * the exact bytes of `<linux/kvm.h>`'s structs — and nothing more. The typed, validating API
 * (`Kvm`, `Vm`, `Vcpu`) is written once over it in `open.ts`, so both engines share it (rust-vmm's
 * split of `kvm-bindings` and `kvm-ioctls`):
 *
 * - `@kvm/host` passes the bytes straight to the kernel's `/dev/kvm`;
 * - the software engine decodes the same bytes with this package's codecs and dispatches on
 *   the whole request (`lookupIoctl`), then `_IOC_NR` in the table of the fd's kind.
 *
 * File descriptors are plain non-negative numbers, as in Linux: one for the system (`open`),
 * one per VM (returned by KVM_CREATE_VM), one per vCPU (returned by KVM_CREATE_VCPU). Each is
 * independent once created: closing the system fd leaves VM fds working, and a VM lives until
 * its own fd and all its vCPU fds are closed.
 *
 * Every member throws only `KvmError`, carrying the errno Linux gives for the same call.
 */
import type { HostMemory, VcpuKickHandle } from '../api/types.js';

export interface KvmDevice {
  /** Which engine this is: `'host'`, `'vmx'`, `'svm'`. Becomes `Kvm.engine`. */
  readonly engine: string;

  /**
   * open("/dev/kvm", O_RDWR | O_CLOEXEC): a new system fd (≥ 0).
   * Throws KvmError: ENOENT (no /dev/kvm), EACCES (no permission), ENODEV/ENXIO (no usable
   * virtualization), EMFILE (too many fds).
   */
  open(): number;

  /**
   * ioctl(fd, request, arg).
   *
   * - `request`: the full request number (`KVM_IOCTL.KVM_RUN`, …), an unsigned 32-bit number.
   * - `arg`: for an ioctl whose argument is a pointer (`_IOR`, `_IOW`, `_IOWR`), a `Uint8Array`
   *   holding the struct's bytes (with any flexible-array entries after it). The engine reads it
   *   for `_IOW`, writes its answer into it in place for `_IOR`, does both for `_IOWR`. For an
   *   `_IO` ioctl, a number: the integer argument (`KVM_CREATE_VCPU`'s id, `KVM_CHECK_EXTENSION`'s
   *   capability, `KVM_SET_TSS_ADDR`'s address), 0 when there is none. The number 0 where a
   *   pointer is expected is the NULL pointer (`KVM_SET_SIGNAL_MASK` uses it to clear the mask).
   *
   * Returns the ioctl's non-negative result: 0, a count (KVM_GET_MSRS), a size
   * (KVM_GET_VCPU_MMAP_SIZE), a new fd (KVM_CREATE_VM, KVM_CREATE_VCPU), a version (12).
   * Throws KvmError with the kernel's errno: EBADF (fd not open), ENOTTY or EINVAL (request
   * unknown to this kind of fd), EFAULT (the buffer is shorter than the struct the request
   * names), EINTR (KVM_RUN interrupted by `kick`), and each ioctl's own errors.
   */
  ioctl(fd: number, request: number, arg: Uint8Array | number): number;

  /**
   * close(fd). Closing a VM fd does not close its vCPU fds (the front end closes those first).
   * Throws KvmError(EBADF) for an fd that is not open.
   */
  close(fd: number): void;

  /**
   * mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpuFd, 0): the vCPU's `kvm_run`
   * area, `size` bytes (KVM_GET_VCPU_MMAP_SIZE), shared with the engine: the engine writes the
   * exit into it, userspace reads it and writes the "in" fields. Valid until `close(vcpuFd)`.
   * May be a SharedArrayBuffer. Throws KvmError: EBADF, EINVAL (size larger than the area).
   */
  mmapRun(vcpuFd: number, size: number): ArrayBufferLike;

  /**
   * mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE) of `size` bytes (a positive multiple of
   * 4096) for guest RAM: zeroed, page-aligned. `userspaceAddr` is what goes into
   * `kvm_userspace_memory_region.userspace_addr` for this engine (a real hva on the host
   * engine, an engine-chosen token on the software engine); `buffer` views the same bytes.
   * Throws KvmError: ENOMEM.
   */
  allocateMemory(size: number): HostMemory;

  /**
   * A structured-cloneable token that lets any thread make vCPU `vcpuFd` leave KVM_RUN
   * promptly. `engine` must equal `this.engine`. Throws KvmError(EBADF).
   */
  kickHandle(vcpuFd: number): VcpuKickHandle;

  /**
   * Makes the vCPU named by `handle` return from KVM_RUN (now or, if it is not running, from
   * its next KVM_RUN) with EINTR, as a signal to the vCPU thread does on Linux. Callable from
   * any thread that holds a device of the same engine. Never throws for a vCPU that has gone.
   */
  kick(handle: VcpuKickHandle): void;

  /**
   * Optional: the engine's counters for VM `vmFd` (exits, shadow pages, zaps, …) by name.
   * Throws KvmError(EBADF).
   */
  getStats?(vmFd: number): Record<string, number>;
}
