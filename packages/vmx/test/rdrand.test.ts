/** RDRAND and RDSEED on the vmx engine: RDRAND/RDSEED exiting makes them #UD where the vCPU's CPUID lacks them. */
import { defineRdrandSeedSuite, defineRdrandSuite } from '@kvm/core/testing';
import { createVmxKvm } from '../src/index.js';

defineRdrandSuite('vmx', () => createVmxKvm(), { cpuidGates: true });
defineRdrandSeedSuite('vmx', (randomSeed) => createVmxKvm({ randomSeed }));
