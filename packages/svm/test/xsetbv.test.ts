/** The shared XSETBV suite on the svm engine (the XSETBV intercept, exit code 8DH). */
import { defineXsetbvSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineXsetbvSuite('svm', () => createSvmKvm());
