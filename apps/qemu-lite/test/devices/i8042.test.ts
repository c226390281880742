import { describe, expect, it } from 'vitest';
import { I8042 } from '../../src/devices/i8042.js';
import type { IrqSink } from '../../src/devices/types.js';

class Lines implements IrqSink {
  readonly levels = new Map<number, number>();
  setIrq(irq: number, level: number): void {
    this.levels.set(irq, level);
  }
}

function setup() {
  const lines = new Lines();
  let resets = 0;
  const kbc = new I8042(lines, () => resets++);
  return { kbc, lines, resets: () => resets };
}

describe('i8042', () => {
  it('pulses the reset line on command 0xfe (Linux reboot=k)', () => {
    const { kbc, resets } = setup();
    kbc.ioOut(0x64, 1, 0xfe);
    expect(resets()).toBe(1);
  });

  it('resets on an output-port write with bit 0 clear, not with it set', () => {
    const { kbc, resets } = setup();
    kbc.ioOut(0x64, 1, 0xd1);
    kbc.ioOut(0x60, 1, 0x03);
    expect(resets()).toBe(0);
    kbc.ioOut(0x64, 1, 0xd1);
    kbc.ioOut(0x60, 1, 0x02);
    expect(resets()).toBe(1);
  });

  it('passes the self test and reads back the command byte', () => {
    const { kbc } = setup();
    kbc.ioOut(0x64, 1, 0xaa);
    expect(kbc.ioIn(0x64, 1) & 0x01).toBe(1);
    expect(kbc.ioIn(0x60, 1)).toBe(0x55);
    expect(kbc.ioIn(0x64, 1) & 0x01).toBe(0);
    kbc.ioOut(0x64, 1, 0x60);
    kbc.ioOut(0x60, 1, 0x47);
    kbc.ioOut(0x64, 1, 0x20);
    expect(kbc.ioIn(0x60, 1)).toBe(0x47);
  });

  it('echoes the aux loopback with the aux status bit and IRQ 12 (Linux i8042_check_aux)', () => {
    const { kbc, lines } = setup();
    kbc.ioOut(0x64, 1, 0x60);
    kbc.ioOut(0x60, 1, 0x03); // both interrupts enabled
    kbc.ioOut(0x64, 1, 0xd3);
    kbc.ioOut(0x60, 1, 0x5a);
    expect(kbc.ioIn(0x64, 1) & 0x21).toBe(0x21);
    expect(lines.levels.get(12)).toBe(1);
    expect(kbc.ioIn(0x60, 1)).toBe(0x5a);
    expect(lines.levels.get(12)).toBe(0);
  });

  it('answers keyboard reset with ACK then BAT OK, on IRQ 1', () => {
    const { kbc, lines } = setup();
    kbc.ioOut(0x60, 1, 0xff);
    expect(lines.levels.get(1)).toBe(1);
    expect(kbc.ioIn(0x60, 1)).toBe(0xfa);
    expect(kbc.ioIn(0x60, 1)).toBe(0xaa);
    expect(lines.levels.get(1)).toBe(0);
  });
});
