import { describe, expect, it } from 'vitest';
import { cmdlineFor, DEFAULT_CMDLINE, imageKind, LINUX_CMDLINE, sortDropped } from '../src/ui/guests.js';
import { echoGuest } from './fixtures/echo-guest.js';

function bzImage(): Uint8Array {
  const b = new Uint8Array(0x400);
  b.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  return b;
}
const elf = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]);
const cpio = new TextEncoder().encode('070701000000000000000000000000');

describe('dropped files', () => {
  it('are told apart by their bytes: bzImage, ELF, anything else', () => {
    expect(imageKind(bzImage())).toBe('bzImage');
    expect(imageKind(elf)).toBe('elf');
    expect(imageKind(echoGuest())).toBe('multiboot');
    expect(imageKind(cpio)).toBe('other');
    expect(imageKind(new Uint8Array(0))).toBe('other');
  });

  it('make a kernel and an initrd whatever order they come in', () => {
    const k = { name: 'bzImage', image: bzImage() };
    const i = { name: 'initrd.cpio', image: cpio };
    expect(sortDropped([i, k])).toEqual({ kernel: k, initrd: i });
    expect(sortDropped([k])).toEqual({ kernel: k });
    expect(sortDropped([{ name: 'demo.elf', image: elf }])).toEqual({
      kernel: { name: 'demo.elf', image: elf },
    });
  });

  it('are refused with a reason when there is no kernel, two kernels or too many files', () => {
    expect(sortDropped([])).toBe('nothing dropped');
    expect(sortDropped([{ name: 'a.cpio', image: cpio }])).toMatch(/a\.cpio: no kernel/);
    expect(
      sortDropped([
        { name: 'a', image: elf },
        { name: 'b', image: bzImage() },
      ]),
    ).toMatch(/two kernels/);
    expect(sortDropped([1, 2, 3].map((n) => ({ name: `${n}`, image: cpio })))).toMatch(/not 3 files/);
  });

  it("give a dropped bzImage Linux's quiet command line, unless the user wrote their own", () => {
    expect(cmdlineFor(bzImage(), DEFAULT_CMDLINE)).toBe(LINUX_CMDLINE);
    expect(cmdlineFor(bzImage(), '')).toBe(LINUX_CMDLINE);
    expect(LINUX_CMDLINE).toMatch(/console=ttyS0 quiet .*cryptomgr\.notests/);
    expect(cmdlineFor(bzImage(), 'console=ttyS0 init=/bin/sh')).toBe('console=ttyS0 init=/bin/sh');
    // A multiboot kernel after a bzImage gets the default back, not Linux's options.
    expect(cmdlineFor(echoGuest(), LINUX_CMDLINE)).toBe(DEFAULT_CMDLINE);
    expect(cmdlineFor(elf, 'iterations=5')).toBe('iterations=5');
  });
});
