/**
 * @kvm/host: the KVM ABI of `@kvm/core` served by the host kernel's real `/dev/kvm`, through a
 * native addon built from source at install time. Importing this module never throws; where
 * the host engine can't be used, `hostKvmAvailability()` says why and `openHostKvm()` throws a
 * KvmError saying the same.
 */
export { type HostKvmAvailability, hostKvmAvailability } from './availability.js';
export { type HostKickHandle, HostKvmDevice, type HostKvmDeviceOptions, kickHostVcpu } from './device.js';
export { type OpenHostKvmOptions, openHostKvm } from './open.js';
export { type HostTap, openTap, TapError } from './tap.js';
