/**
 * A guest that reboots itself (test/guests/reboot.S) through runGuest and the machine's worker,
 * on every engine: a reset zeroes RAM, resets the vCPU's MSRs and the devices, keeps the CMOS
 * NVRAM, and reloads the kernel, whether it came from a triple fault or the i8042's reset line
 * (an OUT whose exit the VMM answers with a reset).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';
import { buildTestGuest, hostSkipReason } from '../helpers.js';

const runs: { name: string; accel: string; kernelIrqchip?: boolean }[] = [
  { name: 'vmx', accel: 'vmx' },
  { name: 'svm', accel: 'svm' },
  { name: 'vmx, kernel-irqchip=on', accel: 'vmx', kernelIrqchip: true },
  { name: 'svm, kernel-irqchip=on', accel: 'svm', kernelIrqchip: true },
];
if (hostSkipReason) console.warn(`reboot guest: skipping the host engine: ${hostSkipReason}`);
else {
  runs.push({ name: 'kvm', accel: 'kvm' });
  // The in-kernel irqchip cannot be reset through the ABI: that reboot makes a new VM on the same RAM.
  runs.push({ name: 'kvm, kernel-irqchip=on', accel: 'kvm', kernelIrqchip: true });
}

let kernel: string;
beforeAll(() => {
  kernel = buildTestGuest('reboot');
});

describe.each(runs)('a self-rebooting guest on -accel $name', ({ accel, kernelIrqchip }) => {
  it('boots three times, each time from power-on state with the CMOS boot count kept', async () => {
    const r = await runGuest({ kernel, accel, kernelIrqchip, noReboot: false, timeoutMs: 20_000 });
    // Boot 3 reports 0x20 + 3; a failed check would report 0x10..0x13 (RAM, MSR, PIC, UART).
    expect(r.exitReason).toEqual({ kind: 'debug-exit', status: (0x23 << 1) | 1 });
    expect(r.serial).toBe('123');
  });

  it('ends at the first reset with noReboot', async () => {
    const r = await runGuest({ kernel, accel, kernelIrqchip, noReboot: true, timeoutMs: 20_000 });
    expect(r.exitReason).toMatchObject({ kind: 'reset', cause: 'triple fault (KVM_EXIT_SHUTDOWN)' });
    expect(r.status).toBe(0);
    expect(r.serial).toBe('1');
  });
});
