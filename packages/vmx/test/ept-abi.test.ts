/** The host engine's ABI suite (@kvm/host/testing), run on the VMX software engine with EPT. */
import { defineAbiSuite } from '@kvm/host/testing';
import { createVmxDevice, createVmxKvm } from '../src/index.js';

const device = createVmxDevice({ ept: true });

defineAbiSuite({
  name: 'vmx with EPT',
  open: () => createVmxKvm({ ept: true }),
  kick: (h) => device.kick(h),
});
