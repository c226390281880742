/**
 * The ABI suite on the host's real /dev/kvm: the reference every other engine is held to.
 * Skipped, with the reason in its title, where /dev/kvm or the addon is unavailable.
 */
import { readFileSync } from 'node:fs';
import { hostKvmAvailability, kickHostVcpu, openHostKvm } from '../src/index.js';
import { defineAbiSuite } from '../src/testing/index.js';

/** Does the host's KVM use EPT (Intel) or NPT (AMD)? Read from the modules' parameters. */
function hostUsesTdp(): boolean {
  for (const file of ['/sys/module/kvm_intel/parameters/ept', '/sys/module/kvm_amd/parameters/npt']) {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value === 'Y' || value === '1') return true;
    } catch {
      // module not loaded
    }
  }
  return false;
}

const availability = hostKvmAvailability();

defineAbiSuite({
  name: 'host',
  unavailable: availability.available ? undefined : availability.reason,
  twoDimensionalPaging: hostUsesTdp(),
  open: () => openHostKvm(),
  kick: kickHostVcpu,
});
