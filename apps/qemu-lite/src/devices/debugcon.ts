/**
 * QEMU's isa-debugcon, the Bochs "port E9 hack": each byte written to the port goes to the
 * output at once (QEMU `debugcon_ioport_write` writes the low byte to its chardev); a read
 * returns the `readback` value, 0xe9 by default (`debugcon_ioport_read`), which is how a guest
 * detects that the console is there. One port, no state, nothing to reset.
 */
import { closeSync, openSync, writeSync } from '#platform/fs';
import type { PortIoDevice } from './types.js';

/** QEMU's defaults: iobase 0xe9, readback 0xe9. */
export const DEBUGCON_IOBASE = 0xe9;
export const DEBUGCON_READBACK = 0xe9;

export interface DebugconConfig {
  iobase: number;
  readback: number;
  /** `-debugcon stdio` (the process's stdout) or `-debugcon file:PATH` (appended to). */
  output: { kind: 'stdio' } | { kind: 'file'; path: string };
}

export class Debugcon implements PortIoDevice {
  readonly name = 'isa-debugcon';
  /** Port I/O only: no DMA (`PortIoDevice.writesNoGuestRam`). */
  readonly writesNoGuestRam = true;
  private readonly readback: number;
  private readonly out: (byte: number) => void;

  constructor(readback: number, out: (byte: number) => void) {
    this.readback = readback;
    this.out = out;
  }

  ioIn(_port: number, size: number): number {
    const mask = size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff;
    return (this.readback & mask) >>> 0;
  }

  ioOut(_port: number, _size: number, value: number): void {
    this.out(value & 0xff);
  }
}

/**
 * Where a debugcon's bytes go: a file descriptor written synchronously byte by byte (unbuffered
 * like QEMU's file and stdio chardevs, so output before a crash or a kill is not lost). The file
 * is opened for appending: the caller truncates it once per run, and a machine rebuilt by a
 * reset keeps adding to it.
 */
/** Something to `Atomics.wait` on for a short sleep (nothing ever notifies it). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

export class DebugconSink {
  private readonly fd: number;
  private readonly owned: boolean;
  private readonly byte = new Uint8Array(1);

  constructor(output: DebugconConfig['output']) {
    if (output.kind === 'stdio') {
      this.fd = 1;
      this.owned = false;
    } else {
      this.fd = openSync(output.path, 'a');
      this.owned = true;
    }
  }

  write = (value: number): void => {
    this.byte[0] = value;
    // stdout may be a non-blocking pipe (libuv makes it one): when it is full, wait for the
    // reader a little (1 ms at a time, at most ~1 s) rather than drop the byte.
    for (let tries = 0; tries < 1000; tries++) {
      try {
        writeSync(this.fd, this.byte);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
        Atomics.wait(PAUSE, 0, 0, 1);
      }
    }
    // A full disk, a closed pipe or a reader that never reads must not stop the guest: the
    // byte is dropped, as QEMU's chardev drops what it cannot write.
  };

  close(): void {
    if (this.owned) closeSync(this.fd);
  }
}
