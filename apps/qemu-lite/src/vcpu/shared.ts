/**
 * The memory the main thread and the machine's worker share (one SharedArrayBuffer), and the
 * clock both read.
 *
 * Control cells (Int32Array):
 * - STATE:     what the vCPU thread is doing (IN_RUN while inside KVM_RUN), so the main thread
 *              kicks only a vCPU that is running guest code.
 * - WAKE:      bumped (and notified) by the main thread whenever something arrives for the
 *              machine (terminal input, a quit request); the vCPU waits on it while halted.
 * - DEADLINE_GEN: bumped (and notified) by the vCPU thread whenever it publishes a new timer
 *              deadline; the main thread's timer service waits on it.
 * - QUIT:      nonzero asks the machine to stop (Ctrl-A x, a signal, a timeout).
 * - RX_HEAD/RX_TAIL: the terminal input ring (single producer: main; single consumer: vCPU).
 * - DEBUG_GEN: bumped by the main thread after it posts on the debug channel (gdb, monitor).
 * Float64 cell DEADLINE_NS: when the next device timer is due, ns on the shared clock (or +∞).
 */

export const STATE = 0;
export const WAKE = 1;
export const DEADLINE_GEN = 2;
export const QUIT = 3;
export const RX_HEAD = 4;
export const RX_TAIL = 5;
export const DEBUG_GEN = 6;
const INT_CELLS = 8;

export const STATE_IDLE = 0;
export const STATE_IN_RUN = 1;
export const STATE_HALTED = 2;
export const STATE_DONE = 3;

/** QUIT values: why the main thread asks the machine to stop. */
export const QUIT_NONE = 0;
export const QUIT_USER = 1;
export const QUIT_TIMEOUT = 2;
export const QUIT_SIGNAL = 3;

/** Bytes of terminal input the ring holds (a paste larger than this waits for the guest). */
export const RX_RING_SIZE = 4096;

export interface SharedControl {
  readonly sab: SharedArrayBuffer;
  readonly cells: Int32Array;
  readonly deadline: Float64Array;
  readonly ring: Uint8Array;
  /** `performance.timeOrigin + performance.now()` (ms) at the start: the shared clock's zero. */
  readonly epochMs: number;
}

export function createSharedControl(): SharedControl {
  const sab = new SharedArrayBuffer(INT_CELLS * 4 + 8 + RX_RING_SIZE);
  const control = openSharedControl(sab, performance.timeOrigin + performance.now());
  control.deadline[0] = Number.POSITIVE_INFINITY;
  return control;
}

export function openSharedControl(sab: SharedArrayBuffer, epochMs: number): SharedControl {
  return {
    sab,
    cells: new Int32Array(sab, 0, INT_CELLS),
    deadline: new Float64Array(sab, INT_CELLS * 4, 1),
    ring: new Uint8Array(sab, INT_CELLS * 4 + 8, RX_RING_SIZE),
    epochMs,
  };
}

/** A clock in ns since `epochMs`, the same in every thread of the process. */
export function sharedClock(epochMs: number): () => number {
  return () => (performance.timeOrigin + performance.now() - epochMs) * 1e6;
}

/** Producer side: appends the bytes that fit; returns how many were taken. */
export function ringWrite(c: SharedControl, bytes: Uint8Array): number {
  const head = Atomics.load(c.cells, RX_HEAD);
  let tail = Atomics.load(c.cells, RX_TAIL);
  let n = 0;
  while (n < bytes.length && tail - head < RX_RING_SIZE) {
    c.ring[tail % RX_RING_SIZE] = bytes[n++];
    tail++;
  }
  Atomics.store(c.cells, RX_TAIL, tail);
  return n;
}

/** Consumer side: the next byte, or -1 when empty. */
export function ringRead(c: SharedControl): number {
  const head = Atomics.load(c.cells, RX_HEAD);
  if (head === Atomics.load(c.cells, RX_TAIL)) return -1;
  const byte = c.ring[head % RX_RING_SIZE];
  Atomics.store(c.cells, RX_HEAD, head + 1);
  return byte;
}

/** Whether the input ring is empty. */
export function ringEmpty(c: SharedControl): boolean {
  return Atomics.load(c.cells, RX_HEAD) === Atomics.load(c.cells, RX_TAIL);
}

/** Wakes the machine: something arrived. */
export function wakeMachine(c: SharedControl): void {
  Atomics.add(c.cells, WAKE, 1);
  Atomics.notify(c.cells, WAKE);
}
