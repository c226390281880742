/**
 * A 64-bit guest on a software engine that has no long mode yet: the built `qemu-lite` stops with
 * one line naming the accelerator and what it lacks, and status 2 (an engine failure), instead
 * of a triple fault that -no-reboot would turn into status 0 with nothing said.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliPath } from './helpers.js';

/** tools/guests' `cpu` test in its 64-bit build: multiboot entry, then WRMSR EFER.LME. */
const guest = fileURLToPath(new URL('../../../tools/guests/out/cpu64.elf', import.meta.url));
const missing = existsSync(guest) ? '' : `${guest} is not built (pnpm turbo run build --filter=@kvm/guests)`;

describe.each(['vmx', 'svm'])('a 64-bit guest on -accel %s', (accel) => {
  it.skipIf(missing !== '')(`stops with "does not run long mode yet" and status 2${missing}`, () => {
    const r = spawnSync(
      process.execPath,
      [cliPath, '-accel', accel, '-nographic', '-no-reboot', '-kernel', guest],
      {
        encoding: 'utf8',
        timeout: 30_000,
        input: '',
      },
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `^qemu-lite: -accel ${accel}: the software engine does not run long mode yet \\(guest set EFER\\.LME: EFER=0x[0-9a-f]*1[0-9a-f]{2} at RIP 0x[0-9a-f]+\\)\\n$`,
      ),
    );
    expect(r.status).toBe(2);
  });
});
