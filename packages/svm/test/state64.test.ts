/** The shared 64-bit state suite on the svm engine (the SYSENTER MSRs in the VMCB save area; DR0–DR3 swapped by the driver). */
import { defineLongModeStateSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineLongModeStateSuite('svm', () => createSvmKvm());
