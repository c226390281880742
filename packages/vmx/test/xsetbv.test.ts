/** The shared XSETBV suite on the vmx engine (exit reason 55, unconditional). */
import { defineXsetbvSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineXsetbvSuite('vmx', () => createVmxKvm());
