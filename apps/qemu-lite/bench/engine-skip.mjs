// Why a bench cannot run an engine here (or undefined when it can): `kvm` needs the host's
// /dev/kvm and the addon, `tcg` Debian's qemu-system-x86_64; qemu-lite's software engines
// (vmx, svm) always run. Shared by the benches that compare engines with QEMU's TCG.
import { spawnSync } from 'node:child_process';
import { hostKvmAvailability } from '@kvm/host';

export function engineSkipReason(engine) {
  if (engine === 'kvm') {
    const a = hostKvmAvailability();
    return a.available ? undefined : a.reason;
  }
  if (engine === 'tcg') {
    const r = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
    return r.status === 0
      ? undefined
      : 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)';
  }
  return undefined;
}
