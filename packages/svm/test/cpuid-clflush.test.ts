/** The shared CPUID CLFLUSH suite on the svm engine. */
import { defineCpuidClflushSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineCpuidClflushSuite('svm', () => createSvmKvm());
