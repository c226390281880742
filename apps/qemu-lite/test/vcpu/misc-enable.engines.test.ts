/**
 * IA32_MISC_ENABLE as qemu-lite's machine leaves it on every engine: fast-string operations on
 * (bit 0), as QEMU's `x86_cpu_reset_hold` sets it, over the engine's own reset value (KVM: BTS and
 * PEBS unavailable, bits 11 and 12), and back after a reboot.
 */
import type { Kvm } from '@kvm/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MachineConfig } from '../../src/config.js';
import { engineByName } from '../../src/engines.js';
import { Machine } from '../../src/machine/machine.js';
import { MSR_IA32_MISC_ENABLE } from '../../src/vcpu/misc-enable.js';
import { createSharedControl, sharedClock } from '../../src/vcpu/shared.js';
import { hostSkipReason } from '../helpers.js';

const engines = ['vmx', 'svm', ...(hostSkipReason ? [] : ['kvm'])];
if (hostSkipReason) console.warn(`MISC_ENABLE test: skipping the host engine: ${hostSkipReason}`);

function config(engine: string): MachineConfig {
  return {
    engine,
    ramSize: 2 * 1024 * 1024,
    cpus: 1,
    modules: [],
    cmdline: '',
    debugExit: null,
    noReboot: false,
    kernelIrqchip: false,
    serialToStdout: false,
    serialToCaller: false,
    log: [],
    flat: { name: 'hlt', image: new Uint8Array([0xf4]), loadAddr: 0x100000, mode: 'protected32' },
  };
}

let kvm: Kvm | undefined;
afterEach(() => {
  kvm?.close();
  kvm = undefined;
});

describe.each(engines)('IA32_MISC_ENABLE on -accel %s', (engine) => {
  it('has fast strings enabled from power-on and after a reboot', () => {
    kvm = engineByName(engine)!.open();
    const control = createSharedControl();
    const machine = new Machine(kvm, config(engine), sharedClock(control.epochMs), {
      serialOut: () => {},
      log: () => {},
    });
    const [misc] = machine.vcpu.getMsrs([MSR_IA32_MISC_ENABLE]);
    expect(misc.data & 1n).toBe(1n);
    // The software engine's reset value is KVM's: BTS (11) and PEBS (12) unavailable, kept.
    if (engine !== 'kvm') expect(misc.data).toBe(0x1801n);
    // What a guest leaves (fast strings off) does not survive a reboot.
    expect(machine.vcpu.setMsrs([{ index: MSR_IA32_MISC_ENABLE, data: misc.data & ~1n }])).toBe(1);
    const after = machine.reboot();
    expect(after.vcpu.getMsrs([MSR_IA32_MISC_ENABLE])[0].data).toBe(misc.data);
    after.close();
  });
});
