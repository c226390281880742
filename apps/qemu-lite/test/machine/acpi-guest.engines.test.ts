/**
 * A guest that finds the ACPI tables qemu-lite leaves (test/guests/acpi.S), resets once through
 * the FADT's reset register, finds them again after the reboot, reads the PM timer and powers
 * off through PM1a_CNT with \_S5's SLP_TYP, on every engine: runGuest ends with a power-off
 * (status 0) and the CLI process exits with status 0, as QEMU does on an ACPI power-off.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';
import { buildTestGuest, cliPath, hostSkipReason } from '../helpers.js';

const runs: { name: string; accel: string; kernelIrqchip?: boolean }[] = [
  { name: 'vmx', accel: 'vmx' },
  { name: 'svm', accel: 'svm' },
  { name: 'vmx, kernel-irqchip=on', accel: 'vmx', kernelIrqchip: true },
  { name: 'svm, kernel-irqchip=on', accel: 'svm', kernelIrqchip: true },
];
if (hostSkipReason) console.warn(`ACPI guest: skipping the host engine: ${hostSkipReason}`);
else {
  runs.push({ name: 'kvm', accel: 'kvm' });
  runs.push({ name: 'kvm, kernel-irqchip=on', accel: 'kvm', kernelIrqchip: true });
}

let kernel: string;
beforeAll(() => {
  kernel = buildTestGuest('acpi');
});

describe.each(runs)('an ACPI power-off on -accel $name', ({ accel, kernelIrqchip }) => {
  it('finds the tables, resets through RESET_REG, finds them again, reads the PM timer and powers off', async () => {
    const r = await runGuest({ kernel, accel, kernelIrqchip, noReboot: false, timeoutMs: 20_000 });
    // A failed step would be a debug-exit with status 0x21..0x2f (see acpi.S).
    expect(r.exitReason).toEqual({ kind: 'poweroff' });
    expect(r.status).toBe(0);
    expect(r.serial).toBe('RFRFTS');
  });

  it('ends at the RESET_REG reset with noReboot', async () => {
    const r = await runGuest({ kernel, accel, kernelIrqchip, noReboot: true, timeoutMs: 20_000 });
    expect(r.exitReason).toMatchObject({ kind: 'reset', cause: 'port 0xcf9 reset' });
    expect(r.status).toBe(0);
    expect(r.serial).toBe('RF');
  });

  it('ends the qemu-lite process with status 0, without -no-reboot', () => {
    const args = [cliPath, '-kernel', kernel, '-accel', accel, '-nographic'];
    if (kernelIrqchip) args.push('-machine', 'kernel-irqchip=on');
    args.push('-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04');
    const p = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 30_000 });
    expect(p.stderr).toBe('');
    expect(p.stdout).toBe('RFRFTS');
    expect(p.status).toBe(0);
  });
});

describe.each(runs)('a flat image on -accel $name', ({ accel, kernelIrqchip }) => {
  it('gets no firmware tables (they are for -kernel boots)', async () => {
    // cmpl $"RSD ", 0xf0000; sete %al; out %al, $0xf4; hlt — status 1 when the RSDP is absent.
    const image = Uint8Array.of(
      0x81,
      0x3d,
      0,
      0,
      0x0f,
      0,
      0x52,
      0x53,
      0x44,
      0x20,
      0x0f,
      0x94,
      0xc0,
      0xe6,
      0xf4,
      0xf4,
    );
    const r = await runGuest({
      flat: { image, loadAddr: 0x100000, mode: 'protected32' },
      accel,
      kernelIrqchip,
    });
    expect(r.exitReason).toEqual({ kind: 'debug-exit', status: 1 });
  });

  it('resets the machine through port 0xcf9: with noReboot the run ends as a reset', async () => {
    // mov $0x06, %al; mov $0xcf9, %dx; out %al, %dx; hlt — RESET_VALUE to RESET_REG, as Linux's acpi_reboot.
    const image = Uint8Array.of(0xb0, 0x06, 0x66, 0xba, 0xf9, 0x0c, 0xee, 0xf4);
    const r = await runGuest({
      flat: { image, loadAddr: 0x100000, mode: 'protected32' },
      accel,
      kernelIrqchip,
      noReboot: true,
      timeoutMs: 20_000,
    });
    expect(r.exitReason).toMatchObject({ kind: 'reset', cause: 'port 0xcf9 reset' });
    expect(r.status).toBe(0);
  });
});
