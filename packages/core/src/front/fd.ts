/**
 * What the three front-end classes share: one open file descriptor of a `KvmDevice`, the
 * "closed" state (every call after `close()` is EBADF, as on a closed fd), and argument checks
 * that turn JavaScript values a C caller could not even express into the errno Linux gives.
 */

import type { KvmIoctlName } from '../abi/ioctls.js';
import { KVM_IOCTL } from '../abi/ioctls.js';
import { Errno, KvmError } from '../api/errors.js';
import type { KvmDevice } from './device.js';

export class DeviceFd {
  private open = true;

  constructor(
    readonly device: KvmDevice,
    readonly fd: number,
  ) {}

  get closed(): boolean {
    return !this.open;
  }

  /** Throws KvmError(EBADF) naming `op` once closed. */
  check(op: string): void {
    if (!this.open) throw new KvmError(op, Errno.EBADF, 'handle is closed');
  }

  /** ioctl(fd, KVM_<name>, arg) with the closed check; errors other than KvmError become EIO. */
  ioctl(name: KvmIoctlName, arg: Uint8Array | number): number {
    this.check(name);
    try {
      return this.device.ioctl(this.fd, KVM_IOCTL[name], arg);
    } catch (e) {
      throw asKvmError(name, e);
    }
  }

  /** Closes the fd once; later calls are no-ops (a handle, unlike a raw fd, can't be reused). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    try {
      this.device.close(this.fd);
    } catch (e) {
      throw asKvmError('close', e);
    }
  }
}

/** `e` if it is a KvmError; otherwise an EIO KvmError for `op` that keeps `e` as its cause. */
export function asKvmError(op: string, e: unknown): KvmError {
  if (e instanceof KvmError) return e;
  const err = new KvmError(op, Errno.EIO, `engine failed: ${e instanceof Error ? e.message : String(e)}`);
  (err as { cause?: unknown }).cause = e;
  return err;
}

/** An integer argument passed by value (`unsigned long`); EINVAL for anything else. */
export function intArg(op: string, what: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new KvmError(op, Errno.EINVAL, `${what} ${String(v)} is not an integer in [0, ${max}]`);
  }
  return v;
}
