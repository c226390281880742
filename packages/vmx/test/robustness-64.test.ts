/** Bad 64-bit guests on the VMX engine: the shared robustness cases of @kvm/core/testing. */
import { defineLongModeRobustnessSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineLongModeRobustnessSuite('VMX', () => createVmxKvm({ runBudget: 200_000 }), 80);
