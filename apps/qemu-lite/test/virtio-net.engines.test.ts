/**
 * Two of our own guests ping each other over `-netdev socket` (issue 17): the virtio-net driver
 * in tools/guests/guest/tests/virtionet.c (long mode, polled), one machine answering ARP and
 * echo requests (`role=serve`), the other ARPing for it and sending four echo requests
 * (`role=ping`), each on its own engine, in one process. Over QEMU's stream framing (`listen=` /
 * `connect=`) and over UDP multicast on the loopback (`mcast=…,localaddr=127.0.0.1`). And one
 * guest on `-netdev tap`, on a tap this test makes with an address on the host's side: the
 * host's kernel answers its ARP and pings (skipped, with the reason, without /dev/net/tun or
 * CAP_NET_ADMIN).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SocketNetdevSpec } from '../src/devices/virtio/net.js';
import { type GuestResult, runGuest } from '../src/index.js';
import { hostSkipReason } from './helpers.js';
import { freePort } from './ports.js';

export const virtionetGuest = fileURLToPath(
  new URL('../../../tools/guests/out/virtionet64.elf', import.meta.url),
);
const notBuilt = existsSync(virtionetGuest)
  ? undefined
  : 'tools/guests is not built (pnpm turbo run build --filter=@kvm/guests)';

function guest(accel: string, append: string, socket: SocketNetdevSpec, onStart?: () => void) {
  return runGuest({
    kernel: virtionetGuest,
    accel,
    memory: '64M',
    append,
    timeoutMs: 120_000,
    nics: [
      { netdev: 'socket', socket, mac: append.includes('role=serve') ? '52:54:00:77:00:01' : undefined },
    ],
    onStart,
  });
}

function expectPassed(r: GuestResult, name: string): void {
  expect(r.serial, r.serial).not.toMatch(/^FAIL /m);
  expect(r.serial).toMatch(new RegExp(`^PASS ${name.replace(/\./g, '\\.')}$`, 'm'));
  expect(r.exitReason).toEqual({ kind: 'debug-exit', status: 1 });
}

describe('virtio-net: two of our guests ping each other over -netdev socket', () => {
  const pairs: [serve: string, ping: string, skip: string | undefined][] = [
    ['vmx', 'svm', notBuilt],
    ['kvm', 'vmx', notBuilt ?? hostSkipReason],
  ];
  for (const [serveAccel, pingAccel, skip] of pairs) {
    it.skipIf(skip !== undefined)(
      `listen= on -accel ${serveAccel}, connect= on -accel ${pingAccel}: ARP answered, 4 of 4 echo requests answered${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        const port = await freePort();
        let pinger: Promise<GuestResult> | undefined;
        // connect= goes once the listener is up, which it is when the first machine starts.
        const server = guest(
          serveAccel,
          'ip=192.168.77.1 peer=192.168.77.2 role=serve count=4',
          { mode: 'listen', host: '127.0.0.1', port },
          () => {
            pinger = guest(pingAccel, 'ip=192.168.77.2 peer=192.168.77.1 role=ping count=4', {
              mode: 'connect',
              host: '127.0.0.1',
              port,
            });
            pinger.catch(() => {});
          },
        );
        const s = await server;
        expect(pinger, s.serial).toBeDefined();
        const p = await pinger!;
        expectPassed(s, 'virtionet.serve.echo-requests-answered');
        expectPassed(p, 'virtionet.ping.every-echo-answered');
        expect(p.serial).toContain('peer mac 52:54:00:77:00:01');
        expect(p.serial).toContain('ping: 4 transmitted, 4 received');
      },
      180_000,
    );
  }

  it.skipIf(notBuilt !== undefined)(
    'mcast= on the loopback (localaddr=127.0.0.1): -accel svm pings -accel vmx',
    async () => {
      // A group and port of this run's own, so parallel runs do not hear each other.
      const port = await freePort();
      const socket: SocketNetdevSpec = { mode: 'mcast', host: '230.0.0.77', port, localaddr: '127.0.0.1' };
      const [s, p] = await Promise.all([
        guest('vmx', 'ip=192.168.78.1 peer=192.168.78.2 role=serve count=4', socket),
        guest('svm', 'ip=192.168.78.2 peer=192.168.78.1 role=ping count=4 wait=60', socket),
      ]);
      expectPassed(s, 'virtionet.serve.echo-requests-answered');
      expectPassed(p, 'virtionet.ping.every-echo-answered');
    },
    180_000,
  );
});

/** Why this host cannot give a guest a tap, or undefined. */
function whyNoTap(): string | undefined {
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun does not exist';
  const probe = spawnSync('ip', ['tuntap', 'add', 'kvmts-probe', 'mode', 'tap'], { encoding: 'utf8' });
  if (probe.error) return `no ip(8): ${probe.error.message}`;
  if (probe.status !== 0) return `cannot make a tap (CAP_NET_ADMIN?): ${probe.stderr.trim()}`;
  spawnSync('ip', ['tuntap', 'del', 'kvmts-probe', 'mode', 'tap']);
  return undefined;
}

describe('virtio-net on -netdev tap: our guest and the host kernel', () => {
  const noTap = notBuilt ?? whyNoTap();
  if (noTap) console.warn(`virtio-net.engines.test: SKIPPED the tap tests: ${noTap}`);
  // A name and subnet of this run's own.
  const n = process.pid % 200;
  const ifname = `kvmts-g${process.pid % 100000}`;
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };

  for (const [accel, skip] of [
    ['vmx', noTap],
    ['kvm', noTap ?? hostSkipReason],
  ] as const) {
    it.skipIf(skip !== undefined)(
      `-accel ${accel}: the host's kernel answers the guest's ARP and 4 pings on ${ifname}${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        ip('tuntap', 'add', ifname, 'mode', 'tap');
        try {
          ip('addr', 'add', `10.198.${n}.1/24`, 'dev', ifname);
          ip('link', 'set', ifname, 'up');
          const r = await runGuest({
            kernel: virtionetGuest,
            accel,
            memory: '64M',
            append: `ip=10.198.${n}.2 peer=10.198.${n}.1 role=ping count=4 wait=20`,
            timeoutMs: 120_000,
            nics: [{ netdev: 'tap', tap: { ifname } }],
          });
          expectPassed(r, 'virtionet.ping.every-echo-answered');
          expect(r.serial).toContain('ping: 4 transmitted, 4 received');
        } finally {
          spawnSync('ip', ['tuntap', 'del', ifname, 'mode', 'tap']);
        }
      },
      180_000,
    );
  }

  it.skipIf(noTap !== undefined)(
    'a tap another process holds is refused before the guest starts: EBUSY, said plainly',
    async () => {
      ip('tuntap', 'add', ifname, 'mode', 'tap');
      const holder = (await import('@kvm/host')).openTap(ifname);
      try {
        await expect(
          runGuest({
            kernel: virtionetGuest,
            accel: 'vmx',
            memory: '64M',
            nics: [{ netdev: 'tap', tap: { ifname } }],
          }),
        ).rejects.toThrow(`-netdev tap,ifname=${ifname}: tap ${ifname}: the interface is busy`);
      } finally {
        holder.close();
        spawnSync('ip', ['tuntap', 'del', ifname, 'mode', 'tap']);
      }
    },
  );
});
