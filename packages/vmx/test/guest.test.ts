/** The engines' shared guest-behaviour suite (@kvm/core/testing), on the VMX software engine. */
import { defineGuestSuite, defineLongModeSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineGuestSuite({ name: 'VMX', open: () => createVmxKvm() });
// The 32-bit part (no Intel 64): a guest turning long mode on stops with the internal error.
defineLongModeSuite('VMX without Intel 64', () => createVmxKvm({ siliconConfig: { longMode: false } }));
