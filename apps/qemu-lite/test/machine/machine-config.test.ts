import type { KvmCpuidEntry2 } from '@kvm/core';
import { describe, expect, it } from 'vitest';
import { guestCpuid } from '../../src/machine/cpuid.js';
import { buildE820 } from '../../src/machine/memory-map.js';
import { statusOf } from '../../src/run-guest.js';
import { parseSize } from '../../src/size.js';
import { ExitStats, formatExitStats, STAT_KICK } from '../../src/stats.js';

const entry = (fn: number, regs: Partial<KvmCpuidEntry2>): KvmCpuidEntry2 => ({
  function: fn,
  index: 0,
  flags: 0,
  eax: 0,
  ebx: 0,
  ecx: 0,
  edx: 0,
  ...regs,
});

describe('guest CPUID', () => {
  const supported = [
    entry(1, { ecx: (1 << 21) | (1 << 24) | 1, edx: (1 << 9) | 1 }),
    entry(0x40000001, { eax: 0x01ffffff }),
    entry(7, { ebx: 0x1234 }),
  ];

  it('hides the local APIC, x2APIC and TSC-deadline without the in-kernel irqchip, and sets the hypervisor bit', () => {
    const [leaf1, kvmLeaf, leaf7] = guestCpuid(supported, { localApic: false });
    expect(leaf1.edx).toBe(1);
    expect(leaf1.ecx).toBe((1 | (1 << 31)) >>> 0);
    expect(kvmLeaf.eax).toBe((1 << 0) | (1 << 1) | (1 << 3) | (1 << 24));
    expect(leaf7).toEqual(supported[2]);
  });

  it('keeps them with the in-kernel irqchip, and never changes its input', () => {
    const [leaf1, kvmLeaf] = guestCpuid(supported, { localApic: true });
    expect(leaf1.edx & (1 << 9)).not.toBe(0);
    expect(kvmLeaf.eax).toBe(0x01ffffff);
    expect(supported[0].ecx).toBe((1 << 21) | (1 << 24) | 1);
  });
});

describe('memory map', () => {
  it('describes low RAM, the legacy hole and extended RAM', () => {
    expect(buildE820(128 << 20)).toEqual([
      { addr: 0, size: 0x9fc00, type: 1 },
      { addr: 0x9fc00, size: 0x60400, type: 2 },
      { addr: 0x100000, size: (128 << 20) - 0x100000, type: 1 },
    ]);
  });

  it('refuses sizes that are too small, too large or not page multiples', () => {
    expect(() => buildE820(1 << 20)).toThrow(RangeError);
    expect(() => buildE820(4 * 2 ** 30)).toThrow(RangeError);
    expect(() => buildE820((64 << 20) + 1)).toThrow(RangeError);
  });
});

describe('-m sizes', () => {
  it('reads QEMU suffixes, and a bare number as MiB', () => {
    expect(parseSize('256M')).toBe(256 * 2 ** 20);
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(parseSize('512k')).toBe(512 * 1024);
    expect(parseSize('64')).toBe(64 * 2 ** 20);
    expect(parseSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(() => parseSize('lots')).toThrow("'lots' is not a size");
  });
});

describe('exit status', () => {
  it('follows isa-debug-exit, QEMU and the shell conventions', () => {
    expect(statusOf({ kind: 'debug-exit', status: 0x43 })).toBe(0x43);
    expect(statusOf({ kind: 'poweroff' })).toBe(0);
    expect(statusOf({ kind: 'reset', cause: 'x' })).toBe(0);
    expect(statusOf({ kind: 'quit', cause: 'user' })).toBe(0);
    expect(statusOf({ kind: 'failure', exitReason: 17, detail: '' })).toBe(2);
    expect(statusOf({ kind: 'quit', cause: 'timeout' })).toBe(124);
    // QEMU: a signal is a shutdown request, and its main loop then exits with EXIT_SUCCESS.
    expect(statusOf({ kind: 'quit', cause: 'signal' })).toBe(0);
  });
});

describe('exit statistics', () => {
  it('counts by reason, orders by count, and prints shares and userspace time', () => {
    const stats = new ExitStats();
    for (let i = 0; i < 3; i++) stats.count(2, 1000);
    stats.count(5, 500);
    stats.count(STAT_KICK, 100);
    const s = stats.snapshot();
    expect(s.rows.map((r) => [r.reason, r.count])).toEqual([
      ['IO', 3],
      ['HLT', 1],
      ['KICK (EINTR)', 1],
    ]);
    expect(s.totalExits).toBe(5);
    const table = formatExitStats(s);
    expect(table).toMatch(/^ IO +3 +60\.0 +0\.003 +1\.00$/m);
    expect(table).toMatch(/^ Total +5 +100\.0 +0\.004$/m);
  });
});
