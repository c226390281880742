/**
 * The page ↔ machine-worker protocol: plain, structured-cloneable messages (no functions, no
 * classes), so one machine module serves a Web Worker and a worker_threads Worker alike.
 *
 * page → worker: one `StartRequest` (the worker runs one machine, then ends; reset = a new worker).
 * worker → page: `WorkerEvent`s, `started` first, then `serial`/`stats` while it runs, and exactly
 * one `done` or `error` at the end.
 */
import type { ExitStatsSnapshot, StopReason } from 'qemu-lite/portable';

export const ACCELS = ['vmx', 'svm'] as const;
export type Accel = (typeof ACCELS)[number];

/** Bytes of guest RAM the page offers: 2 MiB … 1 GiB (qemu-lite's own floor; a tab's ceiling). */
export const MIN_RAM = 2 * 1024 * 1024;
export const MAX_RAM = 1024 * 1024 * 1024;

/** Cells of the page's own control block (Int32Array over a SharedArrayBuffer). */
export const PAGE_PAUSE = 0;
export const PAGE_CELLS = 2;

export interface StartRequest {
  type: 'start';
  accel: Accel;
  /**
   * x86emu's block compiler for the guest CPU (qemu-lite's `-accel vmx,jit=on|off`); absent: the
   * engine's default, the compiler, as under Node.
   */
  jit?: boolean;
  ramSize: number;
  /** What to boot: a multiboot ELF or a bzImage (chosen by what the image says it is). */
  kernel: { name: string; image: Uint8Array };
  initrd?: { name: string; image: Uint8Array };
  cmdline: string;
  /** QEMU's isa-debug-exit port (our guests end through it), or null for none. */
  debugExit: { iobase: number; iosize: number } | null;
  /** qemu-lite's control block (createSharedControl) and the clock's zero, shared with the page. */
  control: SharedArrayBuffer;
  epochMs: number;
  /** The page's cells (PAGE_PAUSE), shared. */
  page: SharedArrayBuffer;
  /** How often `stats` is posted while the guest runs, ms. */
  statsIntervalMs: number;
}

export interface LiveStats {
  /** Guest instructions the engine retired so far (the software engine counts each). */
  instructions: number;
  /** ms since the machine started, and ms of it spent paused. */
  elapsedMs: number;
  pausedMs: number;
  exits: ExitStatsSnapshot;
}

export type WorkerEvent =
  | {
      type: 'started';
      kickHandle: unknown;
      description: string;
      /** The memory guest RAM is in, at `ramOffset` (in the wasm arena: past its exchange area and TLB). */
      ram?: SharedArrayBuffer;
      ramOffset: number;
    }
  | { type: 'serial'; data: Uint8Array }
  | { type: 'stats'; stats: LiveStats }
  | { type: 'done'; stop: StopReason; stats: LiveStats; registers?: string }
  | { type: 'error'; name: string; message: string; registers?: string };

/**
 * Checks a start request as the worker receives it (anything may arrive on a message port);
 * returns the reason it is unusable, or undefined. The page builds requests with `startRequest`,
 * so a message this rejects is a bug, reported as a readable error, never a throw in the worker.
 */
export function checkStartRequest(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return 'not a message object';
  const r = m as Partial<StartRequest>;
  if (r.type !== 'start') return `unknown message type ${String(r.type)}`;
  if (!ACCELS.includes(r.accel as Accel))
    return `accel must be one of ${ACCELS.join(', ')}, not ${String(r.accel)}`;
  if (r.jit !== undefined && typeof r.jit !== 'boolean') return `jit must be a boolean, not ${String(r.jit)}`;
  if (!Number.isSafeInteger(r.ramSize) || (r.ramSize as number) < MIN_RAM || (r.ramSize as number) > MAX_RAM)
    return `ramSize must be an integer from ${MIN_RAM} to ${MAX_RAM}, not ${String(r.ramSize)}`;
  if ((r.ramSize as number) % 4096 !== 0) return `ramSize must be a multiple of 4 KiB, not ${r.ramSize}`;
  if (!isImage(r.kernel)) return 'kernel must be { name, image: Uint8Array } with a non-empty image';
  if (r.initrd !== undefined && !isImage(r.initrd)) return 'initrd must be { name, image: Uint8Array }';
  if (typeof r.cmdline !== 'string') return 'cmdline must be a string';
  if (r.debugExit !== null && !isPort(r.debugExit)) return 'debugExit must be { iobase, iosize } or null';
  if (!(r.control instanceof SharedArrayBuffer)) return 'control must be a SharedArrayBuffer';
  if (!(r.page instanceof SharedArrayBuffer) || r.page.byteLength < PAGE_CELLS * 4)
    return `page must be a SharedArrayBuffer of at least ${PAGE_CELLS * 4} bytes`;
  if (typeof r.epochMs !== 'number' || !Number.isFinite(r.epochMs)) return 'epochMs must be a finite number';
  if (typeof r.statsIntervalMs !== 'number' || !(r.statsIntervalMs >= 10))
    return 'statsIntervalMs must be a number ≥ 10';
  return undefined;
}

function isImage(x: unknown): boolean {
  const i = x as { name?: unknown; image?: unknown } | undefined;
  return (
    typeof i === 'object' &&
    i !== null &&
    typeof i.name === 'string' &&
    i.image instanceof Uint8Array &&
    i.image.length > 0
  );
}

function isPort(x: unknown): boolean {
  const p = x as { iobase?: unknown; iosize?: unknown } | undefined;
  return (
    typeof p === 'object' &&
    p !== null &&
    Number.isInteger(p.iobase) &&
    (p.iobase as number) >= 0 &&
    (p.iobase as number) <= 0xffff &&
    [1, 2, 4].includes(p.iosize as number)
  );
}

/** MIPS between two `LiveStats` (instructions per µs of unpaused time); 0 with no time between. */
export function mipsBetween(a: LiveStats, b: LiveStats): number {
  const ms = b.elapsedMs - b.pausedMs - (a.elapsedMs - a.pausedMs);
  return ms > 0 ? (b.instructions - a.instructions) / ms / 1000 : 0;
}
