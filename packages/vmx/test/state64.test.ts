/** The shared 64-bit state suite on the vmx engine (the SYSENTER MSRs in the natural-width VMCS fields; DR0–DR3 swapped by the driver). */
import { defineLongModeStateSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineLongModeStateSuite('vmx', () => createVmxKvm());
