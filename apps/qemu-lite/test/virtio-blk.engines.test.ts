/**
 * Our own virtio-blk driver (tools/guests/guest/tests/virtioblk.c, long mode) against
 * `-drive file=IMG,format=raw,if=virtio,serial=…` on every engine: it enumerates PCI, negotiates,
 * reads sector 0, writes a pattern through an indirect table, flushes and reads it back; the
 * image file is then checked from the host side. Runs on -accel kvm (skipped with the reason
 * where /dev/kvm is unusable), vmx and svm.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runGuest } from '../src/index.js';
import { cliPath, hostSkipReason } from './helpers.js';

const guest = fileURLToPath(new URL('../../../tools/guests/out/virtioblk64.elf', import.meta.url));
const notBuilt = existsSync(guest)
  ? undefined
  : 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)';
const dir = mkdtempSync(join(tmpdir(), 'virtioblk-guest-'));
const SIGNATURE = 'kvm-ts virtio-blk sector zero';

function makeImage(name: string): string {
  const bytes = new Uint8Array(64 * 1024);
  bytes.set(Buffer.from(SIGNATURE, 'latin1'));
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
  bytes.fill(0xcc, 9 * 512); // after the guest's sectors 1-8: must stay as it is
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const ENGINES: [accel: string, skip: string | undefined][] = [
  ['kvm', notBuilt ?? hostSkipReason],
  ['vmx', notBuilt],
  ['svm', notBuilt],
];

describe('virtio-blk: our guest driver on qemu-lite', () => {
  for (const [accel, skip] of ENGINES) {
    it.skipIf(skip !== undefined)(
      `-accel ${accel}: reads sector 0, writes, flushes and reads back; the image holds the pattern${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        const file = makeImage(`${accel}.img`);
        const result = await runGuest({
          kernel: guest,
          accel,
          memory: '64M',
          timeoutMs: 120_000,
          drives: [{ file, serial: 'KVMTS-0001' }],
        });
        expect(result.serial).not.toMatch(/^FAIL /m);
        expect(result.serial).toContain(`sector 0: ${SIGNATURE}`);
        expect(result.serial).toContain('serial KVMTS-0001');
        expect(result.serial).toMatch(/virtio-blk at 00:02\.0, irq line 11/);
        expect(result.serial).toMatch(/SUMMARY virtioblk: \d+ passed, 0 failed, 0 skipped/);
        // The guest wrote 0 (no failed check): status (0 << 1) | 1.
        expect(result.exitReason).toEqual({ kind: 'debug-exit', status: 1 });
        const image = readFileSync(file);
        for (let i = 0; i < 4096; i++) {
          if (image[512 + i] !== ((i * 7 + 3) & 0xff))
            throw new Error(`image byte ${512 + i} is ${image[512 + i]}`);
        }
        expect(image.subarray(9 * 512).every((b) => b === 0xcc)).toBe(true);
        expect(image.subarray(0, SIGNATURE.length).toString('latin1')).toBe(SIGNATURE);
        // The lock is gone once the run ends.
        expect(existsSync(join(dir, `.${accel}.img.qemu-lite-lock`))).toBe(false);
      },
      180_000,
    );
  }

  it.skipIf(notBuilt !== undefined)(
    'a read-only drive: the guest write fails with IOERR and the image is untouched',
    async () => {
      const file = makeImage('ro.img');
      const before = readFileSync(file);
      const result = await runGuest({
        kernel: guest,
        accel: 'vmx',
        memory: '64M',
        timeoutMs: 120_000,
        drives: [{ file, readonly: true }],
      });
      expect(result.serial).toMatch(/^FAIL virtioblk\.write\.indirect-status: expected 0x0 got 0x1/m);
      expect(readFileSync(file).equals(before)).toBe(true);
    },
    180_000,
  );

  it('refuses an image locked by another qemu-lite, and one not a multiple of 512 bytes', async () => {
    const file = makeImage('locked.img');
    // A lock held by a live process (this one's parent: alive for the test's whole run).
    writeFileSync(join(dir, '.locked.img.qemu-lite-lock'), `${process.ppid}\n`);
    await expect(
      runGuest({ kernel: guest, accel: 'vmx', memory: '64M', drives: [{ file }] }),
    ).rejects.toThrow(/Failed to get "write" lock: is another process using the image/);
    const odd = join(dir, 'odd.img');
    writeFileSync(odd, new Uint8Array(1000));
    await expect(
      runGuest({ kernel: guest, accel: 'vmx', memory: '64M', drives: [{ file: odd }] }),
    ).rejects.toThrow(/not a multiple of 512/);
  });

  it.skipIf(notBuilt !== undefined)(
    'what the guest flushed is in the image after qemu-lite is killed (SIGKILL)',
    async () => {
      const file = makeImage('killed.img');
      const child = spawn(
        process.execPath,
        [
          cliPath,
          '-accel',
          'vmx',
          '-m',
          '64M',
          '-kernel',
          guest,
          '-append',
          'hang=1',
          '-drive',
          `file=${file},if=virtio`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      const ended = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_c, signal) => resolve(signal)),
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no flush in time: ${out}`)), 60_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString('latin1');
          if (out.includes('flushed; halting')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill('SIGKILL');
      expect(await ended).toBe('SIGKILL');
      expect(out).toMatch(/^PASS virtioblk\.flush-status/m);
      const image = readFileSync(file);
      for (let i = 0; i < 4096; i++) {
        if (image[512 + i] !== ((i * 7 + 3) & 0xff))
          throw new Error(`image byte ${512 + i} is ${image[512 + i]}`);
      }
    },
    90_000,
  );
});
