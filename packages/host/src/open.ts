/**
 * The public way in: a `Kvm` (the typed ABI of `@kvm/core`) over the host's `/dev/kvm`.
 */
import type { Kvm } from '@kvm/core';
import { openKvm } from '@kvm/core';
import { HostKvmDevice, type HostKvmDeviceOptions } from './device.js';

export type OpenHostKvmOptions = HostKvmDeviceOptions;

/**
 * Opens `/dev/kvm` (or `options.path`) and checks its API version. Throws KvmError with the
 * reason in words: ENODEV (the addon is not built, or not Linux), ENOENT (no /dev/kvm), EACCES
 * (no permission: the message names the device's owner, group and mode, and the fix), or core's
 * API-version error.
 */
export function openHostKvm(options: OpenHostKvmOptions = {}): Kvm {
  return openKvm(new HostKvmDevice(options));
}
