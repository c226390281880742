/** RDRAND and RDSEED on the svm engine: AMD-V has no intercept for them, so they run whatever the CPUID table says. */
import { defineRdrandSeedSuite, defineRdrandSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineRdrandSuite('svm', () => createSvmKvm(), { cpuidGates: false });
defineRdrandSeedSuite('svm', (randomSeed) => createSvmKvm({ randomSeed }));
