import { describe, expect, it } from 'vitest';
import { HPET_BASE, HPET_ID_LOW, Hpet } from '../../src/devices/hpet.js';

/** An HPET on a clock the test moves, with the IRQ line edges it drove. */
function hpet() {
  let now = 7e9;
  const edges: string[] = [];
  const dev = new Hpet(() => now, { setIrq: (irq, level) => edges.push(`${irq}:${level}`) });
  const rd = (off: number): number => {
    const b = new Uint8Array(4);
    dev.mmioRead(HPET_BASE + off, b);
    return new DataView(b.buffer).getUint32(0, true);
  };
  const wr = (off: number, v: number): void => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    dev.mmioWrite(HPET_BASE + off, b);
  };
  return {
    dev,
    rd,
    wr,
    edges,
    advance: (ns: number) => {
      now += ns;
      dev.poll(now);
    },
    now: () => now,
  };
}

describe('HPET (QEMU hw/timer/hpet.c)', () => {
  it('identifies itself as QEMU’s: vendor 8086, 3 timers, 64-bit counter, legacy route, 10 ns period', () => {
    const h = hpet();
    expect(h.rd(0x0)).toBe(HPET_ID_LOW);
    expect(HPET_ID_LOW).toBe(0x8086a201);
    expect(h.rd(0x4)).toBe(10_000_000);
    // Timer 0: periodic-capable, 64-bit, routable to I/O APIC input 2 only.
    expect(h.rd(0x100)).toBe(0x30);
    expect(h.rd(0x104)).toBe(0x4);
    // Comparators start all ones (QEMU: ~0).
    expect([h.rd(0x108), h.rd(0x10c)]).toEqual([0xffffffff, 0xffffffff]);
  });

  it('counts at 100 MHz only while enabled, keeps its value while halted, and is writable then', () => {
    const h = hpet();
    h.advance(1000);
    expect(h.rd(0xf0)).toBe(0);
    h.wr(0x10, 1);
    h.advance(1_000_000); // 1 ms
    expect(h.rd(0xf0)).toBe(100_000);
    h.wr(0x10, 0);
    h.advance(5_000_000);
    expect(h.rd(0xf0)).toBe(100_000);
    h.wr(0xf0, 0xfffffff0);
    h.wr(0xf4, 1);
    expect([h.rd(0xf0), h.rd(0xf4)]).toEqual([0xfffffff0, 1]);
    h.wr(0x10, 1);
    h.advance(200); // 20 ticks: carries into the high half
    expect([h.rd(0xf0), h.rd(0xf4)]).toEqual([4, 2]);
    // Written while running: ignored.
    h.wr(0xf0, 0);
    expect(h.rd(0xf0)).toBe(4);
  });

  it('legacy replacement: a periodic timer 0 pulses IRQ 0 every period, timer 1 one-shot IRQ 8 once', () => {
    const h = hpet();
    // Timer 0 as Linux's hpet_set_periodic programs it: enabled, periodic, SETVAL, 32-bit; the
    // first comparator write sets comparator and period, the second the period.
    h.wr(0x100, 0x4 | 0x8 | 0x40 | 0x100);
    h.wr(0x108, 1000);
    h.wr(0x108, 1000);
    h.wr(0x120, 0x4);
    h.wr(0x128, 2500);
    h.wr(0x12c, 0);
    h.wr(0x10, 0x3);
    expect(h.dev.nextDeadline()).toBe(h.now() + 10_000);
    h.advance(9_990);
    expect(h.edges).toEqual([]);
    h.advance(10);
    expect(h.edges).toEqual(['0:1', '0:0']);
    h.advance(15_000); // tick 2500: timer 0's second period and timer 1
    expect(h.edges).toEqual(['0:1', '0:0', '0:1', '0:0', '8:1', '8:0']);
    h.advance(50_000); // ticks 3000–7500: periods missed are coalesced into one; timer 1 is done
    expect(h.edges.slice(6)).toEqual(['0:1', '0:0']);
    expect(h.rd(0x108)).toBe(8000);
  });

  it('with an I/O APIC, the legacy route takes timer 0 to its input 2 (GSI 2), as the HPET specification says', () => {
    let now = 0;
    const edges: string[] = [];
    const dev = new Hpet(() => now, { setIrq: (irq, level) => edges.push(`${irq}:${level}`) }, 2);
    const b = new Uint8Array(4);
    const wr = (off: number, v: number) => {
      new DataView(b.buffer).setUint32(0, v, true);
      dev.mmioWrite(HPET_BASE + off, b);
    };
    wr(0x100, 0x4);
    wr(0x108, 10);
    wr(0x10c, 0);
    wr(0x10, 0x3);
    now = 1000;
    dev.poll();
    expect(edges).toEqual(['2:1', '2:0']);
  });

  it('a level-triggered timer holds its I/O APIC line and status bit until the guest writes 1 to the status', () => {
    const h = hpet();
    // Timer 2: level, enabled, routed to input 2.
    h.wr(0x140, 0x2 | 0x4 | (2 << 9));
    h.wr(0x148, 100);
    h.wr(0x14c, 0);
    h.wr(0x10, 0x1);
    h.advance(1000);
    expect(h.edges).toEqual(['2:1']);
    expect(h.rd(0x20)).toBe(0x4);
    h.wr(0x20, 0x1); // another timer's bit: nothing
    expect(h.rd(0x20)).toBe(0x4);
    h.wr(0x20, 0x4);
    expect(h.rd(0x20)).toBe(0);
    expect(h.edges).toEqual(['2:1', '2:0']);
  });

  it('reads all ones for accesses that are not 4 or 8 bytes, aligned, and ignores such writes', () => {
    const h = hpet();
    const b = new Uint8Array(2);
    h.dev.mmioRead(HPET_BASE + 0x10, b);
    expect([...b]).toEqual([0xff, 0xff]);
    h.dev.mmioWrite(HPET_BASE + 0x10, new Uint8Array([1, 0]));
    expect(h.rd(0x10)).toBe(0);
    const q = new Uint8Array(8);
    h.dev.mmioRead(HPET_BASE, q);
    expect(new DataView(q.buffer).getUint32(4, true)).toBe(10_000_000);
  });

  it('reset returns to the power-on state and lowers a held line', () => {
    const h = hpet();
    h.wr(0x140, 0x2 | 0x4 | (2 << 9));
    h.wr(0x148, 1);
    h.wr(0x14c, 0);
    h.wr(0x10, 0x1);
    h.advance(100);
    h.dev.reset();
    expect(h.edges).toEqual(['2:1', '2:0']);
    expect([h.rd(0x10), h.rd(0x20), h.rd(0xf0), h.rd(0x140)]).toEqual([0, 0, 0, 0x30]);
  });
});
