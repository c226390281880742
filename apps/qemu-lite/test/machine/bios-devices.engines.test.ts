/**
 * A -kernel guest on every engine finds what QEMU with SeaBIOS leaves (the BDA, the PIC at
 * vectors 0x08/0x70 with IRQ 0 open, the PIT's 18.2 Hz tick) and QEMU's test devices
 * (isa-debugcon, pc-testdev), and a multiboot kernel linked at 0x8000 boots with
 * "<file name> <append>" as its command line (test/guests/bios-devices.S).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type GuestResult, runGuest } from '../../src/index.js';
import { buildTestGuest, hostSkipReason } from '../helpers.js';

const runs: { name: string; accel: string }[] = [
  { name: 'vmx', accel: 'vmx' },
  { name: 'svm', accel: 'svm' },
];
if (hostSkipReason) console.warn(`bios/devices guest: skipping the host engine: ${hostSkipReason}`);
else runs.push({ name: 'kvm', accel: 'kvm' });

let low: string;
let high: string;
beforeAll(() => {
  low = buildTestGuest('bios-devices', 0x8000);
  high = buildTestGuest('bios-devices');
});

describe.each(runs)('BIOS state and test devices on -accel $name', ({ accel }) => {
  let result: GuestResult;
  let debugcon: string;
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'debugcon-')), 'out.txt');
    result = await runGuest({
      kernel: low,
      accel,
      append: 'argv1 argv2',
      debugcon: { output: { file } },
      pcTestdev: true,
      timeoutMs: 20_000,
    });
    debugcon = readFileSync(file, 'latin1');
  }, 30_000);

  it('a multiboot kernel linked at 0x8000 boots and gets "<file name> <append>" as its command line', () => {
    expect(debugcon.split('\n')[0]).toBe(`${low} argv1 argv2`);
    expect(result.description).toMatch(
      /^multiboot \(ELF, 3 segments\), 0x7000\.\.0x9c04, .*boot information at 0x/,
    );
  });

  it('finds the BDA and the PIC as SeaBIOS leaves them, pc-testdev ports and I/O memory round-trip', () => {
    // 0x10 BDA, 0x11 IMR, 0x12 debugcon readback, 0x13 testdev port, 0x14 testdev memory,
    // 0x7f an interrupt at any vector but 8 (status (v << 1) | 1).
    expect(result.exitReason).toEqual({ kind: 'debug-exit', status: (0x21 << 1) | 1 });
  });

  it('takes IRQ 0 at vector 8 after STI: three timer ticks, reported through the debugcon file', () => {
    expect(debugcon).toBe(`${low} argv1 argv2\nticks\n`);
  });

  it('without pc-testdev the scratch port reads all ones and the guest says so (0x13)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'debugcon-')), 'out.txt');
    const r = await runGuest({ kernel: high, accel, debugcon: { output: { file } }, timeoutMs: 20_000 });
    expect(readFileSync(file, 'latin1')).toBe(`${high} \n`); // no -append: QEMU's "%s %s"
    expect(r.exitReason).toEqual({ kind: 'debug-exit', status: (0x13 << 1) | 1 });
  });
});
