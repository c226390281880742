/** The engines' shared guest-behaviour suite (@kvm/core/testing), on the VMX software engine. */
import { defineGuestSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineGuestSuite({ name: 'VMX', open: () => createVmxKvm() });
