/**
 * tools/guests' platform guests with `-machine kernel-irqchip=on` and `=off` on every engine
 * (issue 13): `pctestdev64` (QEMU's pc-testdev, its IRQ lines through the kernel's 8259 or
 * qemu-lite's own) and `acpi64` (the tables, then an ACPI power-off; with kernel-irqchip=off
 * the machine has no APIC, and so no MADT). Each run passes every check and prints exactly what
 * the host engine prints with the same setting.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type GuestResult, runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';

const image = (name: string): string =>
  fileURLToPath(new URL(`../../../../tools/guests/out/${name}.elf`, import.meta.url));
const built = existsSync(image('acpi64'));
const notBuilt = built
  ? ''
  : ' (skipped: tools/guests is not built: pnpm turbo run build --filter=@kvm/guests)';

const GUESTS = [
  ['pctestdev64', { kind: 'debug-exit', status: 1 }],
  ['acpi64', { kind: 'poweroff' }],
] as const;

const run = (name: string, accel: string, kernelIrqchip: boolean): Promise<GuestResult> =>
  runGuest({
    kernel: image(name),
    accel,
    memory: '64M',
    kernelIrqchip,
    pcTestdev: true,
    timeoutMs: 60_000,
    noReboot: true,
  });

const hostRuns = new Map<string, Promise<GuestResult>>();
function onHost(name: string, kernelIrqchip: boolean): Promise<GuestResult> {
  const key = `${name}/${kernelIrqchip}`;
  let r = hostRuns.get(key);
  if (r === undefined) {
    r = run(name, 'kvm', kernelIrqchip);
    hostRuns.set(key, r);
  }
  return r;
}

const ACCELS = hostSkipReason === undefined ? ['kvm', 'vmx', 'svm'] : ['vmx', 'svm'];

describe.each(ACCELS)('platform guests on -accel %s', (accel) => {
  for (const kernelIrqchip of [true, false])
    for (const [name, ending] of GUESTS)
      it.skipIf(!built)(
        `${name} with kernel-irqchip=${kernelIrqchip ? 'on' : 'off'}: every check passes, as on the host${notBuilt}`,
        async () => {
          const r = await run(name, accel, kernelIrqchip);
          expect(r.exitReason, r.serial).toEqual(ending);
          expect(r.serial).toMatch(/^SUMMARY \S+: \d+ passed, 0 failed, 0 skipped$/m);
          expect(r.serial).not.toMatch(/^(FAIL|SKIP) /m);
          if (!kernelIrqchip && name === 'acpi64')
            expect(r.serial).toContain('PASS acpi.madt.absent-without-apic');
          if (accel === 'kvm' || hostSkipReason !== undefined) return;
          expect(r.serial).toBe((await onHost(name, kernelIrqchip)).serial);
        },
        120_000,
      );
});
