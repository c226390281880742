/** The typed, validating front end over a `KvmDevice`. */
export type * from './device.js';
export { KvmSystem, openKvm } from './kvm-system.js';
export { KvmVcpu } from './kvm-vcpu.js';
export { KvmVm } from './kvm-vm.js';
