/**
 * A 64-bit guest through the built `qemu-lite` on the software engine, which has long mode (issue
 * 12): tools/guests' `cpu` test in its 64-bit build (multiboot entry, WRMSR EFER.LME, paging on,
 * then CPUID, EFER, the syscall MSRs, SYSENTER_*, TSC, PAT) passes every check and exits through
 * isa-debug-exit with status 1, saying nothing on stderr. (A part without long mode, which
 * stops such a guest with KVM_EXIT_INTERNAL_ERROR, is @kvm/vmx's and @kvm/svm's
 * `siliconConfig: { longMode: false }`, tested there.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers.js';

const guest = fileURLToPath(new URL('../../../tools/guests/out/cpu64.elf', import.meta.url));
const missing = existsSync(guest) ? '' : `${guest} is not built (pnpm turbo run build --filter=@kvm/guests)`;

describe.each(['vmx', 'svm'])('a 64-bit guest on -accel %s', (accel) => {
  it.skipIf(missing !== '')(
    `runs to its debug-exit with every check passed${missing}`,
    () => {
      const r = spawnSync(
        process.execPath,
        [
          cliPath,
          '-accel',
          accel,
          '-nographic',
          '-no-reboot',
          '-m',
          '64M',
          '-device',
          'isa-debug-exit,iobase=0xf4,iosize=0x04',
          '-kernel',
          guest,
        ],
        { encoding: 'utf8', timeout: 60_000, input: '' },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^PASS msr\.lstar\.readback$/m);
      expect(r.stdout).toMatch(/^SUMMARY cpu: \d+ passed, 0 failed/m);
      expect(r.stdout).not.toMatch(/^FAIL /m);
      // isa-debug-exit: status (failures << 1) | 1.
      expect(r.status).toBe(1);
    },
    70_000,
  );
});
