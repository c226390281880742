/**
 * A `-drive file=IMG,format=raw` image: an open file descriptor, its size in 512-byte sectors,
 * and an advisory lock that keeps a second qemu-lite from opening it while this one writes it.
 *
 * The lock. QEMU takes OFD byte-range locks (`fcntl(F_OFD_SETLK)`) on the image itself; Node has
 * no fcntl/flock and the host addon is not ours to grow for this, so the lock is a lock file
 * beside the image, `.<name>.qemu-lite-lock`, created with O_CREAT|O_EXCL (`'wx'`: atomic on a
 * local file system) and holding the owner's pid. A writer holds it exclusively; a read-only
 * opener takes none but refuses an image a live writer holds (QEMU's "consistent read"
 * permission conflicts with another's write). A lock whose pid no longer runs is stale (the
 * owner was killed) and is taken over. Limits: a writer does not see read-only users, and the
 * lock binds qemu-lite processes only (QEMU and other tools ignore it), as advisory locks do.
 */
import {
  basename,
  closeSync,
  dirname,
  fstatSync,
  join,
  openSync,
  readFileSync,
  realpathSync,
  unlinkSync,
  writeSync,
} from '#platform/fs';

export const SECTOR_SIZE = 512;

export class DriveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DriveError';
  }
}

export interface DriveConfig {
  file: string;
  readonly: boolean;
  /** VIRTIO_BLK_T_GET_ID's answer (at most 20 bytes). */
  serial?: string;
  /**
   * The device's logical block size, 512 (default) or 4096 (QEMU's `logical_block_size`):
   * requests must be whole, aligned blocks, and the image a whole number of them.
   */
  logicalBlockSize?: number;
  /** `-drive id=` (for `-device virtio-blk-pci,drive=ID`). */
  id?: string;
}

export class Drive {
  private closed = false;

  private constructor(
    readonly config: DriveConfig,
    readonly fd: number,
    readonly sectors: number,
    private readonly lockPath: string | undefined,
  ) {}

  get readonly(): boolean {
    return this.config.readonly;
  }

  /** Opens and locks the image; a DriveError says what is wrong (QEMU's words where it has them). */
  static open(config: DriveConfig): Drive {
    const what = `-drive file=${config.file}`;
    let real: string;
    try {
      real = realpathSync(config.file);
    } catch (error) {
      throw new DriveError(`${what}: Could not open '${config.file}': ${describe(error)}`);
    }
    const lockPath = join(dirname(real), `.${basename(real)}.qemu-lite-lock`);
    if (config.readonly) {
      const owner = liveOwner(lockPath);
      if (owner !== undefined) throw lockedError(what, config.file, owner);
    } else {
      takeLock(lockPath, what, config.file);
    }
    let fd: number | undefined;
    try {
      fd = openSync(real, config.readonly ? 'r' : 'r+');
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new DriveError(`${what}: not a regular file`);
      const block = config.logicalBlockSize ?? SECTOR_SIZE;
      if (stat.size % block !== 0)
        throw new DriveError(
          `${what}: the image is ${stat.size} bytes, not a multiple of ${block} (a raw disk is whole ${block === SECTOR_SIZE ? 'sectors' : `${block}-byte blocks`})`,
        );
      return new Drive(config, fd, stat.size / SECTOR_SIZE, config.readonly ? undefined : lockPath);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      if (!config.readonly) unlinkQuietly(lockPath);
      if (error instanceof DriveError) throw error;
      throw new DriveError(`${what}: Could not open '${config.file}': ${describe(error)}`);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if (this.lockPath) unlinkQuietly(this.lockPath);
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'EACCES') return 'Permission denied';
  return (error as Error).message;
}

function lockedError(what: string, file: string, pid: number): DriveError {
  // QEMU: 'Failed to get "write" lock' / 'Is another process using the image [IMG]?'
  return new DriveError(
    `${what}: Failed to get "write" lock: is another process using the image [${file}]? (qemu-lite pid ${pid} holds it)`,
  );
}

/** The pid in a lock file if that process still runs; undefined for none or a stale lock. */
function liveOwner(lockPath: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockPath, 'latin1'), 10);
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: it runs, as someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

function takeLock(lockPath: string, what: string, file: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new DriveError(`${what}: cannot create the lock file ${lockPath}: ${describe(error)}`);
      const owner = liveOwner(lockPath);
      if (owner !== undefined) throw lockedError(what, file, owner);
      // Stale: its owner is gone. Remove it and try once more (a racing opener wins with 'wx').
      unlinkQuietly(lockPath);
    }
  }
  throw lockedError(what, file, Number.NaN);
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Removes the lock files this process holds for `drives` (after the machine's thread was
 * terminated without closing them); a lock another process holds is left alone.
 */
export function releaseDriveLocks(drives: readonly DriveConfig[]): void {
  for (const drive of drives) {
    if (drive.readonly) continue;
    let real: string;
    try {
      real = realpathSync(drive.file);
    } catch {
      continue;
    }
    const lockPath = join(dirname(real), `.${basename(real)}.qemu-lite-lock`);
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(lockPath, 'latin1'), 10);
    } catch {
      continue;
    }
    if (pid === process.pid) unlinkQuietly(lockPath);
  }
}
