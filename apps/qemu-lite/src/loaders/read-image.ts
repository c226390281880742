/**
 * Reading the files a guest is made of (`-kernel`, `-initrd`, `-device loader,file=`) from the
 * host, bounded and without blocking the thread that handles signals.
 *
 * - Only regular files: `/dev/zero` would be read until memory runs out, a FIFO or a terminal
 *   until someone writes to it, a directory not at all. Each is refused with what it is.
 * - A size cap, checked against the file's size before a byte is read: no image can be larger
 *   than the machine it would be loaded into (`MAX_KERNEL_BYTES`, `MAX_INITRD_BYTES`).
 * - Asynchronous, in bounded chunks: the event loop stays free, so SIGINT/SIGTERM handlers run
 *   while a large file is read (a synchronous read holds the main thread until it returns).
 */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { LoaderError } from './types.js';

// The limits live in limits.ts (portable: the loaders check them too); re-exported here.
export { MAX_INITRD_BYTES, MAX_KERNEL_BYTES } from './limits.js';

/** Bytes per read: each one is a short job on libuv's thread pool. */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** What a non-regular file is, in words, from its mode. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The reason an open or a read failed, as the user can act on it. */
function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENXIO':
      return 'no such device or address (a socket, or a device that is not there)';
    default:
      return code ?? String((error as Error)?.message ?? error);
  }
}

const gib = (n: number): string => `${n / (1024 * 1024 * 1024)} GiB`;

/**
 * Reads `path` whole. `what` names it in errors (`kernel`, `initrd`, `loader`); `maxBytes` is
 * the cap. Rejects with `LoaderError` naming the file and what is wrong with it.
 */
export async function readImageFile(path: string, what: string, maxBytes: number): Promise<Uint8Array> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: open(2) of a FIFO for reading otherwise waits for a writer (fifo(7)); on a
    // regular file it changes nothing. O_NOCTTY: a terminal given as a kernel must not become
    // our controlling terminal before it is refused.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw new LoaderError(what, `cannot read ${path}: ${reasonOf(error)}`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new LoaderError(what, `${path} is ${kindOf(stats)}, not a regular file`);
    }
    if (stats.size > maxBytes) {
      throw new LoaderError(
        what,
        `${path} is ${stats.size} bytes, larger than any ${what} qemu-lite can load (at most ${gib(maxBytes)})`,
      );
    }
    const bytes = new Uint8Array(stats.size);
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesRead } = await handle.read(
        bytes,
        offset,
        Math.min(CHUNK_BYTES, bytes.length - offset),
        offset,
      );
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    if (offset !== bytes.length) {
      throw new LoaderError(what, `${path} shrank from ${bytes.length} to ${offset} bytes while being read`);
    }
    return bytes;
  } catch (error) {
    if (error instanceof LoaderError) throw error;
    throw new LoaderError(what, `cannot read ${path}: ${reasonOf(error)}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
