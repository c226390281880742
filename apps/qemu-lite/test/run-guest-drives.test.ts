import { describe, expect, it } from 'vitest';
import { runGuest } from '../src/index.js';

describe('runGuest drives option', () => {
  it.each([
    ['a string', 'disk.img'],
    ['an entry without file', [{ readonly: true }]],
    ['an empty file name', [{ file: '' }]],
    ['a non-boolean readonly', [{ file: 'a.img', readonly: 'yes' }]],
    ['a non-string serial', [{ file: 'a.img', serial: 7 }]],
    ['an unknown key', [{ file: 'a.img', format: 'qcow2' }]],
    ['a logical block size other than 512 or 4096', [{ file: 'a.img', logicalBlockSize: 1024 }]],
  ])('rejects %s with a TypeError naming options.drives', async (_what, drives) => {
    await expect(runGuest({ accel: 'vmx', drives } as never)).rejects.toThrow(
      /options\.drives must be an array of \{ file, readonly\?, serial\?, logicalBlockSize\?: 512 \| 4096 \}/,
    );
  });
});
