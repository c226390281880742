/** The raw KVM ABI: constants, ioctl numbers, struct layouts and codecs, the kvm_run view. */
export * from './capabilities.js';
export * from './exit-reasons.js';
export * from './flex.js';
export * from './ioctl-encoding.js';
export * from './ioctls.js';
// The layout vocabulary (u8, u16, …, field, padding, nested) stays under one name, so that its
// short words do not crowd the package's root.
export * as StructLayoutKinds from './layout.js';
export {
  defineStruct,
  type FieldKind,
  type FieldLayout,
  type StructCodec,
  type StructLayout,
} from './layout.js';
export * from './mp-state.js';
export * from './run.js';
export * from './run-layout.js';
export * from './structs.js';
export * from './version.js';
