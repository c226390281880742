/**
 * `@kvm/core/testing`: helpers shared by the engines' test suites (not for production code).
 * `defineGuestSuite` needs vitest, a peer dependency of this entry point only.
 */
export { defineGuestSuite, type GuestSuiteOptions } from './guest-suite.js';
export { flatSegment, protectedModeGuest, realModeGuest, type TinyGuest } from './guests.js';
