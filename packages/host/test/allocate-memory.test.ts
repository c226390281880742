/**
 * Guest memory of any size ends in a value or a catchable error, never a native abort. Node
 * refuses external ArrayBuffers longer than buffer.constants.MAX_LENGTH (4 GiB on Node 20), and
 * the addon used to free its finalizer data a second time when that happened: `free(): double
 * free detected in tcache 2`, SIGABRT, on `allocateMemory(8 GiB)`. The raw addon is exercised in
 * a child process, so that an abort shows up as this test failing, not as the runner dying.
 */

import { constants as bufferConstants } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Errno, KvmError } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { HostKvmDevice } from '../src/index.js';
import { loadNative, nativeAddonPath } from '../src/native.js';

const native = loadNative();
const skip = native.ok ? undefined : native.reason;
if (skip) console.warn(`[allocate-memory.test] skipped: ${skip}`);

const ADDON = nativeAddonPath();
const GiB = 2 ** 30;
const MAX_LENGTH = bufferConstants.MAX_LENGTH;

/** What the raw addon does with each size, in a child process: a value, or the error it threw. */
const CHILD = `
const addon = require(process.argv[1]);
const out = [];
for (const size of JSON.parse(process.argv[2])) {
  try {
    const { buffer } = addon.allocateMemory(size);
    out.push({ size, bytes: buffer.byteLength });
    addon.release(buffer);
  } catch (e) {
    out.push({ size, error: e.constructor.name, code: e.code ?? null });
  }
}
console.log(JSON.stringify(out));
`;

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KvmError) return e.errno;
    throw e;
  }
  return undefined;
}

describe.skipIf(skip !== undefined)(
  `guest memory of absurd sizes${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('the raw addon answers 8 GiB, 2^53 - 4096, 2^53, -4096, 1.5 and NaN without aborting', () => {
      const sizes = [8 * GiB, MAX_LENGTH + 4096, 2 ** 53 - 4096, 2 ** 53, -4096, 1.5, Number.NaN, 4096];
      const child = spawnSync(process.execPath, ['-e', CHILD, ADDON, JSON.stringify(sizes)], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(child.signal, `child died: ${child.stderr}`).toBeNull();
      expect(child.status, child.stderr).toBe(0);
      const results = JSON.parse(child.stdout) as {
        size: number;
        bytes?: number;
        error?: string;
        code?: string;
      }[];
      const bySize = (size: number) => results[sizes.indexOf(size)];
      for (const size of [8 * GiB, MAX_LENGTH + 4096, 2 ** 53 - 4096]) {
        expect(bySize(size)).toMatchObject({ error: 'Error', code: 'ENOMEM' });
      }
      // Not a size at all (JSON turns NaN into null, so look it up by position).
      for (const i of [3, 4, 5, 6]) expect(results[i]).toMatchObject({ error: 'TypeError' });
      expect(bySize(4096)).toMatchObject({ bytes: 4096 });
    });

    it('the device throws KvmError: ENOMEM past one ArrayBuffer, EINVAL for what is not a size', () => {
      const device = new HostKvmDevice();
      expect(errnoOf(() => device.allocateMemory(8 * GiB))).toBe(Errno.ENOMEM);
      expect(errnoOf(() => device.allocateMemory(MAX_LENGTH + 4096))).toBe(Errno.ENOMEM);
      expect(errnoOf(() => device.allocateMemory(2 ** 53 - 4096))).toBe(Errno.ENOMEM);
      for (const size of [2 ** 53, -4096, 4096.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(
          errnoOf(() => device.allocateMemory(size)),
          `size ${size}`,
        ).toBe(Errno.EINVAL);
      }
    });

    it('the largest allocation Node allows is a value, its last page usable', () => {
      const device = new HostKvmDevice();
      const memory = device.allocateMemory(MAX_LENGTH);
      expect(memory.buffer.byteLength).toBe(MAX_LENGTH);
      const bytes = new Uint8Array(memory.buffer);
      bytes[MAX_LENGTH - 1] = 0x5a; // the memfd is sparse: this touches one page
      expect(bytes[MAX_LENGTH - 1]).toBe(0x5a);
    });

    it('maps a live memfd again, refusing a view past its end (SIGBUS) and a memfd already closed', () => {
      const addon = (native as { addon: import('../src/native.js').NativeAddon }).addon;
      const { buffer, memfd } = addon.allocateMemory(8192);
      let caught: unknown;
      try {
        addon.mapMemfd(memfd, 3 * 4096);
      } catch (e) {
        caught = e;
      }
      expect((caught as { code?: string }).code).toBe('EINVAL');
      const view = addon.mapMemfd(memfd, 8192);
      new Uint8Array(view.buffer)[8191] = 7;
      expect(new Uint8Array(buffer)[8191]).toBe(7); // the same pages
      addon.release(view.buffer);
      addon.release(buffer);
      // Every mapping gone, the memfd is closed and its number free for any file, such as this
      // one (open() takes the lowest free number): refused, rather than mapping that file.
      const file = join(mkdtempSync(join(tmpdir(), 'kvm-memfd-')), 'other');
      writeFileSync(file, new Uint8Array(8192));
      const other = openSync(file, 'r+');
      try {
        for (const fd of [memfd, other]) {
          let caught: unknown;
          try {
            addon.mapMemfd(fd, 4096);
          } catch (e) {
            caught = e;
          }
          expect((caught as { code?: string }).code, `fd ${fd}`).toBe('EBADF');
        }
      } finally {
        closeSync(other);
        rmSync(dirname(file), { recursive: true, force: true });
      }
    });
  },
);
