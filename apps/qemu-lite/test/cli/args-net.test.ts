/**
 * `-netdev`, `-nic`, `-device virtio-net-pci` and `-device virtio-rng-pci` (cli/net-args.ts):
 * QEMU's spelling, and what is not there refused by name.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../src/cli/args.js';

const kernel = ['-kernel', 'k.elf'];
const parse = (...args: string[]) => parseArgs([...kernel, ...args]).options;

describe('-netdev user, -nic, -device virtio-net-pci / virtio-rng-pci', () => {
  it('joins -device virtio-net-pci,netdev=ID with -netdev user,id=ID, keeping the mac', () => {
    expect(
      parse('-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01').nics,
    ).toEqual([{ netdev: 'user', mac: '52:54:00:00:00:01' }]);
  });

  it('takes -netdev socket with listen=, connect= and mcast= as QEMU spells them', () => {
    const nics = parse(
      '-netdev',
      'socket,id=a,listen=:1234',
      '-netdev',
      'socket,id=b,connect=127.0.0.1:5555',
      '-netdev',
      'socket,id=c,mcast=230.0.0.1:1234,localaddr=127.0.0.1',
      '-device',
      'virtio-net-pci,netdev=a',
      '-device',
      'virtio-net-pci,netdev=b',
      '-device',
      'virtio-net-pci,netdev=c',
    ).nics;
    expect(nics).toEqual([
      { netdev: 'socket', mac: undefined, socket: { mode: 'listen', host: '', port: 1234 } },
      { netdev: 'socket', mac: undefined, socket: { mode: 'connect', host: '127.0.0.1', port: 5555 } },
      {
        netdev: 'socket',
        mac: undefined,
        socket: { mode: 'mcast', host: '230.0.0.1', port: 1234, localaddr: '127.0.0.1' },
      },
    ]);
    // QEMU's connect=:PORT is the local host.
    const d = parse('-netdev', 'socket,id=d,connect=:9', '-device', 'virtio-net-pci,netdev=d');
    expect(d.nics?.[0]?.socket).toEqual({ mode: 'connect', host: '127.0.0.1', port: 9 });
  });

  it('takes -nic user (model virtio-net-pci, the default) and -nic none', () => {
    expect(parse('-nic', 'user', '-nic', 'user,model=virtio-net-pci,mac=52:54:00:00:00:09').nics).toEqual([
      { netdev: 'user', mac: undefined },
      { netdev: 'user', mac: '52:54:00:00:00:09' },
    ]);
    expect(parse('-nic', 'none').nics).toBeUndefined();
  });

  it('takes hostfwd=[tcp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, repeated, on -netdev user and -nic user', () => {
    expect(
      parse(
        '-netdev',
        'user,id=n0,hostfwd=tcp::2222-:22,hostfwd=127.0.0.1:8080-10.0.2.15:80',
        '-device',
        'virtio-net-pci,netdev=n0',
      ).nics,
    ).toEqual([
      {
        netdev: 'user',
        hostfwd: [
          { protocol: 'tcp', hostAddr: '', hostPort: 2222, guestPort: 22 },
          { protocol: 'tcp', hostAddr: '127.0.0.1', hostPort: 8080, guestAddr: '10.0.2.15', guestPort: 80 },
        ],
      },
    ]);
    expect(parse('-nic', 'user,hostfwd=tcp::5555-:23').nics?.[0]?.hostfwd).toEqual([
      { protocol: 'tcp', hostAddr: '', hostPort: 5555, guestPort: 23 },
    ]);
  });

  it('counts -device virtio-rng-pci (and virtio-rng)', () => {
    expect(parse('-device', 'virtio-rng-pci', '-device', 'virtio-rng').virtioRng).toBe(2);
    expect(parse().virtioRng).toBeUndefined();
  });

  it('takes -netdev tap,ifname=…,script=no,downscript=no with its -device virtio-net-pci', () => {
    expect(
      parse(
        '-netdev',
        'tap,id=t0,ifname=tap7,script=no,downscript=no',
        '-device',
        'virtio-net-pci,netdev=t0,mac=52:54:00:00:00:07',
      ).nics,
    ).toEqual([{ netdev: 'tap', mac: '52:54:00:00:00:07', tap: { ifname: 'tap7' } }]);
  });

  it('takes -device virtio-serial-pci with -device virtconsole as one virtio console', () => {
    expect(parse('-device', 'virtio-serial-pci', '-device', 'virtconsole').virtioConsole).toBe(true);
    expect(parse().virtioConsole).toBeUndefined();
  });

  it('-chardev stdio,id=c0 with -device virtconsole,chardev=c0: the terminal types into the console', () => {
    const parsed = parseArgs([
      ...kernel,
      '-chardev',
      'stdio,id=c0,signal=off',
      '-device',
      'virtio-serial',
      '-device',
      'virtconsole,chardev=c0',
    ]);
    expect(parsed.options.virtioConsole).toBe(true);
    expect(parsed.consoleStdin).toBe(true);
    // Not a runGuest option: the command routes the terminal's bytes.
    expect('consoleStdin' in parsed.options).toBe(false);
    expect(
      parseArgs([...kernel, '-device', 'virtio-serial', '-device', 'virtconsole']).consoleStdin,
    ).toBeUndefined();
  });

  it.each([
    [['-device', 'virtconsole'], "No 'virtio-serial-bus' bus found"],
    [['-device', 'virtio-serial-pci'], 'give it its port, -device virtconsole'],
    [
      ['-device', 'virtio-serial-pci', '-device', 'virtconsole,chardev=c0'],
      "Property 'chardev' can't find value 'c0'",
    ],
    [['-chardev', 'socket,id=c0,port=4444,server=on,wait=off'], 'only the stdio backend exists here'],
    [['-chardev', 'stdio'], "Parameter 'id' is missing"],
    [['-chardev', 'stdio,id=c0,mux=on'], "Property 'mux' not found"],
    [['-chardev', 'stdio,id=c0', '-chardev', 'stdio,id=c0'], "Duplicate ID 'c0' for chardev"],
    [['-device', 'virtio-serial-pci,chardev=c0', '-device', 'virtconsole'], "Property 'chardev' not found"],
    [
      [
        '-chardev',
        'stdio,id=c0',
        '-device',
        'virtio-serial',
        '-device',
        'virtconsole,chardev=c0',
        '-monitor',
        'stdio',
      ],
      'stdio is already the monitor',
    ],
    [
      ['-device', 'virtio-serial', '-device', 'virtconsole', '-device', 'virtconsole'],
      'only one console port',
    ],
    [
      ['-netdev', 'bridge,id=n0,br=br0'],
      '-netdev: the bridge backend is not supported: user, socket and tap exist here',
    ],
    [['-netdev', 'tap,id=n0'], 'ifname= is needed'],
    [['-netdev', 'tap,id=n0,ifname=tap0,script=/etc/qemu-ifup'], 'qemu-lite runs no scripts'],
    [['-netdev', 'tap,id=n0,ifname=tap0,vhost=on'], 'vhost= is not supported'],
    [['-netdev', 'tap,id=n0,ifname=a-name-too-long-0'], 'an interface name is 1 to 15 characters'],
    [['-nic', 'tap,ifname=tap0'], '-nic: the tap backend is not supported'],
    [['-netdev', 'socket,id=n0'], 'exactly one of listen=, connect= or mcast= is needed'],
    [['-netdev', 'socket,id=n0,listen=:1,connect=:2'], 'exactly one of'],
    [['-netdev', 'socket,id=n0,mcast=10.0.0.1:1234'], 'is not an IPv4 multicast address'],
    [['-netdev', 'socket,id=n0,connect=host'], 'expected HOST:PORT'],
    [['-netdev', 'socket,id=n0,listen=:70000'], 'out of range'],
    [['-netdev', 'socket,id=n0,fd=3'], 'fd= is not supported'],
    [['-nic', 'socket,listen=:1'], '-nic: the socket backend is not supported'],
    [['-netdev', 'user,id=n0,guestfwd=tcp:10.0.2.100:80-cmd:x'], 'guestfwd= is not supported'],
    [['-nic', 'user,hostfwd=udp::5353-:53'], 'only tcp forwarding is supported'],
    [['-nic', 'user,hostfwd=tcp::2222'], 'expected [tcp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT'],
    [['-nic', 'user,hostfwd=tcp:localhost:2222-:22'], 'addresses must be IPv4'],
    [['-nic', 'user,hostfwd=tcp::2222-:0'], 'a port is out of range'],
    [['-nic', 'user,hostfwd=tcp::70000-:22'], 'a port is out of range'],
    [['-netdev', 'user'], "Parameter 'id' is missing"],
    [['-netdev', 'user,id=a', '-netdev', 'user,id=a'], "Duplicate ID 'a' for netdev"],
    [['-device', 'virtio-net-pci,netdev=nope'], "Property 'netdev' can't find value 'nope'"],
    [['-device', 'virtio-net-pci'], 'needs netdev=ID'],
    [
      ['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0,mac=01:00:5e:00:00:01'],
      "doesn't take value",
    ],
    [['-netdev', 'user,id=n0'], 'no -device virtio-net-pci,netdev=n0 uses it'],
    [
      ['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0', '-device', 'virtio-net-pci,netdev=n0'],
      'already in use',
    ],
    [['-nic', 'user,model=e1000'], 'only virtio-net-pci exists here'],
    [['-device', 'virtio-rng-pci,rng=r0'], "Property 'rng' not found"],
  ])('refuses %j', (args, message) => {
    expect(() => parse(...args)).toThrow(UsageError);
    expect(() => parse(...args)).toThrow(message);
  });
});
