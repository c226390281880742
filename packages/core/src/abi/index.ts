/** The raw KVM ABI: constants, ioctl numbers, struct layouts and codecs, the kvm_run view. */
export * from './capabilities.js';
export * from './exit-reasons.js';
export * from './flex.js';
export * from './ioctl-encoding.js';
export * from './ioctls.js';
export * from './layout.js';
export * from './run.js';
export * from './run-layout.js';
export * from './structs.js';
export * from './version.js';
