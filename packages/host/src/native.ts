/**
 * Loading the native addon (`build/Release/kvm_host.node`, built from `native/` by
 * `scripts/build-native.mjs` at install time). Loading is lazy and never throws: where the addon
 * is missing or switched off, `loadNative()` says why, and the callers turn that into a clear
 * KvmError or an availability report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the addon exports (see native/*.h for each call's contract). Errors carry `errno`. */
export interface NativeAddon {
  /** open(path, O_RDWR | O_CLOEXEC) → fd */
  open(path: string): number;
  /** ioctl(fd, request, arg): a typed array's bytes are passed in place; KVM_RUN is kickable. */
  ioctl(fd: number, request: number, arg: ArrayBufferView | number | bigint): number;
  /** close(fd); forgets the fd's kick registration first. */
  close(fd: number): void;
  /** mmap(MAP_SHARED) of a vCPU fd's kvm_run, registered for kicks. */
  mmapRun(vcpuFd: number, size: number): ArrayBuffer;
  /** A memfd of `size` bytes mapped MAP_SHARED: zeroed, page-aligned guest RAM. */
  allocateMemory(size: number): { buffer: ArrayBuffer; address: bigint; memfd: number };
  /** Another mapping of a memfd from allocateMemory (e.g. in another thread). */
  mapMemfd(memfd: number, size: number): { buffer: ArrayBuffer; address: bigint };
  /** Detaches a buffer this addon made and drops its reference to the mapping. */
  release(buffer: ArrayBuffer): void;
  /** Plain data naming the vCPU for kick(); EBADF if its kvm_run is not mapped. */
  kickHandle(vcpuFd: number): { fd: number; token: number };
  /** immediate_exit = 1, then tgkill() the thread in KVM_RUN. False if the vCPU is gone. */
  kick(handle: { fd: number; token: number }): boolean;
  /** The real-time signal used for kicks. */
  kickSignal(): number;
  /** /dev/net/tun + TUNSETIFF(IFF_TAP | IFF_NO_PI): a non-blocking fd and the kernel's name. */
  openTap(ifname: string): { fd: number; ifname: string };
  /** Starts the tap's reader thread: `onFrame` gets each frame, on the calling thread. */
  tapStart(fd: number, onFrame: (frame: Uint8Array) => void): void;
  /** write(2) of one frame; 0 when the kernel's queue is full (dropped). */
  tapWrite(fd: number, frame: Uint8Array): number;
  /** Stops the reader (joined) and closes the fd. */
  tapClose(fd: number): void;
  readonly pageSize: number;
}

/** The system error shape the addon throws (like Node's own). */
export interface NativeError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isNativeError(error: unknown): error is NativeError {
  return error instanceof Error && typeof (error as Partial<NativeError>).errno === 'number';
}

export type NativeLoad = { ok: true; addon: NativeAddon } | { ok: false; reason: string };

const ADDON_URL = new URL('../build/Release/kvm_host.node', import.meta.url);
const REASON_URL = new URL('../build/native-unavailable.txt', import.meta.url);
const REBUILD = 'rebuild it with `pnpm --filter @kvm/host run build:native` (needs python3, make and g++)';

let cached: NativeLoad | undefined;

/**
 * Where the addon is loaded from: `build/Release/kvm_host.node`, or `KVM_HOST_ADDON` when set
 * (the sanitizer run, `scripts/asan-test.mjs`, points it at an ASan build kept apart).
 */
export function nativeAddonPath(): string {
  return process.env.KVM_HOST_ADDON || fileURLToPath(ADDON_URL);
}

/** The addon, or why it can't be had. Cached after the first call. */
export function loadNative(): NativeLoad {
  cached ??= load();
  return cached;
}

function load(): NativeLoad {
  if (process.env.KVM_HOST_NATIVE === '0') {
    return { ok: false, reason: 'the native addon is switched off (KVM_HOST_NATIVE=0)' };
  }
  if (process.platform !== 'linux') {
    return { ok: false, reason: `/dev/kvm exists only on Linux (this is ${process.platform})` };
  }
  const path = nativeAddonPath();
  if (!existsSync(path)) {
    let why = '';
    try {
      why = ` (${readFileSync(REASON_URL, 'utf8').trim()})`;
    } catch {
      // No recorded reason: the install script never ran here.
    }
    return { ok: false, reason: `the native addon is not built${why}; ${REBUILD}` };
  }
  try {
    const require = createRequire(import.meta.url);
    return { ok: true, addon: require(path) as NativeAddon };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: `the native addon failed to load (${message}); ${REBUILD}` };
  }
}
