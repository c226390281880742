/**
 * The main thread's half of the GDB stub: the listening socket (`-gdb tcp:…|unix:…`), one gdb
 * connection at a time (a second is refused while one is attached, as QEMU does), its bytes
 * relayed to the machine's thread over the debug channel and the replies written back.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { DebugInput, GdbListen } from './channel.js';

export interface GdbServer {
  /** Bytes the stub sent (the worker's `gdb` message). */
  write(text: string): void;
  /** Where it listens, as gdb's `target remote` spells it (`127.0.0.1:1234`, a socket path). */
  readonly address: string;
  close(): void;
}

/** Listens on `where`; resolves once listening, rejects with the bind error (EADDRINUSE, …). */
export function startGdbServer(where: GdbListen, post: (input: DebugInput) => void): Promise<GdbServer> {
  let client: Socket | null = null;
  const server: Server = createServer((socket) => {
    if (client) {
      socket.destroy();
      return;
    }
    client = socket;
    socket.setNoDelay(true);
    post({ kind: 'gdb-connect' });
    socket.on('data', (data: Buffer) => post({ kind: 'gdb-data', data: new Uint8Array(data) }));
    const gone = () => {
      if (client !== socket) return;
      client = null;
      post({ kind: 'gdb-disconnect' });
    };
    socket.on('close', gone);
    socket.on('error', gone);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const ready = () => {
      server.off('error', reject);
      const a = server.address();
      const address = typeof a === 'string' ? a : a ? `${a.address}:${a.port}` : '';
      resolve({
        address,
        write: (text) => {
          client?.write(text, 'latin1');
        },
        close: () => {
          // end, not destroy: the last reply (W, the exit status) still goes out.
          client?.end();
          server.close();
        },
      });
    };
    if (where.kind === 'unix') server.listen(where.path, ready);
    else server.listen(where.port, where.host, ready);
  });
}
