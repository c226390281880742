/**
 * Loopback TCP ports for servers a test or the qemu-lite it starts opens next (a gdb stub, a
 * hostfwd rule, a -netdev socket peer). Taken below the kernel's ephemeral range: a port that
 * listen(0) picked and a test released is the next candidate for any connect()'s source port, and
 * in CI qemu-lite's own `-netdev socket,connect=` connection took the port its hostfwd rule was
 * about to bind (EADDRINUSE, the boot over before it began). Two boots started at once also
 * raced for one released port. So: a port no connect() is given, never one this process handed
 * out before, and nothing listening on it when handed out.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports this process handed out. */
const handedOut = new Set<number>();
/** The lowest port tests use; below it, well-known and registered services. */
const LOWEST = 10_000;

/** The first port of the kernel's ephemeral range (Linux's ip_local_port_range; 32768 elsewhere). */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
    );
    return first > LOWEST + 1000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** The first port of the kernel's ephemeral range: every port handed out lies below it. */
export const EPHEMERAL_START = ephemeralStart();
const top = EPHEMERAL_START;

/** A port below the ephemeral range that this process has not handed out before (not probed). */
export function pickPort(): number {
  for (;;) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Whether a server can listen on `port` of 127.0.0.1 now (it is closed again before this resolves). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `pickPort`, and nothing listens there: a server of the test's or qemu-lite's can bind it next. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = pickPort();
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port between ${LOWEST} and ${top}`);
}
