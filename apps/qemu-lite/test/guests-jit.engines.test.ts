/**
 * The guest suite on the software engine both ways: x86emu's block compiler on (the default) and
 * off (`-accel vmx,jit=off`). Each 32- and 64-bit test guest of tools/guests must end the same
 * way and print the same checks with either, on vmx and on svm; guests32/64 and the engine
 * suites referee the default mode against the host. `QEMU_LITE_JIT_MODES=on` or `=off` runs one
 * mode only (each guest must then just end as the manifest expects and fail no check).
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/cli/args.js';
import { type GuestResult, runGuest } from '../src/index.js';
import { guestImage, guestsBuilt, notBuilt, reportChecks, TEST_GUESTS } from './test-guests.js';

const MODES = process.env.QEMU_LITE_JIT_MODES ?? 'both';
// Blocks compile at the second visit (default: the thousandth), to put as much of each guest as
// possible through the compiler; the CPUs read it when they are made (worker threads inherit it).
process.env.X86EMU_JIT_HOT ??= '2';

const run = (name: string, accel: string, jit: boolean): Promise<GuestResult> =>
  runGuest({ kernel: guestImage(name), accel, jit, memory: '64M', timeoutMs: 60_000, noReboot: true });

describe.each(['vmx', 'svm'])('the guests on -accel %s with the block compiler on and off', (accel) => {
  for (const [name, ending] of TEST_GUESTS) {
    it.skipIf(!guestsBuilt)(
      `${name}: jit=on and jit=off end with ${ending} and print the same checks${notBuilt}`,
      { timeout: 180_000 },
      async () => {
        const modes = MODES === 'both' ? [true, false] : [MODES !== 'off'];
        const results = [];
        for (const jit of modes) {
          const r = await run(name, accel, jit);
          expect(r.exitReason.kind, `jit=${jit}\n${r.serial}`).toBe(ending);
          expect(
            reportChecks(r.serial).filter((c) => c.startsWith('FAIL ')),
            `jit=${jit}`,
          ).toEqual([]);
          results.push(r);
        }
        if (results.length === 2)
          expect(reportChecks(results[0].serial)).toEqual(reportChecks(results[1].serial));
      },
    );
  }
});

describe('-accel …,jit=', () => {
  it('parses on/off for the software engines and refuses anything else', () => {
    expect(parseArgs(['-accel', 'vmx,jit=off']).options).toMatchObject({ accel: 'vmx', jit: false });
    expect(parseArgs(['-accel', 'svm,jit=on']).options).toMatchObject({ accel: 'svm', jit: true });
    expect(parseArgs(['-accel', 'vmx']).options.jit).toBeUndefined();
    expect(() => parseArgs(['-accel', 'vmx,jit=maybe'])).toThrow(/jit.*not on, off, js or wasm/);
  });

  it('is refused on the host engine, which runs the guest on the host CPU', async () => {
    await expect(runGuest({ kernel: guestImage('long'), accel: 'kvm', jit: false })).rejects.toThrow(
      /jit= selects the software engine/,
    );
  });

  it('is a boolean in runGuest', async () => {
    await expect(
      runGuest({ kernel: guestImage('long'), accel: 'vmx', jit: 'off' as unknown as boolean }),
    ).rejects.toThrow(TypeError);
  });
});
