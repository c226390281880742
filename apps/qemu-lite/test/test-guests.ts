/**
 * tools/guests' test programs as the engine-mode comparison tests run them (`guests-jit`: the
 * block compiler on and off; `guests-npt`, `guests-ept`: nested paging on and off): the 32- and 64-bit guests
 * with the ending each expects, where their images are, and the checks a report printed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { type GuestResult, type RunGuestOptions, runGuest } from '../src/index.js';

/** The guests (32- and 64-bit), with the ending each expects. */
export const TEST_GUESTS: readonly [name: string, ending: 'debug-exit' | 'reset'][] = [
  ...[
    'modes',
    'mmu',
    'paging',
    'ctxswitch',
    'ptwrite',
    'exceptions',
    'softint',
    'interrupts',
    'cpu',
    'io',
    'long',
    'mmu64',
    'paging64',
    'ctxswitch64',
    'ptwrite64',
    'exceptions64',
    'softint64',
    'interrupts64',
    'apic64',
    'cpu64',
    'io64',
    'demo',
  ].map((n) => [n, 'debug-exit'] as [string, 'debug-exit']),
  ['cr3oob64', 'reset'],
  ['triplefault64', 'reset'],
];

/** A guest's ELF image in tools/guests/out. */
export const guestImage = (name: string): string =>
  fileURLToPath(new URL(`../../../tools/guests/out/${name}.elf`, import.meta.url));

/** Whether tools/guests is built; `notBuilt` is the skip reason to put in a test's name. */
export const guestsBuilt = existsSync(guestImage('long'));
export const notBuilt = guestsBuilt
  ? ''
  : ' (skipped: tools/guests is not built: pnpm turbo run build --filter=@kvm/guests)';

/** The checks a report printed (PASS/FAIL/SKIP lines, without their free-text detail). */
export const reportChecks = (serial: string): string[] =>
  serial
    .split('\n')
    .filter((l) => /^(PASS|FAIL|SKIP) /.test(l))
    .map((l) => l.split(':')[0]);

/**
 * Runs guest `name` once per mode (`guests-jit`, `guests-npt`, `guests-ept`: an engine option on
 * and off): each run must end with `ending` and print no FAIL check, and every mode the same checks.
 */
export async function expectSameChecksAcrossModes(
  name: string,
  ending: string,
  modes: readonly (readonly [label: string, run: (name: string) => Promise<GuestResult>])[],
): Promise<void> {
  const checks: string[][] = [];
  for (const [label, run] of modes) {
    const r = await run(name);
    expect(r.exitReason.kind, `${label}\n${r.serial}`).toBe(ending);
    const c = reportChecks(r.serial);
    expect(
      c.filter((x) => x.startsWith('FAIL ')),
      label,
    ).toEqual([]);
    checks.push(c);
  }
  for (let i = 1; i < checks.length; i++) expect(checks[i], modes[i][0]).toEqual(checks[0]);
}

/**
 * The engine's exit counters of one ctxswitch run on `accel` with `paging` (e.g. `{ npt: false }`,
 * `{}` for the engine's default), from `-d exits` (` engine exit_NAME count` lines: svm's by code,
 * `exit_0x400`, vmx's by name, `exit_ept_violation`).
 */
export async function engineExits(
  accel: 'vmx' | 'svm',
  paging: Pick<RunGuestOptions, 'npt' | 'ept'>,
): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'paging-default-'));
  try {
    const logFile = join(dir, 'exits.log');
    const r = await runGuest({
      kernel: guestImage('ctxswitch'),
      accel,
      ...paging,
      memory: '64M',
      timeoutMs: 90_000,
      noReboot: true,
      log: ['exits'],
      logFile,
    });
    expect(r.exitReason.kind, r.serial).toBe('debug-exit');
    const counts: Record<string, number> = {};
    for (const m of readFileSync(logFile, 'utf8').matchAll(/^ engine (exit_[0-9a-z_]+) (\d+)$/gm))
      counts[m[1]] = Number(m[2]);
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The smp/smp64 guest at `-smp cpus` on `accel` with `paging`: every CPU up, the lock's counters
 * exact (1,000 increments a CPU), IPIs both ways, the guest's own checks all passed.
 */
export async function expectSmpGuestPasses(
  guest: string,
  cpus: number,
  accel: 'vmx' | 'svm',
  paging: Pick<RunGuestOptions, 'npt' | 'ept'>,
): Promise<void> {
  const iter = 1000;
  const r = await runGuest({
    kernel: guestImage(guest),
    accel,
    ...paging,
    smp: cpus,
    memory: '64M',
    append: `iter=${iter}`,
    timeoutMs: 90_000,
  });
  expect({ ending: r.exitReason, tail: r.serial.slice(-200) }).toMatchObject({
    ending: { kind: 'debug-exit', status: 1 },
  });
  expect(r.serial).not.toMatch(/^FAIL /m);
  expect(r.serial).toContain(`CPUS ${cpus}: ${[...Array(cpus).keys()].join(' ')}\n`);
  expect(r.serial).toContain(`SMP total ${cpus * iter} = ${cpus} cpus x ${iter}\n`);
}
