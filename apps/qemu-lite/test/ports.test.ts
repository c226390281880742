/**
 * The tests' loopback ports (test/ports.ts): below the kernel's ephemeral range, where no
 * connect() takes them as its source port, and never the same one twice in a process.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { EPHEMERAL_START, freePort, pickPort } from './ports.js';

describe('test ports', () => {
  it('hands out distinct ports below the ephemeral range, each one a server can listen on', async () => {
    const ports = [pickPort(), await freePort(), await freePort(), await freePort()];
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(10_000);
      expect(p).toBeLessThan(EPHEMERAL_START);
    }
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[1], '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
