/**
 * The ABI suite written for the host engine (@kvm/host/testing), run on the VMX software engine:
 * same calls, same errnos, same exits.
 */
import { defineAbiSuite } from '@kvm/host/testing';
import { createVmxDevice, createVmxKvm } from '../src/index.js';

const device = createVmxDevice();

defineAbiSuite({
  name: 'vmx',
  open: () => createVmxKvm(),
  kick: (h) => device.kick(h),
});
