/**
 * openTap (src/tap.ts, native/tap.cc) on a real tap the test creates: the host's kernel answers
 * an ARP request written to it, a second attach is EBUSY, a bad name EINVAL; each with a
 * TapError saying what to do. Skips, with the reason, without /dev/net/tun or CAP_NET_ADMIN.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNative } from '../src/native.js';
import { openTap, TapError } from '../src/tap.js';

/** Why taps cannot be tested here, or undefined. */
function whyNoTap(): string | undefined {
  const native = loadNative();
  if (!native.ok) return native.reason;
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun does not exist';
  const probe = spawnSync('ip', ['tuntap', 'add', 'kvmts-probe', 'mode', 'tap'], { encoding: 'utf8' });
  if (probe.error) return `no ip(8): ${probe.error.message}`;
  if (probe.status !== 0) return `cannot make a tap (CAP_NET_ADMIN?): ${probe.stderr.trim()}`;
  spawnSync('ip', ['tuntap', 'del', 'kvmts-probe', 'mode', 'tap']);
  return undefined;
}
const skip = whyNoTap();
if (skip) console.warn(`tap.test: SKIPPED: ${skip}`);

// A name and subnet of this run's own (other runs may be testing taps at the same time).
const n = process.pid % 200;
const IFNAME = `kvmts-t${process.pid % 100000}`;
const HOST_IP = [10, 199, n, 1];
const GUEST_IP = [10, 199, n, 2];
const GUEST_MAC = [0x02, 0x4b, 0x54, 0, 0, 2];

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function arpRequest(): Uint8Array {
  const f = new Uint8Array(60);
  f.fill(0xff, 0, 6);
  f.set(GUEST_MAC, 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
  f.set(GUEST_MAC, 22);
  f.set(GUEST_IP, 28);
  f.set(HOST_IP, 38);
  return f;
}

describe.skipIf(skip !== undefined)('openTap: a tap on the host', () => {
  afterAll(() => {
    spawnSync('ip', ['tuntap', 'del', IFNAME, 'mode', 'tap']);
  });

  it("carries frames both ways: the host's kernel answers an ARP request for its address", async () => {
    ip('tuntap', 'add', IFNAME, 'mode', 'tap');
    ip('addr', 'add', `${HOST_IP.join('.')}/24`, 'dev', IFNAME);
    const tap = openTap(IFNAME);
    try {
      expect(tap.ifname).toBe(IFNAME);
      ip('link', 'set', IFNAME, 'up');
      const reply = new Promise<Uint8Array>((resolve) => {
        tap.onFrame((f) => {
          // The kernel also sends IPv6 router solicitations and the like: wait for the ARP reply.
          if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 2) resolve(f);
        });
      });
      // Written until answered: the link may take a moment to come up.
      const timer = setInterval(() => tap.write(arpRequest()), 100);
      const f = await reply;
      clearInterval(timer);
      expect([...f.subarray(0, 6)]).toEqual(GUEST_MAC);
      expect([...f.subarray(28, 32)]).toEqual(HOST_IP);
      expect([...f.subarray(32, 38)]).toEqual(GUEST_MAC);
    } finally {
      tap.close();
      tap.close(); // twice is a no-op
    }
    expect(tap.write(arpRequest())).toBe(false);
  }, 30_000);

  it('a second attach to the same tap is EBUSY; a name too long is EINVAL; both TapErrors', () => {
    const tap = openTap(IFNAME);
    try {
      let error: unknown;
      try {
        openTap(IFNAME).close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TapError);
      expect((error as TapError).errno).toBe(16);
      expect((error as TapError).message).toMatch(/busy: another process/);
    } finally {
      tap.close();
    }
    expect(() => openTap('a-name-longer-than-15')).toThrow(TapError);
    expect(() => openTap('')).toThrow(/1 to 15 bytes/);
  });
});
