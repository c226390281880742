/**
 * The vCPU loop's no-user-writes hint to the software engine's KVM_RUN (KVM_CAP_SOFT_NO_USER_WRITES_HINT,
 * src/vcpu/vcpu-loop.ts): given after port I/O to a device that never writes guest RAM
 * (`PortIoDevice.writesNoGuestRam`), never after one that may (fw-cfg's DMA, a reset that loads
 * the firmware tables again). A device wrongly marked would make the guest run stale code.
 */
import { describe, expect, it } from 'vitest';
import { FwCfg } from '../../src/devices/fw-cfg.js';
import { IoBus } from '../../src/devices/io-bus.js';
import { ResetControl } from '../../src/devices/reset-control.js';
import { Serial16550 } from '../../src/devices/serial.js';
import { cpuGuestMissing as missing, runCpuGuestWithExits } from '../helpers.js';

describe('IoBus.writesNoGuestRam', () => {
  it('is true for an unclaimed port and a device that says so, false for one that may write RAM', () => {
    const bus = new IoBus();
    bus.register(0x3f8, 8, new Serial16550({ setIrq() {} }, () => {}));
    bus.register(0x510, 2, new FwCfg({ ramSize: 256 << 20, cpus: 1, cmdline: '', nographic: true }));
    bus.register(0xcf9, 1, new ResetControl(() => {}));
    expect(bus.writesNoGuestRam(0x3f8)).toBe(true);
    expect(bus.writesNoGuestRam(0x3fd)).toBe(true);
    expect(bus.writesNoGuestRam(0x1234)).toBe(true);
    expect(bus.writesNoGuestRam(0x510)).toBe(false);
    expect(bus.writesNoGuestRam(0xcf9)).toBe(false);
  });
});

describe.each(['vmx', 'svm'])('the hint on -accel %s', (accel) => {
  it.skipIf(missing !== '')(`spares the UART's exits the code check, not the others${missing}`, () => {
    const r = runCpuGuestWithExits(accel);
    expect(r.stdout).toContain('SUMMARY cpu:');
    const count = (name: string) => Number(new RegExp(` engine ${name} (\\d+)\\n`).exec(r.stderr)?.[1] ?? 0);
    const io = Number(/ IO +(\d+) /.exec(r.stderr)?.[1]);
    // The first KVM_RUN checks (the loader wrote the guest), and so does each after an exit that
    // was not port I/O to a device that never writes RAM; the UART's bytes are most of the exits.
    expect(count('code_revalidations'), r.stderr).toBeGreaterThanOrEqual(1);
    expect(count('code_revalidations_skipped'), r.stderr).toBeGreaterThan(io / 2);
    expect(count('code_revalidations') + count('code_revalidations_skipped')).toBeGreaterThanOrEqual(io);
  });
});
