/**
 * The benchmark's peers run our bench guests as we do: v86 (the npm package, a dev dependency)
 * and Debian's Bochs through GRUB print the same checksum for the same command line as x86emu.
 * A peer that computed something else, or never reached the guest's last line, would make its
 * MIPS figure meaningless. The figures themselves are `pnpm bench`'s, not a test's.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runOnBareCpu } from '../src/index.js';
import { imagePath } from '../src/manifest.js';
import { bochsAvailability, runOnBochs } from '../src/peer-bochs.js';
import { runOnV86, v86Availability } from '../src/peer-v86.js';

const child = fileURLToPath(new URL('../dist/peer-v86-child.js', import.meta.url));
const image = imagePath('bench-int32');
const v86Why = !existsSync(image)
  ? `${image} is not built`
  : !existsSync(child)
    ? `${child} is not built (tsup)`
    : v86Availability().available
      ? undefined
      : v86Availability().note;
const bochs = bochsAvailability();
const bochsWhy = !existsSync(image) ? `${image} is not built` : bochs.available ? undefined : bochs.note;

const checksum = (serial: string) => /checksum=(\S+)/.exec(serial)?.[1];

describe('benchmark peers', async () => {
  const append = 'iterations=3';
  const reference = existsSync(image)
    ? checksum((await runOnBareCpu('bench-int32', { append })).serial)
    : undefined;

  it.skipIf(v86Why !== undefined)(
    `v86 prints x86emu's checksum for bench-int32 ${append} and exits 0${v86Why ? ` (skipped: ${v86Why})` : ''}`,
    async () => {
      const r = await runOnV86(image, append, 60_000);
      expect(r.why).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(reference).toMatch(/^0x[0-9a-f]+$/);
      expect(checksum(r.serial)).toBe(reference);
      // The child reports its CPU time (the bench's clock for this row), at most its wall time's worth
      // per core.
      expect(r.cpuMs).toBeGreaterThan(0);
      expect(r.cpuMs).toBeLessThan(r.ms * 4);
    },
  );

  // The SSE2 bench guest: v86 has SSE2, and the guest checks each part against scalar code itself
  // (a mismatch is debug-exit status 1, so `ok` would be false).
  const sseImage = imagePath('bench-sse32');
  const sseWhy = v86Why ?? (!existsSync(sseImage) ? `${sseImage} is not built` : undefined);
  it.skipIf(sseWhy !== undefined)(
    `v86 runs bench-sse32 iterations=2 and prints x86emu's checksum${sseWhy ? ` (skipped: ${sseWhy})` : ''}`,
    async () => {
      const sseAppend = 'iterations=2';
      const bare = await runOnBareCpu('bench-sse32', { append: sseAppend });
      expect(bare.ok).toBe(true);
      const r = await runOnV86(sseImage, sseAppend, 60_000);
      expect(r.why).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(checksum(r.serial)).toMatch(/^0x[0-9a-f]{16}$/);
      expect(checksum(r.serial)).toBe(checksum(bare.serial));
    },
  );

  it.skipIf(bochsWhy !== undefined)(
    `Bochs prints x86emu's checksum for bench-int32 ${append}${bochsWhy ? ` (skipped: ${bochsWhy})` : ''}`,
    async () => {
      const r = await runOnBochs(image, append, 120_000);
      expect(r.why).toBeUndefined();
      expect(checksum(r.serial)).toBe(reference);
    },
  );
});
