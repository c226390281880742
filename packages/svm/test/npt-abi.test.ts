/** The host engine's ABI suite (@kvm/host/testing), run on the SVM software engine with nested paging. */
import { defineAbiSuite } from '@kvm/host/testing';
import { createSvmDevice, createSvmKvm } from '../src/index.js';

const device = createSvmDevice({ npt: true });

defineAbiSuite({
  name: 'svm with NPT',
  open: () => createSvmKvm({ npt: true }),
  kick: (h) => device.kick(h),
});
