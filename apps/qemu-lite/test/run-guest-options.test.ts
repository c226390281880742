/**
 * runGuest's option checks: every bad option is a TypeError or RangeError naming it, raised
 * before any engine, file or thread is touched (so no /dev/kvm is needed here).
 */
import { describe, expect, it } from 'vitest';
import { type RunGuestOptions, runGuest } from '../src/index.js';

const image = new Uint8Array([0xf4]);

async function rejection(options: unknown): Promise<Error> {
  const error = await runGuest(options as RunGuestOptions).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, JSON.stringify(options)).toBeInstanceOf(Error);
  return error as Error;
}

const typeErrors: [string, unknown, RegExp][] = [
  ['null', null, /^runGuest: options must be an object, not null$/],
  ['a string', 'kernel.elf', /^runGuest: options must be an object, not "kernel\.elf"$/],
  ['an unknown option', { kernal: 'k' }, /^runGuest: 'kernal' is not an option$/],
  ['memory: {}', { memory: {} }, /^runGuest: options\.memory must be a size in bytes .*, not an object$/],
  ['kernel: 12345', { kernel: 12345 }, /^runGuest: options\.kernel must be a path .*, not number 12345$/],
  ["kernel: ''", { kernel: '' }, /^runGuest: options\.kernel must be a path/],
  [
    "timeoutMs: 'soon'",
    { timeoutMs: 'soon' },
    /^runGuest: options\.timeoutMs must be a number .*, not "soon"$/,
  ],
  [
    "debugExit: 'yes'",
    { debugExit: 'yes' },
    /^runGuest: options\.debugExit must be \{ iobase, iosize \} or false, not "yes"$/,
  ],
  ['debugExit: true', { debugExit: true }, /^runGuest: options\.debugExit must be/],
  ["log: 'exits'", { log: 'exits' }, /^runGuest: options\.log must be a list of log items/],
  [
    'a flat image together with a kernel',
    { kernel: image, flat: { image, loadAddr: 0x100000 } },
    /^runGuest: options\.kernel and options\.flat both give a guest: choose one$/,
  ],
  [
    'flat without loadAddr',
    { flat: { image } },
    /^runGuest: options\.flat\.loadAddr must be a guest-physical address/,
  ],
  [
    "flat.mode: 'long'",
    { flat: { image, loadAddr: 0, mode: 'long' } },
    /^runGuest: options\.flat\.mode must be/,
  ],
  ['flat.image missing', { flat: { loadAddr: 0 } }, /^runGuest: options\.flat\.image must be a path/],
  ['accel: 1', { accel: 1 }, /^runGuest: options\.accel must be a string, not number 1$/],
  ['append: null', { append: null }, /^runGuest: options\.append must be a string, not null$/],
  ['initrd: 7', { initrd: 7 }, /^runGuest: options\.initrd must be a path/],
  ['initrd: [{ cmdline }]', { initrd: [{ cmdline: 'x' }] }, /^runGuest: options\.initrd\[0\]\.image must be/],
  ["noReboot: 'no'", { noReboot: 'no' }, /^runGuest: options\.noReboot must be a boolean, not "no"$/],
  ['kernelIrqchip: 1', { kernelIrqchip: 1 }, /^runGuest: options\.kernelIrqchip must be a boolean/],
  ['serialToStdout: 1', { serialToStdout: 1 }, /^runGuest: options\.serialToStdout must be a boolean/],
  ['captureSerial: null', { captureSerial: null }, /^runGuest: options\.captureSerial must be a boolean/],
  [
    'onSerial: true',
    { onSerial: true },
    /^runGuest: options\.onSerial must be a function, not boolean true$/,
  ],
  ["onStart: 'go'", { onStart: 'go' }, /^runGuest: options\.onStart must be a function/],
  ['logFile: 2', { logFile: 2 }, /^runGuest: options\.logFile must be a string/],
];

const rangeErrors: [string, unknown, RegExp][] = [
  ['timeoutMs: -1', { timeoutMs: -1 }, /^runGuest: options\.timeoutMs must be a finite number .*, not -1$/],
  ['timeoutMs: NaN', { timeoutMs: Number.NaN }, /^runGuest: options\.timeoutMs .*, not NaN$/],
  [
    'timeoutMs: Infinity',
    { timeoutMs: Number.POSITIVE_INFINITY },
    /^runGuest: options\.timeoutMs .*, not Infinity$/,
  ],
  [
    'timeoutMs: 2^31 (setTimeout would fire at once)',
    { timeoutMs: 2 ** 31 },
    /^runGuest: options\.timeoutMs/,
  ],
  ["log: ['bogus']", { log: ['bogus'] }, /^runGuest: options\.log: "bogus" is not a log item \(exits, /],
  ["memory: 'lots'", { memory: 'lots' }, /^runGuest: options\.memory: 'lots' is not a size/],
  [
    'memory: 1 MiB',
    { memory: 2 ** 20 },
    /^runGuest: options\.memory must be a multiple of 4 KiB from 2 MiB to 3 GiB/,
  ],
  ["memory: '4G'", { memory: '4G' }, /^runGuest: options\.memory must be a multiple of 4 KiB/],
  ['memory: 2 MiB + 1', { memory: 2 ** 21 + 1 }, /^runGuest: options\.memory must be a multiple of 4 KiB/],
  [
    'flat.loadAddr: -1',
    { flat: { image, loadAddr: -1 } },
    /^runGuest: options\.flat\.loadAddr must be an integer/,
  ],
  [
    'flat.entry: 2^32',
    { flat: { image, loadAddr: 0, entry: 2 ** 32 } },
    /^runGuest: options\.flat\.entry must be/,
  ],
  [
    'debugExit.iosize: 3',
    { debugExit: { iobase: 0xf4, iosize: 3 } },
    /^runGuest: options\.debugExit\.iosize must be 1, 2 or 4, not 3$/,
  ],
  [
    'debugExit beyond 0xffff',
    { debugExit: { iobase: 0xfffe, iosize: 4 } },
    /^runGuest: options\.debugExit\.iobase .* outside the I\/O space/,
  ],
  ['initrd: []', { initrd: [] }, /^runGuest: options\.initrd is an empty list of modules$/],
  [
    "accel: 'tcg'",
    { accel: 'tcg' },
    /^runGuest: options\.accel must be one of kvm, host, vmx, svm, not "tcg"$/,
  ],
];

describe('runGuest option checks', () => {
  for (const [what, options, message] of typeErrors) {
    it(`rejects ${what} with a TypeError naming it`, async () => {
      const error = await rejection(options);
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(message);
    });
  }
  for (const [what, options, message] of rangeErrors) {
    it(`rejects ${what} with a RangeError naming it`, async () => {
      const error = await rejection(options);
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toMatch(message);
    });
  }

  it('rejects rather than throws, whatever it is given', () => {
    // A caller awaiting runGuest never sees a synchronous throw.
    const pending = runGuest(null as unknown as RunGuestOptions);
    expect(pending).toBeInstanceOf(Promise);
    return expect(pending).rejects.toThrow(TypeError);
  });
});
