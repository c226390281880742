/**
 * The initramfs tools/linux/fetch.mjs builds: our newc writer read back by an independent
 * reader, and the entries the kernel needs before /init can run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import {
  newcArchive,
  readNewcArchive,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
} from '../../../tools/linux/cpio.mjs';
import { buildInitramfs, SORT_LINES, sortInput } from '../../../tools/linux/fetch.mjs';

describe('newc cpio writer', () => {
  it('writes the 110-byte "070701" header, the name padded to 4, the data padded to 4', () => {
    const archive = newcArchive([
      { name: 'ab', mode: S_IFREG | 0o644, data: new Uint8Array([1, 2, 3, 4, 5]) },
    ]);
    const text = archive.toString('latin1');
    expect(text.slice(0, 6)).toBe('070701');
    const field = (i: number) => Number.parseInt(text.slice(6 + i * 8, 14 + i * 8), 16);
    expect(field(1)).toBe(0o100644); // mode
    expect(field(6)).toBe(5); // filesize
    expect(field(11)).toBe(3); // namesize, with the NUL
    expect(text.slice(110, 113)).toBe('ab\0');
    // 110 + 3 = 113 → padded to 116; data 5 bytes → padded to 8; then the trailer.
    expect([...archive.subarray(116, 121)]).toEqual([1, 2, 3, 4, 5]);
    expect(text.slice(124, 130)).toBe('070701');
    expect(text.slice(124 + 110, 124 + 110 + 10)).toBe('TRAILER!!!');
    expect(archive.length % 4).toBe(0);
  });

  it('round-trips directories, files, symlinks and device nodes', () => {
    const entries = [
      { name: 'dev', mode: S_IFDIR | 0o755 },
      { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
      { name: 'bin/sh', mode: S_IFLNK | 0o777, data: Buffer.from('busybox') },
      { name: 'x', mode: S_IFREG | 0o755, data: new Uint8Array(1001).fill(7) },
    ];
    const back = readNewcArchive(newcArchive(entries));
    expect(back.map((e) => [e.name, e.mode, e.data.length, e.rdevMajor, e.rdevMinor])).toEqual([
      ['dev', S_IFDIR | 0o755, 0, 0, 0],
      ['dev/console', S_IFCHR | 0o600, 0, 5, 1],
      ['bin/sh', S_IFLNK | 0o777, 7, 0, 0],
      ['x', S_IFREG | 0o755, 1001, 0, 0],
    ]);
    expect(Buffer.from(back[3]!.data).every((b) => b === 7)).toBe(true);
  });
});

describe('the initramfs', () => {
  const init = readFileSync(new URL('../../../tools/linux/init.sh', import.meta.url));
  const entries = readNewcArchive(gunzipSync(buildInitramfs(Buffer.from('fake busybox'), init)));
  const byName = new Map(entries.map((e) => [e.name, e]));

  it('has /init (our script, executable) and busybox with /bin/sh pointing at it', () => {
    expect(Buffer.from(byName.get('init')!.data).equals(init)).toBe(true);
    expect(byName.get('init')!.mode).toBe(S_IFREG | 0o755);
    expect(byName.get('bin/busybox')!.mode & 0o111).toBe(0o111);
    expect(Buffer.from(byName.get('bin/sh')!.data).toString()).toBe('busybox');
  });

  it('has /dev/console (5,1) for the kernel to open before /init mounts devtmpfs', () => {
    expect(byName.get('dev/console')).toMatchObject({ mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 });
  });

  it('creates each directory before what it contains', () => {
    entries.forEach((e, i) => {
      const parent = e.name.split('/').slice(0, -1).join('/');
      if (parent !== '')
        expect(
          entries.findIndex((p) => p.name === parent),
          e.name,
        ).toBeLessThan(i);
    });
  });

  it('/init prints the marker the test and bench wait for, and shuts down in test mode', () => {
    const text = init.toString();
    expect(text).toContain(`echo "${linux.MARKER}"`);
    expect(text).toContain('qemu_lite_test=1');
    expect(text).toContain('poweroff -f');
    expect(text).toContain('reboot -f');
    expect(linux.TEST_CMDLINE).toContain('qemu_lite_test=1');
  });

  it('/init runs each command the boot tests check, between "=== name" lines', () => {
    const text = init.toString();
    for (const name of [
      'uname -a',
      'cat /proc/cpuinfo',
      'cpu flags',
      'free',
      'ls /',
      'sha256sum /bin/busybox',
      'sort',
    ])
      expect(text).toContain(`echo "=== ${name}"`);
    expect(text).toContain('sort /etc/sort-input.txt');
    expect(text.indexOf('echo "=== end"')).toBeGreaterThan(text.indexOf('echo "=== sort"'));
  });

  it('ships /etc/sort-input.txt: 10,000 unsorted lines with duplicates, the same on every build', () => {
    const file = byName.get('etc/sort-input.txt')!;
    expect(Buffer.from(file.data).equals(sortInput())).toBe(true);
    const lines = sortInput().toString().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(SORT_LINES);
    expect(lines.every((l) => /^[0-9a-z]{1,7}$/.test(l))).toBe(true);
    expect(new Set(lines).size).toBeLessThan(SORT_LINES);
    expect([...lines].sort()).not.toEqual(lines);
  });

  it.skipIf(!existsSync(linux.initramfsPath))('the fetched one holds the real busybox', () => {
    const real = readNewcArchive(gunzipSync(readFileSync(linux.initramfsPath)));
    const busybox = real.find((e) => e.name === 'bin/busybox')!;
    expect([...busybox.data.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]); // ELF
    expect(real.find((e) => e.name === 'init')).toBeDefined();
  });
});
