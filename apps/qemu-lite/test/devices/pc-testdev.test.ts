import { describe, expect, it } from 'vitest';
import { PC_TESTDEV_IOMEM_GPA, PcTestdev } from '../../src/devices/pc-testdev.js';

function testdev() {
  const lines: [number, number][] = [];
  const flushed: number[] = [];
  const dev = new PcTestdev({ setIrq: (irq, level) => lines.push([irq, level]) }, (gpa) => flushed.push(gpa));
  return { dev, lines, flushed };
}

describe('pc-testdev', () => {
  it('ports 0xe0-0xe3 are one 32-bit scratch register, each access at its byte offset', () => {
    const { dev } = testdev();
    dev.ioOut(0xe0, 4, 0x12345678);
    expect(dev.ioIn(0xe0, 4)).toBe(0x12345678);
    expect(dev.ioIn(0xe0, 1)).toBe(0x78);
    expect(dev.ioIn(0xe1, 1)).toBe(0x56);
    expect(dev.ioIn(0xe2, 2)).toBe(0x1234);
    dev.ioOut(0xe1, 1, 0xab);
    expect(dev.ioIn(0xe0, 4)).toBe(0x1234ab78);
    dev.ioOut(0xe2, 2, 0xcdef);
    expect(dev.ioIn(0xe0, 4)).toBe(0xcdefab78);
  });

  it('ports 0xe8-0xeb reach the same register byte by byte', () => {
    const { dev } = testdev();
    dev.ioOut(0xe8, 4, 0xdeadbeef);
    expect(dev.ioIn(0xe0, 4)).toBe(0xdeadbeef);
    expect(dev.ioIn(0xe9, 2)).toBe(0xadbe);
    dev.ioOut(0xe0, 4, 0x01020304);
    expect(dev.ioIn(0xe8, 4)).toBe(0x01020304);
  });

  it('port 0xe4 takes 4-byte page-flush requests with the page address', () => {
    const { dev, flushed } = testdev();
    dev.ioOut(0xe4, 4, 0x123456);
    dev.ioOut(0xe4, 1, 0x1000); // not a valid size: ignored, as QEMU's valid.min_access_size 4
    expect(flushed).toEqual([0x123000]);
    // QEMU's test_flush_page_read returns 0.
    expect(dev.ioIn(0xe4, 4)).toBe(0);
    expect(dev.ioIn(0xe5, 1)).toBe(0);
  });

  it('the IRQ ports read 0, and a wider write sets successive lines byte by byte, as QEMU splits it', () => {
    const { dev, lines } = testdev();
    expect(dev.ioIn(0x2005, 1)).toBe(0);
    expect(dev.ioIn(0x2004, 2)).toBe(0);
    dev.ioOut(0x2004, 2, 0x0100);
    dev.ioOut(0x200e, 4, 0x01000001); // lines 14..17: 14 and 17 (no ISA line) raised
    expect(lines).toEqual([
      [4, 0],
      [5, 1],
      [14, 1],
      [15, 0],
    ]);
  });

  it('ports 0x2000+n drive ISA IRQ line n to (value != 0)', () => {
    const { dev, lines } = testdev();
    dev.ioOut(0x2004, 1, 5);
    dev.ioOut(0x2004, 1, 0);
    dev.ioOut(0x200e, 1, 1);
    dev.ioOut(0x2014, 1, 1); // line 20: no ISA line
    expect(lines).toEqual([
      [4, 1],
      [4, 0],
      [14, 1],
    ]);
  });

  it('I/O memory at 0xff000000 reads back what was written', () => {
    const { dev } = testdev();
    expect(dev.claimsMmio(PC_TESTDEV_IOMEM_GPA + 0xfffc, 4)).toBe(true);
    expect(dev.claimsMmio(PC_TESTDEV_IOMEM_GPA + 0xfffe, 4)).toBe(false);
    expect(dev.claimsMmio(PC_TESTDEV_IOMEM_GPA - 1, 1)).toBe(false);
    dev.mmioWrite(PC_TESTDEV_IOMEM_GPA + 8, new Uint8Array([1, 2, 3, 4]));
    const data = new Uint8Array(2);
    dev.mmioRead(PC_TESTDEV_IOMEM_GPA + 9, data);
    expect([...data]).toEqual([2, 3]);
  });
});
