/**
 * The debug channel between the main thread (which owns the gdb socket and the monitor's
 * terminal) and the machine's thread (which owns the vCPU). The main thread posts `DebugInput`
 * on a MessagePort, bumps the shared DEBUG_GEN cell and wakes/kicks the vCPU; the machine's
 * thread, busy in its synchronous loop, takes the messages with `receiveMessageOnPort` when it
 * sees the cell change. Replies go back as the worker's `gdb`/`monitor` messages.
 */

export type DebugInput =
  | { kind: 'gdb-connect' }
  | { kind: 'gdb-data'; data: Uint8Array }
  | { kind: 'gdb-disconnect' }
  | { kind: 'monitor'; line: string };

/** `-gdb` as parsed: a TCP port on a host (loopback unless given), or a unix socket path. */
export type GdbListen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** QEMU's `-gdb` device syntax: `tcp::PORT`, `tcp:HOST:PORT`, `unix:PATH` (also a bare `:PORT`). */
export function parseGdbDevice(text: string): GdbListen {
  if (text.startsWith('unix:')) {
    const path = text.slice(5).split(',')[0];
    if (path === '') throw new RangeError(`-gdb ${text}: the unix socket needs a path`);
    return { kind: 'unix', path };
  }
  const m = /^(?:tcp:)?([^:,]*):(\d+)(?:,.*)?$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new RangeError(`-gdb ${text}: expected tcp::PORT, tcp:HOST:PORT or unix:PATH`);
  return { kind: 'tcp', host: m[1] === '' ? '127.0.0.1' : m[1], port };
}

/** `-s`: QEMU's shorthand for `-gdb tcp::1234`. */
export const DEFAULT_GDB: GdbListen = { kind: 'tcp', host: '127.0.0.1', port: 1234 };
