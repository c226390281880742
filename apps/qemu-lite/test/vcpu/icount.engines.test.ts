/**
 * `-icount shift=N` on the software engines: a guest that counts loop iterations between PIT
 * ticks and reads the PM timer and the TSC gives the same answers on every run, as under QEMU's
 * icount (the PIT, the PM timer and the TSC all run on retired instructions, 2^N ns each).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../src/index.js';

// Real mode at 0x7c00: IVT[8] → 0x7d00 (inc word [0x600]; EOI; iret); PIT channel 0 in mode 2
// at 1193 (1 ms); PM timer → ESI; sti; count ECX until five ticks; cli; then out 0xe9 the PM
// timer delta, ECX and the TSC's low half (4 bytes each, little-endian); debug-exit 0.
const out4 = [0xe6, 0xe9, 0x66, 0xc1, 0xe8, 0x08];
// prettier-ignore
const code = [
  0xfa,
  0x31,
  0xc0,
  0x8e,
  0xd8,
  0xc7,
  0x06,
  0x20,
  0x00,
  0x00,
  0x7d,
  0xc7,
  0x06,
  0x22,
  0x00,
  0x00,
  0x00,
  0xc7,
  0x06,
  0x00,
  0x06,
  0x00,
  0x00,
  0xb0,
  0x34,
  0xe6,
  0x43,
  0xb0,
  0xa9,
  0xe6,
  0x40,
  0xb0,
  0x04,
  0xe6,
  0x40,
  0xba,
  0x08,
  0x06,
  0x66,
  0xed,
  0x66,
  0x89,
  0xc6,
  0x66,
  0x31,
  0xc9,
  0xfb,
  0x66,
  0x41,
  0x83,
  0x3e,
  0x00,
  0x06,
  0x05,
  0x72,
  0xf7,
  0xfa,
  0x66,
  0xed,
  0x66,
  0x29,
  0xf0,
  ...out4,
  ...out4,
  ...out4,
  ...out4,
  0x66,
  0x89,
  0xc8,
  ...out4,
  ...out4,
  ...out4,
  ...out4,
  0x0f,
  0x31,
  ...out4,
  ...out4,
  ...out4,
  ...out4,
  0xb0,
  0x00,
  0xe6,
  0xf4,
  0xf4,
];
const handler = [0xff, 0x06, 0x00, 0x06, 0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf];

async function run(accel: string, icount?: { shift: number }): Promise<DataView> {
  const image = new Uint8Array(0x110);
  image.set(code);
  image.set(handler, 0x100);
  const file = join(mkdtempSync(join(tmpdir(), 'icount-')), 'out.bin');
  const r = await runGuest({
    flat: { image, loadAddr: 0x7c00, mode: 'real' },
    accel,
    icount,
    debugcon: { output: { file } },
    timeoutMs: 20_000,
  });
  expect(r.exitReason).toEqual({ kind: 'debug-exit', status: 1 });
  const bytes = readFileSync(file);
  expect(bytes.length).toBe(12);
  return new DataView(bytes.buffer, bytes.byteOffset, 12);
}

describe.each([{ accel: 'vmx' }, { accel: 'svm' }])('-icount on -accel $accel', ({ accel }) => {
  it('repeats a timing-dependent guest exactly: same iterations, PM timer and TSC', async () => {
    const a = await run(accel, { shift: 2 });
    const b = await run(accel, { shift: 2 });
    expect([a.getUint32(0, true), a.getUint32(4, true), a.getUint32(8, true)]).toEqual([
      b.getUint32(0, true),
      b.getUint32(4, true),
      b.getUint32(8, true),
    ]);
    // Five 1 ms PIT periods on the virtual clock: about 5 ms of PM timer (3.579545 MHz).
    expect(a.getUint32(0, true)).toBeGreaterThan(3.579545e3 * 4);
    expect(a.getUint32(0, true)).toBeLessThan(3.579545e3 * 5 + 100);
    // 2^2 ns per instruction: five 1 ms periods are about 1.25 M instructions of counting loop.
    expect(a.getUint32(4, true)).toBeGreaterThan(100_000);
  }, 60_000);

  it('refuses the host engine and kernel-irqchip=off, with the reason', async () => {
    await expect(
      runGuest({
        flat: { image: new Uint8Array([0xf4]), loadAddr: 0x7c00 },
        accel: 'kvm',
        icount: { shift: 1 },
      }),
    ).rejects.toThrow(/-icount needs a software engine/);
    await expect(
      runGuest({
        flat: { image: new Uint8Array([0xf4]), loadAddr: 0x7c00 },
        accel,
        kernelIrqchip: false,
        icount: { shift: 1 },
      }),
    ).rejects.toThrow(/-icount needs the in-kernel irqchip/);
  });
});
