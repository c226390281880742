import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { engineAvailability } from '../src/index.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const kvm = await engineAvailability('kvm');

describe.skipIf(!kvm.available)(
  `kvm-guests CLI on the host engine${kvm.available ? '' : ` (skipped: ${kvm.reason})`}`,
  () => {
    it('runs guests, prints one verdict line each, and exits 0 when all end as expected', () => {
      const r = spawnSync(process.execPath, [cli, 'io64,triplefault64', '--accel', 'kvm'], {
        encoding: 'utf8',
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^ok {3}io64 +kvm\/qemu-lite: debug-exit status 1, 27 passed, 0 failed/m);
      expect(r.stdout).toMatch(/^ok {3}triplefault64 +kvm\/qemu-lite: shutdown status 0/m);
    }, 60_000);
  },
);
