/**
 * runGuest's `nics`, `virtioRng` and `virtioConsole` options: what validateRunGuestOptions takes
 * and what it refuses (a TypeError naming the option), before anything starts.
 */
import { describe, expect, it } from 'vitest';
import { validateRunGuestOptions } from '../src/run-guest-options.js';

const ok = (o: Record<string, unknown>) => () => validateRunGuestOptions(o);

describe('runGuest: nics, virtioRng, virtioConsole', () => {
  it('takes user and socket NICs, a MAC, rng counts and the console flag', () => {
    expect(ok({ nics: [{ netdev: 'user' }, { netdev: 'user', mac: '52:54:00:00:00:02' }] })).not.toThrow();
    expect(
      ok({
        nics: [
          {
            netdev: 'user',
            hostfwd: [
              { protocol: 'tcp', hostAddr: '127.0.0.1', hostPort: 0, guestAddr: '10.0.2.15', guestPort: 22 },
            ],
          },
        ],
      }),
    ).not.toThrow();
    expect(
      ok({ nics: [{ netdev: 'socket', socket: { mode: 'connect', host: '127.0.0.1', port: 5555 } }] }),
    ).not.toThrow();
    expect(
      ok({ nics: [{ netdev: 'socket', socket: { mode: 'mcast', host: '230.0.0.1', port: 1 } }] }),
    ).not.toThrow();
    expect(ok({ virtioRng: 2, virtioConsole: true })).not.toThrow();
  });

  it.each([
    [{ nics: 'user' }],
    [{ nics: [{ netdev: 'tap' }] }],
    [{ nics: [{ netdev: 'user', mac: '01:00:5e:00:00:01' }] }],
    [{ nics: [{ netdev: 'user', speed: 1000 }] }],
    [{ nics: [{ netdev: 'user', socket: { mode: 'listen', host: '', port: 1 } }] }],
    [{ nics: [{ netdev: 'socket' }] }],
    [{ nics: [{ netdev: 'user', hostfwd: [{ protocol: 'udp', hostAddr: '', hostPort: 1, guestPort: 1 }] }] }],
    [
      {
        nics: [{ netdev: 'user', hostfwd: [{ protocol: 'tcp', hostAddr: 'x', hostPort: 1, guestPort: 1 }] }],
      },
    ],
    [{ nics: [{ netdev: 'user', hostfwd: [{ protocol: 'tcp', hostAddr: '', hostPort: 1, guestPort: 0 }] }] }],
    [
      {
        nics: [
          {
            netdev: 'socket',
            socket: { mode: 'listen', host: '', port: 1 },
            hostfwd: [{ protocol: 'tcp', hostAddr: '', hostPort: 1, guestPort: 1 }],
          },
        ],
      },
    ],
    [{ nics: [{ netdev: 'socket', socket: { mode: 'udp', host: 'x', port: 1 } }] }],
    [{ nics: [{ netdev: 'socket', socket: { mode: 'listen', host: '', port: 70000 } }] }],
  ])('refuses nics %j with a TypeError naming options.nics', (o) => {
    expect(ok(o)).toThrow(TypeError);
    expect(ok(o)).toThrow('runGuest: options.nics must be');
  });

  it('refuses a virtioRng that is not 0–8 and a virtioConsole that is not a boolean', () => {
    for (const v of [-1, 9, 1.5, '1'])
      expect(ok({ virtioRng: v })).toThrow('runGuest: options.virtioRng must be');
    expect(ok({ virtioConsole: 'yes' })).toThrow('runGuest: options.virtioConsole must be a boolean');
  });
});
