/**
 * The guest suite on `-accel svm` with AMD nested paging on and off (`-accel svm,npt=on`): each
 * 32- and 64-bit test guest of tools/guests (modes, paging, the MMU permission matrix, context
 * switches, page-table writes, exceptions, long mode…) must end the same way and print the same
 * checks with either; with NPT on, the paging guests run without a single #PF or CR3 exit.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { type GuestResult, runGuest } from '../src/index.js';

const GUESTS: readonly [name: string, ending: 'debug-exit' | 'reset'][] = [
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

const image = (name: string): string =>
  fileURLToPath(new URL(`../../../tools/guests/out/${name}.elf`, import.meta.url));
const built = existsSync(image('long'));
const notBuilt = built
  ? ''
  : ' (skipped: tools/guests is not built: pnpm turbo run build --filter=@kvm/guests)';

const run = (name: string, npt: boolean): Promise<GuestResult> =>
  runGuest({ kernel: image(name), accel: 'svm', npt, memory: '64M', timeoutMs: 90_000, noReboot: true });

const checks = (serial: string): string[] =>
  serial
    .split('\n')
    .filter((l) => /^(PASS|FAIL|SKIP) /.test(l))
    .map((l) => l.split(':')[0]);

describe('the guests on -accel svm with nested paging on and off', () => {
  for (const [name, ending] of GUESTS) {
    it.skipIf(!built)(
      `${name}: npt=on and npt=off end with ${ending} and print the same checks${notBuilt}`,
      { timeout: 240_000 },
      async () => {
        const results: GuestResult[] = [];
        for (const npt of [true, false]) {
          const r = await run(name, npt);
          expect(r.exitReason.kind, `npt=${npt}\n${r.serial}`).toBe(ending);
          expect(
            checks(r.serial).filter((c) => c.startsWith('FAIL ')),
            `npt=${npt}`,
          ).toEqual([]);
          results.push(r);
        }
        expect(checks(results[0].serial)).toEqual(checks(results[1].serial));
      },
    );
  }
});

describe('-accel svm,npt=', () => {
  it('parses on/off and refuses anything else', () => {
    expect(parseArgs(['-accel', 'svm,npt=on']).options).toMatchObject({ accel: 'svm', npt: true });
    expect(parseArgs(['-accel', 'svm,npt=off,jit=off']).options).toMatchObject({ npt: false, jit: false });
    expect(parseArgs(['-accel', 'svm']).options.npt).toBeUndefined();
    expect(() => parseArgs(['-accel', 'svm,npt=2'])).toThrow(/npt.*on or off/);
  });

  it('is refused on other engines', async () => {
    await expect(runGuest({ kernel: image('long'), accel: 'vmx', npt: true })).rejects.toThrow(
      /npt= is AMD nested paging/,
    );
  });
});

describe('the SMP guests on -accel svm,npt=on (the vCPUs share one TDP map)', () => {
  const ITER = 1000;
  for (const guest of ['smp', 'smp64']) {
    for (const cpus of [2, 4]) {
      it.skipIf(!built)(
        `${guest} -smp ${cpus}: every CPU up, the counters exact, IPIs both ways${notBuilt}`,
        { timeout: 120_000 },
        async () => {
          const r = await runGuest({
            kernel: image(guest),
            accel: 'svm',
            npt: true,
            smp: cpus,
            memory: '64M',
            append: `iter=${ITER}`,
            timeoutMs: 90_000,
          });
          expect({ ending: r.exitReason, tail: r.serial.slice(-200) }).toMatchObject({
            ending: { kind: 'debug-exit', status: 1 },
          });
          expect(r.serial).not.toMatch(/^FAIL /m);
          expect(r.serial).toContain(`CPUS ${cpus}: ${[...Array(cpus).keys()].join(' ')}\n`);
          expect(r.serial).toContain(`SMP total ${cpus * ITER} = ${cpus} cpus x ${ITER}\n`);
        },
      );
    }
  }
});
