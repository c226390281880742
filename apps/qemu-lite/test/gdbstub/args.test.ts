/** The debugging flags as QEMU spells them: -s, -S, -gdb DEV, -monitor stdio. */
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/cli/args.js';
import { parseGdbDevice } from '../../src/gdbstub/channel.js';

describe('debugging flags', () => {
  it('reads -gdb devices: tcp::PORT on loopback, tcp:HOST:PORT, unix:PATH', () => {
    expect(parseGdbDevice('tcp::1234')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1234 });
    expect(parseGdbDevice('tcp:0.0.0.0:4321')).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 4321 });
    expect(parseGdbDevice(':1234')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1234 });
    expect(parseGdbDevice('unix:/tmp/gdb.sock,server')).toEqual({ kind: 'unix', path: '/tmp/gdb.sock' });
    expect(() => parseGdbDevice('tcp::99999')).toThrow(/expected tcp::PORT/);
    expect(() => parseGdbDevice('udp::1')).toThrow(RangeError);
    expect(() => parseGdbDevice('unix:')).toThrow(/needs a path/);
  });

  it('takes -s as -gdb tcp::1234, -S as start stopped, -monitor stdio', () => {
    const a = parseArgs(['-s', '-S', '-monitor', 'stdio']);
    expect(a.options.gdb).toBe('tcp::1234');
    expect(a.options.startStopped).toBe(true);
    expect(a.monitorStdio).toBe(true);
    expect(parseArgs(['-gdb', 'unix:/tmp/x']).options.gdb).toBe('unix:/tmp/x');
    expect(parseArgs(['-monitor', 'none']).monitorStdio).toBeUndefined();
  });

  it('refuses a malformed -gdb and an unsupported -monitor with a usage error naming the flag', () => {
    expect(() => parseArgs(['-gdb', 'serial:/dev/ttyS0'])).toThrow(UsageError);
    expect(() => parseArgs(['-gdb', 'serial:/dev/ttyS0'])).toThrow(/^-gdb serial:\/dev\/ttyS0/);
    expect(() => parseArgs(['-monitor', 'telnet::4444'])).toThrow(
      /-monitor telnet::4444: only stdio and none/,
    );
  });
});
