/**
 * A machine with a `-drive` keeps its image open and locked across guest resets, whichever way
 * the reset goes (in place, or a new VM with the in-kernel irqchip), and the PCI bus comes back
 * as the firmware would leave it: virtio device reset, BAR placed again.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVmxKvm } from '@kvm/vmx';
import { describe, expect, it } from 'vitest';
import type { MachineConfig } from '../../src/config.js';
import { Machine } from '../../src/machine/machine.js';

const dir = mkdtempSync(join(tmpdir(), 'drives-reboot-'));

function cfgRead(machine: Machine, devfn: number, reg: number): number {
  machine.bus.ioOut(0xcf8, 4, (0x80000000 | (devfn << 8) | reg) >>> 0);
  return machine.bus.ioIn(0xcfc, 4);
}

describe.each([false, true])('drives across reboots (vmx, kernel-irqchip=%s)', (kernelIrqchip) => {
  it('keeps the drive open and locked, resets the device and places its BAR again', () => {
    const file = join(dir, `disk-${kernelIrqchip}.img`);
    writeFileSync(file, new Uint8Array(4096));
    const lock = join(dir, `.disk-${kernelIrqchip}.img.qemu-lite-lock`);
    const config: MachineConfig = {
      engine: 'vmx',
      ramSize: 2 * 1024 * 1024,
      cpus: 1,
      modules: [],
      cmdline: '',
      debugExit: null,
      noReboot: false,
      kernelIrqchip,
      serialToStdout: false,
      serialToCaller: false,
      log: [],
      flat: { name: 'ud2', image: Uint8Array.of(0x0f, 0x0b), loadAddr: 0x100000, mode: 'protected32' },
      drives: [{ file, readonly: false }],
    };
    const kvm = createVmxKvm();
    let machine = new Machine(kvm, config, () => 0, { serialOut: () => {}, log: () => {} });
    try {
      const drive = machine.drives[0];
      expect(existsSync(lock)).toBe(true);
      for (let i = 0; i < 3; i++) {
        expect(cfgRead(machine, 2 << 3, 0)).toBe(0x10421af4);
        expect(cfgRead(machine, 2 << 3, 0x20)).toBe(0xe0000000);
        // The driver acknowledges the device; the reset must clear it.
        machine.mmioWrite(0xe0000014n, Uint8Array.of(1));
        const status = new Uint8Array(1);
        machine.mmioRead(0xe0000014n, status);
        expect(status[0]).toBe(1);
        // The guest moves the BAR; the reset's firmware pass puts it back.
        machine.bus.ioOut(0xcf8, 4, (0x80000000 | (0x10 << 8) | 0x20) >>> 0);
        machine.bus.ioOut(0xcfc, 4, 0xf0000000);
        machine = machine.reboot();
        expect(machine.drives[0]).toBe(drive);
        expect(existsSync(lock)).toBe(true);
        machine.mmioRead(0xe0000014n, status);
        expect(status[0]).toBe(0);
      }
    } finally {
      machine.close();
      kvm.close();
    }
    expect(existsSync(lock)).toBe(false);
  });
});
