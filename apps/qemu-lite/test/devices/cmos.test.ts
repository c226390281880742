import { describe, expect, it } from 'vitest';
import { Cmos } from '../../src/devices/cmos.js';

const read = (cmos: Cmos, reg: number): number => {
  cmos.ioOut(0x70, 1, reg);
  return cmos.ioIn(0x71, 1);
};
const write = (cmos: Cmos, reg: number, value: number): void => {
  cmos.ioOut(0x70, 1, reg);
  cmos.ioOut(0x71, 1, value);
};

describe('CMOS RTC', () => {
  const fixed = Date.UTC(2026, 10, 25, 21, 7, 59); // Wed 2026-11-25 21:07:59 UTC

  it('reads the host time in BCD, 24-hour, by default', () => {
    const cmos = new Cmos(64 << 20, () => fixed);
    expect(read(cmos, 0x00)).toBe(0x59);
    expect(read(cmos, 0x02)).toBe(0x07);
    expect(read(cmos, 0x04)).toBe(0x21);
    expect(read(cmos, 0x06)).toBe(0x04); // Wednesday: 1 = Sunday
    expect(read(cmos, 0x07)).toBe(0x25);
    expect(read(cmos, 0x08)).toBe(0x11);
    expect(read(cmos, 0x09)).toBe(0x26);
    expect(read(cmos, 0x32)).toBe(0x20);
  });

  it('switches to binary and 12-hour through register B', () => {
    const cmos = new Cmos(64 << 20, () => fixed);
    write(cmos, 0x0b, 0x04); // binary, 12-hour
    expect(read(cmos, 0x00)).toBe(59);
    expect(read(cmos, 0x04)).toBe(0x80 | 9); // 9 PM
  });

  it('ignores the NMI-mask bit of the index and keeps NVRAM bytes', () => {
    const cmos = new Cmos(64 << 20, () => fixed);
    write(cmos, 0x80 | 0x40, 0xab);
    expect(read(cmos, 0x40)).toBe(0xab);
  });

  it('lets the guest set its clock: the written field reads back and time keeps moving', () => {
    let now = fixed;
    const cmos = new Cmos(64 << 20, () => now);
    write(cmos, 0x09, 0x99);
    expect(read(cmos, 0x09)).toBe(0x99);
    now += 2000;
    expect(read(cmos, 0x00)).toBe(0x01); // 59 s + 2 s
    expect(read(cmos, 0x09)).toBe(0x99);
  });

  it('reports a valid battery and never update-in-progress', () => {
    const cmos = new Cmos(64 << 20, () => fixed);
    expect(read(cmos, 0x0d)).toBe(0x80);
    expect(read(cmos, 0x0a) & 0x80).toBe(0);
  });

  it('stores the BIOS memory size bytes', () => {
    const cmos = new Cmos(64 << 20, () => fixed);
    expect(read(cmos, 0x15) | (read(cmos, 0x16) << 8)).toBe(640);
    expect(read(cmos, 0x17) | (read(cmos, 0x18) << 8)).toBe(63 * 1024);
    expect(read(cmos, 0x34) | (read(cmos, 0x35) << 8)).toBe((64 - 16) * 16);
  });
});
