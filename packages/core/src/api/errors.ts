/**
 * Errors carry the errno that Linux returns for the same misuse, so the same call fails the same
 * way on the host engine (the kernel's own answer) and on the software engine (ours).
 */

/** The errno values of x86-64 Linux (asm-generic/errno-base.h, errno.h) that KVM returns. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  /** Not from KVM: `openKvm` uses it when an engine speaks another KVM API version. */
  EPROTO: 71,
  EOPNOTSUPP: 95,
} as const;

export type ErrnoName = keyof typeof Errno;

const errnoNames: Record<number, ErrnoName> = Object.fromEntries(
  Object.entries(Errno).map(([name, value]) => [value, name as ErrnoName]),
);

/** The symbolic name of an errno number, or `E<number>` for one we do not list. */
export function errnoName(errno: number): string {
  return errnoNames[errno] ?? `E${errno}`;
}

/**
 * A failed KVM operation. `errno` is the number Linux would set; `code` its name (`'EINVAL'`),
 * like Node's own system errors; `op` names the ioctl or step that failed.
 */
export class KvmError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly op: string;

  constructor(op: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    super(`${op}: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'KvmError';
    this.errno = errno;
    this.code = code;
    this.op = op;
  }

  /** A `KvmError` for `errnoName`, e.g. `KvmError.of('KVM_CREATE_VCPU', 'EEXIST')`. */
  static of(op: string, name: ErrnoName, detail?: string): KvmError {
    return new KvmError(op, Errno[name], detail);
  }
}
