/**
 * The guest suite on the software engine both ways: x86emu's block compiler on (the default) and
 * off (`-accel vmx,jit=off`). Each 32- and 64-bit test guest of tools/guests must end the same
 * way and print the same checks with either, on vmx and on svm; guests32/64 and the engine
 * suites referee the default mode against the host. `QEMU_LITE_JIT_MODES=on` or `=off` runs one
 * mode only (each guest must then just end as the manifest expects and fail no check).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { type GuestResult, runGuest } from '../src/index.js';

/** tools/guests' test guests (32- and 64-bit), with the ending each expects. */
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
  ].map((n) => [n, 'debug-exit'] as [string, 'debug-exit']),
  ...[
    'long',
    'mmu64',
    'paging64',
    'ctxswitch64',
    'ptwrite64',
    'exceptions64',
    'softint64',
    'interrupts64',
  ].map((n) => [n, 'debug-exit'] as [string, 'debug-exit']),
  ...['apic64', 'cpu64', 'io64', 'demo'].map((n) => [n, 'debug-exit'] as [string, 'debug-exit']),
  ['cr3oob64', 'reset'],
  ['triplefault64', 'reset'],
];
const MODES = process.env.QEMU_LITE_JIT_MODES ?? 'both';
// Blocks compile at the second visit (default: the thousandth), to put as much of each guest as
// possible through the compiler; the CPUs read it when they are made (worker threads inherit it).
process.env.X86EMU_JIT_HOT ??= '2';

const image = (name: string): string =>
  fileURLToPath(new URL(`../../../tools/guests/out/${name}.elf`, import.meta.url));
const built = existsSync(image('long'));
const notBuilt = built
  ? ''
  : ' (skipped: tools/guests is not built: pnpm turbo run build --filter=@kvm/guests)';

const run = (name: string, accel: string, jit: boolean): Promise<GuestResult> =>
  runGuest({ kernel: image(name), accel, jit, memory: '64M', timeoutMs: 60_000, noReboot: true });

/** The checks a report printed (PASS/FAIL/SKIP lines, without their free-text detail). */
const checks = (serial: string): string[] =>
  serial
    .split('\n')
    .filter((l) => /^(PASS|FAIL|SKIP) /.test(l))
    .map((l) => l.split(':')[0]);

describe.each(['vmx', 'svm'])('the guests on -accel %s with the block compiler on and off', (accel) => {
  for (const [name, ending] of GUESTS) {
    it.skipIf(!built)(
      `${name}: jit=on and jit=off end with ${ending} and print the same checks${notBuilt}`,
      { timeout: 180_000 },
      async () => {
        const modes = MODES === 'both' ? [true, false] : [MODES !== 'off'];
        const results = [];
        for (const jit of modes) {
          const r = await run(name, accel, jit);
          expect(r.exitReason.kind, `jit=${jit}\n${r.serial}`).toBe(ending);
          expect(
            checks(r.serial).filter((c) => c.startsWith('FAIL ')),
            `jit=${jit}`,
          ).toEqual([]);
          results.push(r);
        }
        if (results.length === 2) expect(checks(results[0].serial)).toEqual(checks(results[1].serial));
      },
    );
  }
});

describe('-accel …,jit=', () => {
  it('parses on/off for the software engines and refuses anything else', () => {
    expect(parseArgs(['-accel', 'vmx,jit=off']).options).toMatchObject({ accel: 'vmx', jit: false });
    expect(parseArgs(['-accel', 'svm,jit=on']).options).toMatchObject({ accel: 'svm', jit: true });
    expect(parseArgs(['-accel', 'vmx']).options.jit).toBeUndefined();
    expect(() => parseArgs(['-accel', 'vmx,jit=maybe'])).toThrow(/jit.*on or off/);
  });

  it('is refused on the host engine, which runs the guest on the host CPU', async () => {
    await expect(runGuest({ kernel: image('long'), accel: 'kvm', jit: false })).rejects.toThrow(
      /jit= selects the software engine/,
    );
  });

  it('is a boolean in runGuest', async () => {
    await expect(
      runGuest({ kernel: image('long'), accel: 'vmx', jit: 'off' as unknown as boolean }),
    ).rejects.toThrow(TypeError);
  });
});
