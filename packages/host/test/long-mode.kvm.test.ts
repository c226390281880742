/**
 * The long-mode guest suite of @kvm/core/testing on the host's /dev/kvm: the referee the software
 * engine's long mode is held to (issue 12). On kvm-pvm the CPL-0 guests of this suite run in KVM's
 * instruction emulator, and its CPUID has no Page1GB (that case skips, saying so). Skipped, with
 * the reason, where /dev/kvm or the addon is unavailable.
 */
import { existsSync } from 'node:fs';
import { defineLongModeGuestSuite } from '@kvm/core/testing';
import { describe, it } from 'vitest';
import { hostKvmAvailability, openHostKvm } from '../src/index.js';

const availability = hostKvmAvailability();

if (availability.available) {
  // kvm-pvm emulates this CPL-0 code and nothing sees its MOV CR8 lower the TPR (tpr-suite.ts).
  defineLongModeGuestSuite('host', () => openHostKvm(), existsSync('/sys/module/kvm_pvm'));
} else {
  describe('host engine: long-mode guests', () => {
    it.skip(`(skipped: ${availability.reason})`, () => {});
  });
}
