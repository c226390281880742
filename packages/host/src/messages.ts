/**
 * What to tell a person when /dev/kvm can't be used, one message per cause (kvmtool's
 * `kvm__init` habit): each says what is wrong and what to do about it.
 */
import { Errno, KVM_API_VERSION } from '@kvm/core';
import { describePermissionDenied, deviceAccessFacts } from './permission.js';

export function describeOpenError(path: string, errno: number): string {
  switch (errno) {
    case Errno.ENOENT:
      return (
        `${path} does not exist: the kvm module is not loaded (modprobe kvm_intel or kvm_amd), the CPU has ` +
        'no hardware virtualization (or it is off in the firmware), or this container was not given the device'
      );
    case Errno.EACCES:
    case Errno.EPERM:
      // Built from the device's real owner, group and mode: not every machine has a kvm group.
      return describePermissionDenied(deviceAccessFacts(path));
    case Errno.ENODEV:
    case Errno.ENXIO:
      return `${path} exists but no KVM driver answers it (the kvm module is not loaded)`;
    default:
      return `could not open ${path}`;
  }
}

export function describeApiVersion(version: number): string {
  return `the kernel's KVM API version is ${version}; this package speaks version ${KVM_API_VERSION}`;
}
