/**
 * Two qemu-lite processes and one image: the second is refused while the first runs (the lock
 * file, see src/devices/virtio/drive.ts), and the first one's SIGTERM releases it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-drive-lock-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** CLI; HLT with interrupts off: the guest waits until qemu-lite is told to stop. */
function guestArgs(image: string): string[] {
  const flat = join(dir, 'halt.bin');
  writeFileSync(flat, Uint8Array.of(0xfa, 0xf4, 0xeb, 0xfd));
  return [
    '-accel',
    'vmx',
    '-m',
    '16M',
    '-serial',
    'none',
    '-device',
    `loader,file=${flat},addr=0x100000`,
    '-drive',
    `file=${image},format=raw,if=virtio`,
  ];
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('an image used by two qemu-lite processes', () => {
  it('refuses the second while the first runs, and SIGTERM on the first releases the lock', async () => {
    const image = join(dir, 'shared.img');
    writeFileSync(image, new Uint8Array(4096));
    const lock = join(dir, '.shared.img.qemu-lite-lock');
    const first = spawn(process.execPath, [cliPath, ...guestArgs(image)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(first);
    await waitFor(() => existsSync(lock), 20_000);

    const second = spawnSync(process.execPath, [cliPath, ...guestArgs(image)], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(
      `qemu-lite: -drive file=${image}: Failed to get "write" lock: is another process using the image [${image}]? (qemu-lite pid ${first.pid} holds it)`,
    );

    const ended = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    first.kill('SIGTERM');
    expect(await ended).toBe(0);
    expect(existsSync(lock)).toBe(false);
  }, 60_000);
});
