// Types for boot-marker.mjs (used from the TypeScript boot test).
export declare const cacheDir: string;
export declare const kernelPath: string;
export declare const initramfsPath: string;
export declare const manifestPath: string;
export declare const vmlinuxPath: string;
export declare const fetchScript: string;
export declare const systemMapPath: string;
export declare const SOFT_CMDLINE: string;
/** SOFT_CMDLINE with the PCI bus (the boot tests' virtio disks). */
export declare const SOFT_PCI_CMDLINE: string;
export declare const BARE_CMDLINE: string;
/** The bzImage loader for an entry; `ql` is qemu-lite's module. */
export declare function bareLoader(ql: unknown, entry: 'kernel' | 'decompressor' | 'protocol32'): unknown;
export declare const MARKER: string;
export declare const END_MARKER: string;
export declare const TEST_CMDLINE: string;
/** TEST_CMDLINE with the PCI bus (the boot tests' virtio disks). */
export declare const TEST_PCI_CMDLINE: string;
export declare const POWEROFF_RE: RegExp;
export declare const MILESTONES: { name: string; re: RegExp }[];

export interface LinuxManifest {
  kernelPackage: string;
  kernelVersion: string;
  kernelRelease: string;
  busyboxVersion: string;
}

export declare function linuxFiles():
  | { ok: true; manifest: LinuxManifest; why?: undefined }
  | { ok: false; why: string; manifest?: undefined };

export interface RunResult {
  out: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  markerMs: number | undefined;
  /** Milliseconds from spawn to each MILESTONES entry seen. */
  milestoneMs: Record<string, number>;
  totalMs: number;
  /**
   * CPU milliseconds (user + system, all threads) the process had used at each milestone seen
   * (by name), at the marker (`marker`) and at the power-off line (`stop`); from /proc. And
   * `markerThread`: the busiest thread's alone at the marker (the vCPU thread).
   */
  cpuMs: Record<string, number | undefined>;
  timedOut: boolean;
  stoppedButRunning: boolean;
}

/** CPU milliseconds (user + system, every thread) process `pid` has used, or undefined without /proc. */
export declare function processCpuMs(pid: number | undefined): number | undefined;
/** CPU ms and start (ms after the host booted) of a /proc stat file; throws where it cannot be read. */
export declare function statTimes(path: string): { cpuMs: number; startMs: number };
/** The busiest thread of `pid` (the vCPU thread): CPU ms, and its start in ms after the process's. */
export declare function busiestThread(
  pid: number | undefined,
): { cpuMs: number; startMs: number } | undefined;
/** CPU ms of the busiest thread of `pid` (the vCPU thread), from /proc. */
export declare function busiestThreadCpuMs(pid: number | undefined): number | undefined;

export declare function runAndTime(
  cmd: string,
  args: string[],
  opts?: {
    marker?: string;
    timeoutMs?: number;
    onData?: (text: string) => void;
    stdin?: 'ignore' | 'inherit' | 'pipe';
    stopRe?: RegExp | null;
    stopGraceMs?: number;
  },
): Promise<RunResult>;

export declare function qemuArgs(opts?: {
  cmdline?: string;
  memMiB?: number;
  kernel?: string;
  accel?: 'kvm' | 'tcg';
}): string[];
