/** The shared CPUID CLFLUSH suite on the vmx engine. */
import { defineCpuidClflushSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineCpuidClflushSuite('vmx', () => createVmxKvm());
