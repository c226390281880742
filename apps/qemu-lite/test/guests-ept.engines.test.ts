/**
 * The guest suite on `-accel vmx` with Intel EPT on and off (`-accel vmx,ept=on`): each 32- and
 * 64-bit test guest of tools/guests (modes, paging, the MMU permission matrix, context switches,
 * page-table writes, exceptions, long mode…) must end the same way and print the same checks with
 * either — cr3oob too: under EPT MOV CR3 still loads the PAE PDPTEs (through EPT) and a reserved
 * bit in one is #GP(0), unlike AMD's NPT (that EPT takes no #PF, CR3 or INVLPG exit is vmx's
 * test/ept-engine.test.ts). Then the SMP guests at -smp 2 and 4 on one shared EPT map.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { type GuestResult, runGuest, VMX_EPT_DEFAULT } from '../src/index.js';
import {
  engineExits,
  expectSameChecksAcrossModes,
  expectSmpGuestPasses,
  guestImage,
  guestsBuilt,
  notBuilt,
  TEST_GUESTS,
} from './test-guests.js';

const run =
  (ept: boolean) =>
  (name: string): Promise<GuestResult> =>
    runGuest({
      kernel: guestImage(name),
      accel: 'vmx',
      ept,
      memory: '64M',
      timeoutMs: 90_000,
      noReboot: true,
    });

describe('the guests on -accel vmx with EPT on and off', () => {
  for (const [name, ending] of [...TEST_GUESTS, ['cr3oob', 'debug-exit'] as const]) {
    it.skipIf(!guestsBuilt)(
      `${name}: ept=on and ept=off end with ${ending} and print the same checks${notBuilt}`,
      { timeout: 240_000 },
      () =>
        expectSameChecksAcrossModes(name, ending, [
          ['ept=on', run(true)],
          ['ept=off', run(false)],
        ]),
    );
  }
});

describe('-accel vmx,ept=', () => {
  it('parses on/off and refuses anything else', () => {
    expect(parseArgs(['-accel', 'vmx,ept=on']).options).toMatchObject({ accel: 'vmx', ept: true });
    expect(parseArgs(['-accel', 'vmx,ept=off,jit=off']).options).toMatchObject({ ept: false, jit: false });
    expect(parseArgs(['-accel', 'vmx']).options.ept).toBeUndefined();
    expect(() => parseArgs(['-accel', 'vmx,ept=2'])).toThrow(/ept.*on or off/);
  });

  // ctxswitch's thousands of CR3 loads exit as CR accesses and its #PFs as exceptions only on
  // the shadow MMU; with EPT what is left is the guest's few CR0/CR4 writes and EPT violations.
  it.skipIf(!guestsBuilt)(
    `is on by default, as kvm-intel's ept=1: CR3 switches and #PF need no exit; ept=off runs the shadow MMU${notBuilt}`,
    { timeout: 240_000 },
    async () => {
      expect(VMX_EPT_DEFAULT).toBe(true);
      const byDefault = await engineExits('vmx', {});
      const shadow = await engineExits('vmx', { ept: false });
      expect(byDefault.exit_ept_violation ?? 0).toBeGreaterThan(0);
      expect(byDefault.exit_exception_nmi ?? 0).toBe(0);
      expect(shadow.exit_ept_violation ?? 0).toBe(0);
      expect(shadow.exit_exception_nmi ?? 0).toBeGreaterThan(0);
      expect(byDefault.exit_cr_access ?? 0).toBeLessThan((shadow.exit_cr_access ?? 0) / 10);
    },
  );

  it('is refused on other engines', async () => {
    await expect(runGuest({ kernel: guestImage('long'), accel: 'svm', ept: true })).rejects.toThrow(
      /ept= is Intel EPT/,
    );
  });
});

describe('the SMP guests on -accel vmx,ept=on (the vCPUs share one EPT map)', () => {
  for (const guest of ['smp', 'smp64']) {
    for (const cpus of [2, 4]) {
      it.skipIf(!guestsBuilt)(
        `${guest} -smp ${cpus}: every CPU up, the counters exact, IPIs both ways${notBuilt}`,
        { timeout: 120_000 },
        () => expectSmpGuestPasses(guest, cpus, 'vmx', { ept: true }),
      );
    }
  }
});
