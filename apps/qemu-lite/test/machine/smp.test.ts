import { describe, expect, it } from 'vitest';
import { apicIdOf, apicIds, parseSmpArg, resolveSmp, SmpError } from '../../src/machine/smp.js';

describe('-smp topology (QEMU machine_parse_smp_config, current pc machine)', () => {
  it('a bare count is that many cores of one socket, maxcpus the same', () => {
    expect(resolveSmp(parseSmpArg('4'))).toEqual({ cpus: 4, sockets: 1, cores: 4, threads: 1, maxcpus: 4 });
    expect(resolveSmp({})).toEqual({ cpus: 1, sockets: 1, cores: 1, threads: 1, maxcpus: 1 });
  });

  it('fills the missing counts from the given ones', () => {
    expect(resolveSmp(parseSmpArg('8,threads=2'))).toEqual({
      cpus: 8,
      sockets: 1,
      cores: 4,
      threads: 2,
      maxcpus: 8,
    });
    expect(resolveSmp(parseSmpArg('sockets=2,cores=2,threads=2'))).toEqual({
      cpus: 8,
      sockets: 2,
      cores: 2,
      threads: 2,
      maxcpus: 8,
    });
    expect(resolveSmp(parseSmpArg('2,maxcpus=4'))).toEqual({
      cpus: 2,
      sockets: 1,
      cores: 4,
      threads: 1,
      maxcpus: 4,
    });
  });

  it('refuses what QEMU refuses', () => {
    expect(() => resolveSmp({ cpus: 4, maxcpus: 2 })).toThrow(
      'Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * cores (2) * threads (1) == maxcpus (2) < smp_cpus (4)',
    );
    expect(() => resolveSmp({ cpus: 4, sockets: 3 })).toThrow(SmpError);
    expect(() => resolveSmp({ cpus: -1 })).toThrow(/greater than zero/);
    expect(() => resolveSmp({ cpus: 1.5 })).toThrow(/greater than zero/);
    expect(() => resolveSmp({ cpus: 32 })).toThrow(
      "Invalid SMP CPUs 32. The max CPUs supported by machine 'pc' is 16",
    );
  });

  it('lays APIC IDs out in thread, core and package fields of power-of-two widths (x86_apicid_from_cpu_idx)', () => {
    expect(apicIds(resolveSmp({ cpus: 4 }))).toEqual([0, 1, 2, 3]);
    // 3 cores take 2 bits: the IDs skip 3.
    expect(apicIds(resolveSmp({ cpus: 6, sockets: 2, cores: 3 }))).toEqual([0, 1, 2, 4, 5, 6]);
    // 3 threads take 2 bits, 1 core 0 bits: packages at 4 and 8.
    const t = resolveSmp({ cpus: 9, sockets: 3, cores: 1, threads: 3 });
    expect(apicIds(t)).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10]);
    expect(apicIdOf(resolveSmp({ cpus: 8, threads: 2 }), 5)).toBe(5);
  });
});
