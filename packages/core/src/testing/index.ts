/**
 * `@kvm/core/testing`: helpers shared by the engines' test suites (not for production code).
 * `defineGuestSuite` needs vitest (an optional peer dependency); the tiny-guest helpers alone,
 * without vitest (for benchmarks), are `@kvm/core/testing/guests`.
 */
export { defineCpuidClflushSuite, defineRdrandSeedSuite, defineRdrandSuite } from './cpuid-suite.js';
export { defineFpuSuite } from './fpu-suite.js';
export { defineGuestSuite, type GuestSuiteOptions } from './guest-suite.js';
export {
  flatSegment,
  LONG_MODE_PML4,
  longModeGuest,
  protectedModeGuest,
  realModeGuest,
  type TinyGuest,
} from './guests.js';
export { defineLongModeRobustnessSuite } from './long-mode-robustness.js';
export { defineLongModeGuestSuite, defineLongModeSuite } from './long-mode-suite.js';
export { defineLongModeStateSuite } from './state64-suite.js';
export { defineTprSuite, type TprGuest, tprGuest, tprGuestReturnRip } from './tpr-suite.js';
export { defineXsetbvSuite } from './xsetbv-suite.js';
