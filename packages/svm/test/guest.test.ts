/** The engines' shared guest-behaviour suite (@kvm/core/testing), on the SVM software engine. */
import { defineGuestSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineGuestSuite({ name: 'SVM', open: () => createSvmKvm() });
