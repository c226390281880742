import { describe, expect, it } from 'vitest';
import { DebugExit } from '../../src/devices/debug-exit.js';
import { PostPort } from '../../src/devices/post-port.js';
import { SystemControlPortA } from '../../src/devices/system-port-a.js';

describe('system control port A (0x92)', () => {
  it('reads A20 enabled and resets on a write with bit 0 set', () => {
    let resets = 0;
    const port = new SystemControlPortA(() => resets++);
    expect(port.ioIn(0x92, 1) & 0x02).toBe(0x02);
    port.ioOut(0x92, 1, 0x02);
    expect(resets).toBe(0);
    port.ioOut(0x92, 1, 0x03);
    expect(resets).toBe(1);
  });
});

describe('POST port (0x80)', () => {
  it('keeps the last code written', () => {
    const port = new PostPort();
    port.ioOut(0x80, 1, 0x1234);
    expect(port.ioIn(0x80, 1)).toBe(0x34);
  });
});

describe('isa-debug-exit', () => {
  it('turns v into (v << 1) | 1 at the access width, without 32-bit wrap-around', () => {
    const statuses: number[] = [];
    const dev = new DebugExit((s) => statuses.push(s));
    dev.ioOut(0xf4, 1, 0x1ff);
    dev.ioOut(0xf4, 4, 0xffffffff);
    expect(statuses).toEqual([0x1ff, 0x1ffffffff]);
    expect(dev.ioIn(0xf4, 2)).toBe(0xffff);
  });
});
