/**
 * The guest suite on `-accel svm` with AMD nested paging on and off (`-accel svm,npt=on`): each
 * 32- and 64-bit test guest of tools/guests (modes, paging, the MMU permission matrix, context
 * switches, page-table writes, exceptions, long mode…) must end the same way and print the same
 * checks with either (that NPT takes no #PF or CR3 exit is svm's test/npt-engine.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { type GuestResult, runGuest, SVM_NPT_DEFAULT } from '../src/index.js';
import {
  engineExits,
  expectSmpGuestPasses,
  guestImage,
  guestsBuilt,
  notBuilt,
  reportChecks,
  TEST_GUESTS,
} from './test-guests.js';

const run = (name: string, npt: boolean): Promise<GuestResult> =>
  runGuest({ kernel: guestImage(name), accel: 'svm', npt, memory: '64M', timeoutMs: 90_000, noReboot: true });

describe('the guests on -accel svm with nested paging on and off', () => {
  for (const [name, ending] of TEST_GUESTS) {
    it.skipIf(!guestsBuilt)(
      `${name}: npt=on and npt=off end with ${ending} and print the same checks${notBuilt}`,
      { timeout: 240_000 },
      async () => {
        const results: GuestResult[] = [];
        for (const npt of [true, false]) {
          const r = await run(name, npt);
          expect(r.exitReason.kind, `npt=${npt}\n${r.serial}`).toBe(ending);
          expect(
            reportChecks(r.serial).filter((c) => c.startsWith('FAIL ')),
            `npt=${npt}`,
          ).toEqual([]);
          results.push(r);
        }
        expect(reportChecks(results[0].serial)).toEqual(reportChecks(results[1].serial));
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

  // SVM exit codes (APM Vol. 2 Appendix C): CR3 write 0x13, #PF 0x4e, NPF 0x400.
  it.skipIf(!guestsBuilt)(
    `is on by default, as kvm-amd's npt=1: CR3 switches and #PF need no exit; npt=off runs the shadow MMU${notBuilt}`,
    { timeout: 240_000 },
    async () => {
      expect(SVM_NPT_DEFAULT).toBe(true);
      const byDefault = await engineExits('svm', {});
      expect(byDefault.exit_0x400 ?? 0).toBeGreaterThan(0);
      expect(byDefault.exit_0x13 ?? 0).toBe(0);
      expect(byDefault.exit_0x4e ?? 0).toBe(0);
      const shadow = await engineExits('svm', { npt: false });
      expect(shadow.exit_0x400 ?? 0).toBe(0);
      expect(shadow.exit_0x13 ?? 0).toBeGreaterThan(0);
    },
  );

  it('is refused on other engines', async () => {
    await expect(runGuest({ kernel: guestImage('long'), accel: 'vmx', npt: true })).rejects.toThrow(
      /npt= is AMD nested paging/,
    );
  });
});

describe('the SMP guests on -accel svm,npt=on (the vCPUs share one TDP map)', () => {
  for (const guest of ['smp', 'smp64']) {
    for (const cpus of [2, 4]) {
      it.skipIf(!guestsBuilt)(
        `${guest} -smp ${cpus}: every CPU up, the counters exact, IPIs both ways${notBuilt}`,
        { timeout: 120_000 },
        () => expectSmpGuestPasses(guest, cpus, 'svm', { npt: true }),
      );
    }
  }
});
