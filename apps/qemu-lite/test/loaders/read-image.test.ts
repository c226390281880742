/** Reading image files: regular files only, a size cap, and a read that leaves the event loop free. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_KERNEL_BYTES, readImageFile } from '../../src/loaders/read-image.js';
import { LoaderError } from '../../src/loaders/types.js';

const dir = mkdtempSync(join(tmpdir(), 'qemu-lite-read-'));

async function refusal(path: string, what = 'kernel', max = MAX_KERNEL_BYTES): Promise<string> {
  const error = await readImageFile(path, what, max).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LoaderError);
  return (error as Error).message;
}

describe('readImageFile', () => {
  it('reads a regular file byte for byte', async () => {
    const path = join(dir, 'image.bin');
    const bytes = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31 + 7) & 0xff);
    writeFileSync(path, bytes);
    const read = await readImageFile(path, 'kernel', MAX_KERNEL_BYTES);
    expect(Buffer.compare(read, bytes)).toBe(0); // (toEqual walks 3 MiB element by element)
    expect(read.length).toBe(bytes.length);
  });

  it('refuses /dev/zero as a character device instead of reading it for ever', async () => {
    expect(await refusal('/dev/zero')).toBe('kernel: /dev/zero is a character device, not a regular file');
  });

  it('refuses a FIFO with no writer at once instead of blocking in open', async () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const started = Date.now();
    expect(await refusal(fifo, 'initrd')).toBe(`initrd: ${fifo} is a FIFO (named pipe), not a regular file`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a directory and a missing file, naming them', async () => {
    expect(await refusal(dir, 'loader')).toBe(`loader: ${dir} is a directory, not a regular file`);
    expect(await refusal(join(dir, 'nope'))).toBe(`kernel: cannot read ${join(dir, 'nope')}: no such file`);
  });

  it('refuses a file over the cap from its size, before reading it', async () => {
    const path = join(dir, 'huge');
    writeFileSync(path, '');
    truncateSync(path, MAX_KERNEL_BYTES + 1); // sparse: no disk used
    expect(await refusal(path)).toBe(
      `kernel: ${path} is ${MAX_KERNEL_BYTES + 1} bytes, larger than any kernel qemu-lite can load (at most 1 GiB)`,
    );
  });

  it('leaves the event loop running while it reads (signal handlers can run)', async () => {
    const path = join(dir, 'big');
    writeFileSync(path, '');
    truncateSync(path, 256 * 1024 * 1024);
    // Count event-loop turns during the read: a synchronous read would allow none.
    let turns = 0;
    let reading = true;
    const spin = () => {
      turns++;
      if (reading) setImmediate(spin);
    };
    setImmediate(spin);
    const bytes = await readImageFile(path, 'initrd', 512 * 1024 * 1024);
    reading = false;
    expect(bytes.length).toBe(256 * 1024 * 1024);
    expect(turns).toBeGreaterThan(8);
  });
});
