/**
 * Can this process use the host engine? Answers without throwing, and says exactly what is
 * missing: the addon, the device, the permission, or the right API version.
 */
import { Errno, KVM_API_VERSION, KVM_IOCTL } from '@kvm/core';
import { describeApiVersion, describeOpenError } from './messages.js';
import { isNativeError, loadNative } from './native.js';

export interface HostKvmAvailability {
  available: boolean;
  /** Why not, in words a person can act on. */
  reason?: string;
  /** The errno `openHostKvm` throws with in that case. */
  errno?: number;
}

export function hostKvmAvailability(options: { path?: string } = {}): HostKvmAvailability {
  const path = options.path ?? '/dev/kvm';
  const native = loadNative();
  if (!native.ok) return { available: false, reason: native.reason, errno: Errno.ENODEV };
  let fd: number;
  try {
    fd = native.addon.open(path);
  } catch (error) {
    const errno = isNativeError(error) ? error.errno : Errno.EIO;
    return { available: false, reason: describeOpenError(path, errno), errno };
  }
  try {
    const version = native.addon.ioctl(fd, KVM_IOCTL.KVM_GET_API_VERSION, 0);
    if (version !== KVM_API_VERSION)
      return { available: false, reason: describeApiVersion(version), errno: Errno.EINVAL };
    return { available: true };
  } catch (error) {
    const errno = isNativeError(error) ? error.errno : Errno.EIO;
    return { available: false, reason: `KVM_GET_API_VERSION on ${path} failed (errno ${errno})`, errno };
  } finally {
    native.addon.close(fd);
  }
}
