/** The host engine's ABI suite (@kvm/host/testing), run on the SVM software engine. */
import { defineAbiSuite } from '@kvm/host/testing';
import { createSvmDevice, createSvmKvm } from '../src/index.js';

const device = createSvmDevice();

defineAbiSuite({
  name: 'svm',
  open: () => createSvmKvm(),
  kick: (h) => device.kick(h),
});
