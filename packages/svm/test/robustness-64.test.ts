/** Bad 64-bit guests on the SVM engine: the shared robustness cases of @kvm/core/testing. */
import { defineLongModeRobustnessSuite } from '@kvm/core/testing';
import { createSvmKvm } from '../src/index.js';

defineLongModeRobustnessSuite('SVM', () => createSvmKvm({ runBudget: 200_000 }), 80);
