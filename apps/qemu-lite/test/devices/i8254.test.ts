import { describe, expect, it } from 'vitest';
import { I8254, PIT_HZ, SystemControlPortB } from '../../src/devices/i8254.js';
import type { IrqSink } from '../../src/devices/types.js';

class ManualClock {
  ns = 1_000_000_000;
  readonly read = (): number => this.ns;
  /** Advances by `ticks` PIT clocks (rounded up to a whole ns so the tick has passed). */
  advanceTicks(ticks: number): void {
    this.ns += Math.ceil((ticks * 1e9) / PIT_HZ);
  }
}

class EdgeCounter implements IrqSink {
  edges = 0;
  private level = 0;
  setIrq(_irq: number, level: number): void {
    if (level && !this.level) this.edges++;
    this.level = level;
  }
}

function setup() {
  const clock = new ManualClock();
  const irq = new EdgeCounter();
  const pit = new I8254(clock.read, irq);
  return { clock, irq, pit };
}

describe('i8254', () => {
  it('starts idle without the BIOS tick (as KVM_CREATE_PIT2 does) until the guest loads a count', () => {
    const clock = new ManualClock();
    const irq = new EdgeCounter();
    const pit = new I8254(clock.read, irq, false);
    expect(pit.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    clock.advanceTicks(0x30000);
    expect(pit.poll(clock.ns)).toBe(false);
    expect(irq.edges).toBe(0);
    pit.ioOut(0x43, 1, 0x34); // ch0, LSB then MSB, mode 2
    pit.ioOut(0x40, 1, 100);
    pit.ioOut(0x40, 1, 0);
    clock.advanceTicks(100);
    expect(pit.poll(clock.ns)).toBe(true);
    expect(irq.edges).toBe(1);
  });

  it('starts with the BIOS 18.2 Hz tick by default', () => {
    const { clock, irq, pit } = setup();
    clock.advanceTicks(0x10000);
    expect(pit.poll(clock.ns)).toBe(true);
    expect(irq.edges).toBe(1);
  });

  it('counts down in mode 2 and reloads every period (rate generator)', () => {
    const { clock, pit } = setup();
    pit.ioOut(0x43, 1, 0x34); // ch0, LSB then MSB, mode 2
    pit.ioOut(0x40, 1, 1000 & 0xff);
    pit.ioOut(0x40, 1, 1000 >> 8);
    clock.advanceTicks(300);
    pit.ioOut(0x43, 1, 0x00); // latch ch0
    const lsb = pit.ioIn(0x40, 1);
    const msb = pit.ioIn(0x40, 1);
    expect(lsb | (msb << 8)).toBe(700);
    clock.advanceTicks(1000);
    pit.ioOut(0x43, 1, 0x00);
    expect(pit.ioIn(0x40, 1) | (pit.ioIn(0x40, 1) << 8)).toBe(700);
  });

  it('holds a latched count until both bytes are read, and ignores a second latch', () => {
    const { clock, pit } = setup();
    pit.ioOut(0x43, 1, 0x34);
    pit.ioOut(0x40, 1, 0x00);
    pit.ioOut(0x40, 1, 0x10); // 0x1000
    clock.advanceTicks(0x100);
    pit.ioOut(0x43, 1, 0x00);
    clock.advanceTicks(0x200);
    pit.ioOut(0x43, 1, 0x00); // ignored: first latch not read yet
    expect(pit.ioIn(0x40, 1)).toBe(0x00);
    expect(pit.ioIn(0x40, 1)).toBe(0x0f);
    // Unlatched reads now follow the live count.
    expect(pit.ioIn(0x40, 1) | (pit.ioIn(0x40, 1) << 8)).toBe(0x1000 - 0x300);
  });

  it('raises IRQ 0 once per period in mode 2 and says when the next edge is due', () => {
    const { clock, irq, pit } = setup();
    pit.ioOut(0x43, 1, 0x34);
    pit.ioOut(0x40, 1, 0x9c);
    pit.ioOut(0x40, 1, 0x2e); // 11932: 100 Hz
    const start = clock.ns;
    const deadline = pit.nextDeadline();
    expect(deadline).toBe(start + Math.ceil((11932 * 1e9) / PIT_HZ));
    clock.ns = deadline - 1;
    expect(pit.poll(clock.ns)).toBe(false);
    clock.ns = deadline;
    expect(pit.poll(clock.ns)).toBe(true);
    expect(irq.edges).toBe(1);
    expect(pit.nextDeadline()).toBe(start + Math.ceil((2 * 11932 * 1e9) / PIT_HZ));
  });

  it('fires a mode 0 one-shot once at terminal count (Linux oneshot clockevent)', () => {
    const { clock, irq, pit } = setup();
    pit.ioOut(0x43, 1, 0x30); // ch0 mode 0
    pit.ioOut(0x40, 1, 100);
    pit.ioOut(0x40, 1, 0);
    clock.advanceTicks(100);
    expect(pit.poll(clock.ns)).toBe(true);
    clock.advanceTicks(100_000);
    expect(pit.poll(clock.ns)).toBe(false);
    expect(irq.edges).toBe(1);
    expect(pit.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
  });

  it('fires mode 4 (Linux pit_set_oneshot) once, one tick after the count runs out, and rearms on a new count', () => {
    const { clock, irq, pit } = setup();
    pit.ioOut(0x43, 1, 0x38); // ch0, LSB then MSB, mode 4
    pit.ioOut(0x40, 1, 50);
    pit.ioOut(0x40, 1, 0);
    clock.advanceTicks(50);
    expect(pit.poll(clock.ns)).toBe(false);
    clock.advanceTicks(1);
    expect(pit.poll(clock.ns)).toBe(true);
    clock.advanceTicks(1000);
    expect(pit.poll(clock.ns)).toBe(false);
    pit.ioOut(0x40, 1, 10);
    pit.ioOut(0x40, 1, 0);
    clock.advanceTicks(11);
    expect(pit.poll(clock.ns)).toBe(true);
    expect(irq.edges).toBe(2);
  });

  it('gates channel 2 through port 0x61 and shows its output in bit 5 (TSC calibration)', () => {
    const { clock, pit } = setup();
    const portB = new SystemControlPortB(pit, clock.read);
    portB.ioOut(0x61, 1, 0x00);
    pit.ioOut(0x43, 1, 0xb0); // ch2, LSB then MSB, mode 0
    pit.ioOut(0x42, 1, 0xff);
    pit.ioOut(0x42, 1, 0xff);
    clock.advanceTicks(0x10000);
    expect(portB.ioIn(0x61, 1) & 0x20).toBe(0); // gate low: not counting
    portB.ioOut(0x61, 1, 0x01);
    expect(portB.ioIn(0x61, 1) & 0x21).toBe(0x01);
    clock.advanceTicks(0xfffe);
    expect(portB.ioIn(0x61, 1) & 0x20).toBe(0);
    clock.advanceTicks(1);
    expect(portB.ioIn(0x61, 1) & 0x20).toBe(0x20);
  });

  it('reports status through the read-back command', () => {
    const { pit } = setup();
    pit.ioOut(0x43, 1, 0xb6); // ch2, LSB then MSB, mode 3
    pit.ioOut(0x43, 1, 0xe8); // read-back status of ch2 only
    // null count (no count written yet), access 3, mode 3; OUT high in mode 3
    expect(pit.ioIn(0x42, 1)).toBe(0x80 | 0x40 | 0x30 | 0x06);
  });

  it('square wave mode 3 counts by two', () => {
    const { clock, pit } = setup();
    pit.ioOut(0x43, 1, 0x36);
    pit.ioOut(0x40, 1, 100);
    pit.ioOut(0x40, 1, 0);
    clock.advanceTicks(10);
    pit.ioOut(0x43, 1, 0x00);
    expect(pit.ioIn(0x40, 1) | (pit.ioIn(0x40, 1) << 8)).toBe(80);
  });
});
