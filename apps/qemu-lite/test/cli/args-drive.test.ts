import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';

const kernel = ['-kernel', 'k.elf'];

describe('-drive and -device virtio-blk-pci (QEMU spelling)', () => {
  it('takes if=virtio drives with readonly and serial', () => {
    const { options } = parseArgs([
      ...kernel,
      '-drive',
      'file=a.img,format=raw,if=virtio,serial=QM1',
      '-drive',
      'file=b.img,if=virtio,readonly=on,cache=none',
    ]);
    expect(options.drives).toEqual([
      { file: 'a.img', readonly: false, serial: 'QM1' },
      { file: 'b.img', readonly: true, serial: undefined },
    ]);
  });

  it('joins -device virtio-blk-pci,drive=ID with -drive if=none,id=ID', () => {
    const { options } = parseArgs([
      ...kernel,
      '-drive',
      'id=d0,file=c.img,if=none,format=raw',
      '-device',
      'virtio-blk-pci,drive=d0,serial=XY',
    ]);
    expect(options.drives).toEqual([{ file: 'c.img', readonly: false, serial: 'XY' }]);
  });

  it('takes logical_block_size=4096 on -device virtio-blk-pci', () => {
    const { options } = parseArgs([
      ...kernel,
      '-drive',
      'id=d0,file=c.img,if=none',
      '-device',
      'virtio-blk-pci,drive=d0,logical_block_size=4096,physical_block_size=4096',
    ]);
    expect(options.drives).toEqual([
      { file: 'c.img', readonly: false, serial: undefined, logicalBlockSize: 4096 },
    ]);
  });

  it.each([
    [['-drive', 'file=a.img'], /if=\(ide\): qemu-lite has virtio disks only/],
    [['-drive', 'file=a.img,if=virtio,format=qcow2'], /only raw images/],
    [['-drive', 'if=virtio'], /needs file=IMAGE/],
    [['-drive', 'file=a.img,if=virtio,bogus=1'], /unknown property 'bogus'/],
    [['-drive', 'file=a.img,if=none'], /needs id=ID/],
    [['-drive', 'file=a.img,if=virtio,serial=123456789012345678901'], /at most 20/],
    [['-drive', 'file=a.img,if=virtio,readonly=maybe'], /not on or off/],
    [['-device', 'virtio-blk-pci,drive=x'], /no -drive with id=x/],
    [['-device', 'virtio-blk-pci'], /needs drive=ID/],
    [
      ['-drive', 'file=a.img,if=none,id=x', '-device', 'virtio-blk-pci,drive=x,logical_block_size=1024'],
      /logical_block_size is 512 or 4096/,
    ],
    [
      [
        '-drive',
        'file=a.img,if=none,id=x',
        '-device',
        'virtio-blk-pci,drive=x,logical_block_size=4096,physical_block_size=512',
      ],
      /physical_block_size the same/,
    ],
    [
      ['-drive', 'file=a.img,if=virtio,id=x', '-device', 'virtio-blk-pci,drive=x'],
      /that drive is if=virtio; give it if=none/,
    ],
    [
      [
        '-drive',
        'file=a.img,if=none,id=x',
        '-device',
        'virtio-blk-pci,drive=x',
        '-device',
        'virtio-blk-pci,drive=x',
      ],
      /already in use/,
    ],
    [['-drive', 'file=a.img,if=none,id=x', '-drive', 'file=b.img,if=none,id=x'], /Duplicate ID/],
  ])('refuses %j', (args, message) => {
    expect(() => parseArgs([...kernel, ...args])).toThrow(message);
  });
});
