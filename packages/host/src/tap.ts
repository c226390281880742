/**
 * A TAP interface as a VMM's network backend (`-netdev tap,ifname=…`): the addon opens
 * /dev/net/tun and attaches to the interface with TUNSETIFF (IFF_TAP | IFF_NO_PI, QEMU's
 * net/tap-linux.c `tap_open` without the vnet header), and reads frames on a thread of its own.
 * Errors are `TapError`s that say what to do, with Linux's errno.
 */
import { isNativeError, loadNative } from './native.js';

/** ENODEV: no addon to open a tap with (the numbers are Linux's, as the addon's errors carry). */
const ENODEV = 19;

export class TapError extends Error {
  constructor(
    message: string,
    /** Linux's errno (ENOENT, EPERM, EBUSY, …). */
    readonly errno: number,
  ) {
    super(message);
    this.name = 'TapError';
  }
}

export interface HostTap {
  /** The interface's name as the kernel has it (a `tap%d` pattern resolved). */
  readonly ifname: string;
  /** Sends one Ethernet frame to the host's side; false when the kernel's queue was full. */
  write(frame: Uint8Array): boolean;
  /** Where received frames go (set once; frames before it are dropped). */
  onFrame(deliver: (frame: Uint8Array) => void): void;
  close(): void;
}

function describe(ifname: string, code: string, detail: string): string {
  switch (code) {
    case 'ENOENT':
      return `tap ${ifname}: /dev/net/tun does not exist (load the tun module: modprobe tun)`;
    case 'EPERM':
    case 'EACCES':
      return `tap ${ifname}: permission denied: attaching to a tap needs CAP_NET_ADMIN, or a persistent tap made for this user (ip tuntap add ${ifname} mode tap user $USER)`;
    case 'EBUSY':
      return `tap ${ifname}: the interface is busy: another process (another VMM?) is attached to it`;
    case 'EINVAL':
      return `tap ${ifname}: not a usable tap name, or ${ifname} exists and is not a tap (${detail})`;
    default:
      return `tap ${ifname}: ${detail}`;
  }
}

/** Opens (and, with CAP_NET_ADMIN, creates if missing) the tap `ifname`. Throws a TapError. */
export function openTap(ifname: string): HostTap {
  const native = loadNative();
  if (!native.ok) throw new TapError(`tap ${ifname}: ${native.reason}`, ENODEV);
  const addon = native.addon;
  let opened: { fd: number; ifname: string };
  try {
    opened = addon.openTap(ifname);
  } catch (error) {
    if (!isNativeError(error)) throw error;
    throw new TapError(describe(ifname, error.code, error.message), error.errno);
  }
  const { fd } = opened;
  let closed = false;
  let started = false;
  return {
    ifname: opened.ifname,
    write(frame) {
      if (closed) return false;
      return addon.tapWrite(fd, frame) > 0;
    },
    onFrame(deliver) {
      if (started || closed) return;
      started = true;
      addon.tapStart(fd, deliver);
    },
    close() {
      if (closed) return;
      closed = true;
      addon.tapClose(fd);
    },
  };
}
