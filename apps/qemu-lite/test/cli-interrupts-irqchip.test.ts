/**
 * The `interrupts` guest of tools/guests (PIT IRQ 0 through the 8259: CLI, IMR, in-service,
 * STI shadow, HLT woken by an interrupt) through the qemu-lite CLI with
 * `-machine kernel-irqchip=on` on the software engines: the 8259 is the engine's in-kernel one,
 * the PIT qemu-lite's userspace one on GSI 0 (KVM_IRQ_LINE), HLT handled in the kernel.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers.js';

const guest = fileURLToPath(new URL('../../../tools/guests/out/interrupts.elf', import.meta.url));
const built = existsSync(guest);
if (!built) console.warn('skipping the interrupts guest: tools/guests/out/interrupts.elf is not built');

describe.skipIf(!built).each([{ accel: 'vmx' }, { accel: 'svm' }])(
  'the interrupts guest on -accel $accel with kernel-irqchip=on',
  ({ accel }) => {
    it('passes every check, as with the userspace PIC', () => {
      const r = spawnSync(
        process.execPath,
        [
          cliPath,
          '-kernel',
          guest,
          '-accel',
          accel,
          '-machine',
          'kernel-irqchip=on',
          '-nographic',
          '-no-reboot',
          '-device',
          'isa-debug-exit,iobase=0xf4,iosize=0x04',
        ],
        { encoding: 'latin1', timeout: 60_000 },
      );
      // The guest reports through isa-debug-exit: status 1 ((0 << 1) | 1) when every check passed.
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^SUMMARY interrupts: 13 passed, 0 failed, 0 skipped$/m);
      expect(r.stdout).not.toMatch(/^FAIL /m);
      expect(r.stdout).toContain('PASS irq0.hlt-woken-by-one-interrupt');
    }, 70_000);
  },
);
