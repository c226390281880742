/**
 * `@kvm/host/testing`: the ABI suite every engine runs, and the helpers its guests need.
 * Imports vitest: use it from test files only.
 */
export { type AbiSuiteEngine, defineAbiSuite } from './abi-suite.js';
export { assembleReal, assemblerUnavailable } from './assemble.js';
export {
  msrMap,
  type RealModeGuest,
  type RealModeGuestOptions,
  realModeGuest,
  startRealMode,
} from './guest.js';
export { NMI_GUEST } from './nmi-suite.js';
