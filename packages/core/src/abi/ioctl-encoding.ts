/**
 * How Linux packs an ioctl request number (asm-generic/ioctl.h, which x86 uses unchanged):
 *
 *   bits 0..7   nr     the command number within its type
 *   bits 8..15  type   the "magic" of the driver, KVMIO = 0xAE for KVM
 *   bits 16..29 size   sizeof the argument struct (14 bits)
 *   bits 30..31 dir    _IOC_NONE 0, _IOC_WRITE 1 (user → kernel), _IOC_READ 2 (kernel → user)
 *
 * Results are unsigned 32-bit numbers (an `_IOR`/`_IOWR` request has bit 31 set), the value a C
 * caller passes as `unsigned long request`.
 */

export const IOC_NRBITS = 8;
export const IOC_TYPEBITS = 8;
export const IOC_SIZEBITS = 14;
export const IOC_DIRBITS = 2;

export const IOC_NRSHIFT = 0;
export const IOC_TYPESHIFT = IOC_NRSHIFT + IOC_NRBITS;
export const IOC_SIZESHIFT = IOC_TYPESHIFT + IOC_TYPEBITS;
export const IOC_DIRSHIFT = IOC_SIZESHIFT + IOC_SIZEBITS;

/** Direction bits, named from the caller's point of view as the header does. */
export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

/** The ioctl type ("magic") of every KVM request. */
export const KVMIO = 0xae;

/** `_IOC(dir, type, nr, size)`. Throws RangeError for a field that does not fit its bits. */
export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (dir >>> IOC_DIRBITS !== 0 || type >>> IOC_TYPEBITS !== 0 || nr >>> IOC_NRBITS !== 0) {
    throw new RangeError(`_IOC(${dir}, ${type}, ${nr}, ${size}): field out of range`);
  }
  if (!Number.isInteger(size) || size < 0 || size >>> IOC_SIZEBITS !== 0) {
    throw new RangeError(`_IOC: size ${size} does not fit ${IOC_SIZEBITS} bits`);
  }
  return (
    ((dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)) >>> 0
  );
}

/** `_IO(type, nr)`: no argument, or an integer argument passed by value. */
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
/** `_IOR(type, nr, T)`: the kernel writes a T to the caller's pointer. */
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
/** `_IOW(type, nr, T)`: the kernel reads a T from the caller's pointer. */
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);
/** `_IOWR(type, nr, T)`: both. */
export const _IOWR = (type: number, nr: number, size: number): number =>
  _IOC(IOC_READ | IOC_WRITE, type, nr, size);

/** `_IOC_DIR(request)` */
export const _IOC_DIR = (request: number): number => (request >>> IOC_DIRSHIFT) & ((1 << IOC_DIRBITS) - 1);
/** `_IOC_TYPE(request)` */
export const _IOC_TYPE = (request: number): number => (request >>> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1);
/** `_IOC_NR(request)` */
export const _IOC_NR = (request: number): number => (request >>> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1);
/** `_IOC_SIZE(request)` */
export const _IOC_SIZE = (request: number): number => (request >>> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1);
