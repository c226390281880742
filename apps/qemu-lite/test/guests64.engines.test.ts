/**
 * The 64-bit guests of tools/guests and the bundled demo on the software engine (issue 12): each
 * ends on -accel vmx and -accel svm as tools/guests' manifest expects, with no failed check, and
 * prints what the host engine prints. The comparison leaves out only (a) the checks the host
 * itself fails — kvm-pvm's deviations (tools/guests/src/engines.ts), which the software engine,
 * like real hardware, passes — and (b) lines that exist only under one side's CPUID: SMEP/SMAP
 * (the host has them, the software engine's silicon does not), 1 GiB pages (x86emu has them,
 * kvm-pvm's CPUID does not) and CPUID leaf 7 (beyond the silicon's highest basic leaf), with the
 * SUMMARY lines whose counts they change. Where the host engine is missing or cannot run a guest
 * (kvm-pvm stops `softint64` at INT3), the software engine's result stands alone.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type GuestResult, runGuest } from '../src/index.js';
import { hostSkipReason } from './helpers.js';

/** tools/guests/src/manifest.ts's 64-bit test guests and the demo, with the ending each expects. */
const GUESTS64: readonly [name: string, ending: 'debug-exit' | 'reset'][] = [
  ['long', 'debug-exit'],
  ['mmu64', 'debug-exit'],
  ['paging64', 'debug-exit'],
  ['ctxswitch64', 'debug-exit'],
  ['ptwrite64', 'debug-exit'],
  ['exceptions64', 'debug-exit'],
  ['softint64', 'debug-exit'],
  ['interrupts64', 'debug-exit'],
  ['apic64', 'debug-exit'],
  ['cpu64', 'debug-exit'],
  ['io64', 'debug-exit'],
  ['cr3oob64', 'reset'],
  ['triplefault64', 'reset'],
  ['demo', 'debug-exit'],
];

const image = (name: string): string =>
  fileURLToPath(new URL(`../../../tools/guests/out/${name}.elf`, import.meta.url));
const built = existsSync(image('long'));
const notBuilt = built
  ? ''
  : ' (skipped: tools/guests is not built: pnpm turbo run build --filter=@kvm/guests)';

const run = (name: string, accel: string): Promise<GuestResult> =>
  runGuest({ kernel: image(name), accel, memory: '64M', timeoutMs: 60_000, noReboot: true });

/** FAIL lines of a report: the names of the checks that failed. */
const failedChecks = (serial: string): string[] =>
  serial
    .split('\n')
    .filter((l) => l.startsWith('FAIL '))
    .map((l) => l.slice(5).split(':')[0]);

const CPUID_ONLY = /smep-smap|long\.1g-page|cpuid\.leaf7/;

/** The serial output without the host's failed checks, CPUID-only lines and SUMMARY lines. */
function comparable(serial: string, hostFailed: readonly string[]): string {
  return serial
    .split('\n')
    .filter((l) => !CPUID_ONLY.test(l) && !l.startsWith('SUMMARY '))
    .filter((l) => !hostFailed.some((c) => l.startsWith(`FAIL ${c}:`) || l.startsWith(`PASS ${c}`)))
    .join('\n');
}

const hostRuns = new Map<string, Promise<GuestResult>>();
function onHost(name: string): Promise<GuestResult> {
  let r = hostRuns.get(name);
  if (r === undefined) {
    r = run(name, 'kvm');
    hostRuns.set(name, r);
  }
  return r;
}

describe.each(['vmx', 'svm'])('the 64-bit guests on -accel %s', (accel) => {
  for (const [name, ending] of GUESTS64) {
    it.skipIf(!built)(
      `${name} ends with ${ending}, no check failed, as the host engine prints${notBuilt}`,
      async () => {
        const r = await run(name, accel);
        expect(r.exitReason.kind, r.serial).toBe(ending);
        expect(failedChecks(r.serial), r.serial).toEqual([]);
        if (ending === 'debug-exit') expect(r.status, r.serial).toBe(1);
        if (hostSkipReason !== undefined) return;
        const host = await onHost(name);
        // A guest the host engine cannot finish (kvm-pvm: INT3 at CPL 0) has no reference output.
        if (host.exitReason.kind !== ending) return;
        const hostFailed = failedChecks(host.serial);
        expect(comparable(r.serial, hostFailed)).toBe(comparable(host.serial, hostFailed));
      },
      180_000,
    );
  }
});

describe.each(['vmx', 'svm'])('the bundled demo (no -kernel) on -accel %s', (accel) => {
  it.skipIf(!built)(
    `boots in long mode and runs its four tasks to the end${notBuilt}`,
    async () => {
      // What `pnpm qemu-lite -accel vmx` does: runGuest with no kernel boots the demo guest.
      const r = await runGuest({ accel, timeoutMs: 60_000 });
      expect(r.serial).toContain('long mode, 4-level paging');
      expect(
        r.serial.split('\n').filter((l) => /^ {2}\[(alpha|bravo|charlie|delta)\] turn 3:/.test(l)),
      ).toHaveLength(4);
      expect(r.serial).toContain('all 4 tasks finished after 3 turns each');
      expect(r.exitReason.kind).toBe('debug-exit');
    },
    120_000,
  );
});
