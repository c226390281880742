/** The engines' shared guest-behaviour suite (@kvm/core/testing), on the SVM software engine. */
import { defineGuestSuite, defineLongModeSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineGuestSuite({ name: 'SVM', open: () => createSvmKvm() });
// The 32-bit part (no AMD64): a guest turning long mode on stops with the internal error.
defineLongModeSuite('SVM without long mode', () => createSvmKvm({ siliconConfig: { longMode: false } }));
