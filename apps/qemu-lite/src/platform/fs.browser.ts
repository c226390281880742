/**
 * `#platform/fs` in a browser bundle (the `browser` condition of package.json `imports`): a page
 * has no file system, so every call fails the way a missing syscall does on Linux (ENOSYS), and
 * the callers' own error paths turn that into their usual message (`-drive …: Could not open …:
 * function not implemented`). The path helpers are pure and work.
 */

function enosys(call: string): never {
  const error = new Error(`${call}: function not implemented (no file system in a browser)`) as Error & {
    code: string;
  };
  error.code = 'ENOSYS';
  throw error;
}

export const closeSync = (_fd: number): void => enosys('close');
export const fdatasyncSync = (_fd: number): void => enosys('fdatasync');
export const fstatSync = (_fd: number): { isFile(): boolean; size: number } => enosys('fstat');
export const openSync = (_path: string, _flags: string, _mode?: number): number => enosys('open');
export const readFileSync = (_path: string, _encoding: string): string => enosys('read');
export const readSync = (
  _fd: number,
  _into: Uint8Array,
  _offset: number,
  _length: number,
  _position: number,
): number => enosys('pread');
export const realpathSync = (_path: string): string => enosys('realpath');
export const unlinkSync = (_path: string): void => enosys('unlink');
export const writeSync = (
  _fd: number,
  _from: Uint8Array | string,
  _offset?: number,
  _length?: number,
  _position?: number,
): number => enosys('write');

export function basename(path: string): string {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.length === 0 ? '' : parts[parts.length - 1]!;
}

export function dirname(path: string): string {
  const at = path.replace(/\/+$/, '').lastIndexOf('/');
  if (at < 0) return '.';
  return at === 0 ? '/' : path.slice(0, at);
}

export function join(...parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .join('/')
    .replace(/\/{2,}/g, '/');
}
