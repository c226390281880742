/**
 * The monitor on a running `-smp 2` machine whose AP sits in HLT with interrupts off (tools/guests'
 * `smp64` with `-append hang=1`): `info cpus` must answer with both vCPUs, the AP halted, and
 * the machine must go on running. On the host engine the AP's thread sleeps inside KVM_RUN, which
 * it never leaves by itself: the monitor holds it out of KVM_RUN for the command (reading its
 * registers from the machine's thread would otherwise wait forever), then lets it go back.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';
import { hostSkipReason } from '../helpers.js';

const image = fileURLToPath(new URL('../../../../tools/guests/out/smp64.elf', import.meta.url));
const notBuilt = existsSync(image)
  ? undefined
  : 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)';

for (const accel of ['kvm', 'vmx']) {
  const skip = notBuilt ?? (accel === 'kvm' ? hostSkipReason : undefined);
  describe.skipIf(skip !== undefined)(
    `the monitor on -smp 2 -accel ${accel}${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('lists both vCPUs while the guest runs, the AP halted in KVM_RUN, and the guest runs on', async () => {
        let out = '';
        let asked = 0;
        let serial = '';
        let sent = false;
        let ask: ((line: string) => void) | undefined;
        let quit: (() => void) | undefined;
        const result = await runGuest({
          kernel: image,
          accel,
          smp: 2,
          memory: '64M',
          append: 'iter=100 hang=1',
          timeoutMs: 60_000,
          onMonitorOutput: (text) => {
            out += text;
            // Twice, a moment apart, to see the machine still running in between; then quit.
            if (++asked === 1) setTimeout(() => ask?.('info cpus'), 200);
            else quit?.();
          },
          onStart: (session) => {
            ask = (line) => session.monitor(line);
            quit = () => session.quit();
          },
          onSerial: (chunk) => {
            serial += Buffer.from(chunk).toString('latin1');
            if (serial.includes('HANG\n') && !sent) {
              sent = true;
              ask?.('info cpus');
            }
          },
        });
        expect(result.exitReason).toEqual({ kind: 'quit', cause: 'user' });
        const listings = out.split('\n').filter((l) => l.includes(' CPU #'));
        expect(listings, out).toHaveLength(4);
        expect(listings[0]).toMatch(/^\* CPU #0: pc=0x[0-9a-f]{16} thread_id=\d+$/);
        expect(listings[1]).toMatch(/^ {2}CPU #1: pc=0x[0-9a-f]{16} \(halted\) thread_id=\d+$/);
        // The BSP spins on (`pause` in a loop), the AP stays where it halted.
        expect(listings[3]).toBe(listings[1]);
      }, 90_000);
    },
  );
}
