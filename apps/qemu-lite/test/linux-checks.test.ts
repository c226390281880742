/**
 * The checks the Linux boot tests make (linux-checks.ts), on consoles written here: a right one
 * passes, whatever kernel log lines the console interleaves; a wrong digest or sort fails.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as linux from '../../../tools/linux/boot-marker.mjs';
import { sortInput } from '../../../tools/linux/fetch.mjs';
import { checkSha256, checkSort, section } from './linux-checks.js';

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

function sortSection(): string[] {
  const lines = sortInput().toString().split('\n').slice(0, -1);
  const sorted = [...lines].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    String(lines.length),
    `${sha256(`${sorted.join('\n')}\n`)}  -`,
    ...sorted.slice(0, 3),
    ...sorted.slice(-3),
  ];
}

describe('the Linux boot checks', () => {
  it('read a section without the kernel log lines the console interleaves', () => {
    const out = [
      '=== sha256sum /bin/busybox',
      '[  305.766556] random: crng init done',
      'abc  /bin/busybox',
      '=== sort',
      '1',
    ].join('\r\n');
    expect(section(out, 'sha256sum /bin/busybox')).toBe('abc  /bin/busybox');
    expect(section(out, 'missing')).toBe('');
  });

  it('accept the host-computed sort output and refuse one line out of order', () => {
    const good = sortSection();
    expect(() => checkSort(['=== sort', ...good, '=== end'].join('\n'), '')).not.toThrow();
    const bad = [...good];
    [bad[2], bad[3]] = [bad[3]!, bad[2]!];
    if (bad[2] === bad[3]) bad[2] = '0';
    expect(() => checkSort(['=== sort', ...bad, '=== end'].join('\n'), '')).toThrow();
  });

  const noBusybox = existsSync(join(linux.cacheDir, 'busybox'))
    ? ''
    : ' (skipped: tools/linux/cache/busybox is absent: node tools/linux/fetch.mjs)';
  it.skipIf(noBusybox !== '')(
    `accept busybox's digest, with a kernel line inside the section, and refuse another${noBusybox}`,
    () => {
      const digest = sha256(readFileSync(join(linux.cacheDir, 'busybox')));
      const console = (d: string) =>
        [
          '=== sha256sum /bin/busybox',
          '[  305.766556] random: crng init done',
          `${d}  /bin/busybox`,
          '=== sort',
        ].join('\n');
      expect(() => checkSha256(console(digest), '')).not.toThrow();
      expect(() => checkSha256(console(digest.replace(/^./, (c) => (c === '0' ? '1' : '0'))), '')).toThrow();
    },
  );
});
