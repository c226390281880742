/**
 * A ring of Ethernet frames in shared memory, from the main thread (where a netdev's sockets
 * live) to the machine's thread (where the NIC is): one producer, one consumer, no locks. Each
 * record is a 16-bit little-endian length and the frame; head and tail count bytes, free-running
 * 32-bit integers (wrapping), taken modulo the power-of-two size by masking.
 * A frame that does not fit is dropped (counted), as a NIC drops on a full FIFO: the guest's
 * protocols retransmit.
 */

const HEAD = 0;
const TAIL = 1;
const DROPPED = 2;
const HEADER_BYTES = 16;
/** Room for ~170 full-sized frames. */
export const FRAME_RING_BYTES = 256 * 1024;
/** The largest frame a record holds (a 16-bit length). */
export const FRAME_RING_MAX_FRAME = 0xffff;

export interface FrameRing {
  readonly sab: SharedArrayBuffer;
  readonly cells: Int32Array;
  readonly data: Uint8Array;
}

export function createFrameRing(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + FRAME_RING_BYTES);
}

export function openFrameRing(sab: SharedArrayBuffer): FrameRing {
  return { sab, cells: new Int32Array(sab, 0, 4), data: new Uint8Array(sab, HEADER_BYTES) };
}

/** Producer: appends `frame`; false (and counted) when it does not fit. */
export function frameRingWrite(r: FrameRing, frame: Uint8Array): boolean {
  const size = r.data.length;
  const mask = size - 1;
  const head = Atomics.load(r.cells, HEAD);
  const tail = Atomics.load(r.cells, TAIL);
  if (frame.length > FRAME_RING_MAX_FRAME || size - ((tail - head) | 0) < 2 + frame.length) {
    Atomics.add(r.cells, DROPPED, 1);
    return false;
  }
  r.data[tail & mask] = frame.length & 0xff;
  r.data[(tail + 1) & mask] = frame.length >>> 8;
  const at = (tail + 2) & mask;
  const first = Math.min(frame.length, size - at);
  r.data.set(frame.subarray(0, first), at);
  r.data.set(frame.subarray(first), 0);
  // The record before the tail that publishes it (Atomics.store is sequentially consistent).
  Atomics.store(r.cells, TAIL, (tail + 2 + frame.length) | 0);
  return true;
}

/** Consumer: the next frame (a copy), or undefined when the ring is empty. */
export function frameRingRead(r: FrameRing): Uint8Array | undefined {
  const size = r.data.length;
  const mask = size - 1;
  const head = Atomics.load(r.cells, HEAD);
  if (head === Atomics.load(r.cells, TAIL)) return undefined;
  const length = r.data[head & mask] | (r.data[(head + 1) & mask] << 8);
  const at = (head + 2) & mask;
  const frame = new Uint8Array(length);
  const first = Math.min(length, size - at);
  frame.set(r.data.subarray(at, at + first), 0);
  frame.set(r.data.subarray(0, length - first), first);
  Atomics.store(r.cells, HEAD, (head + 2 + length) | 0);
  return frame;
}

/** Frames the producer dropped because the ring was full. */
export function frameRingDropped(r: FrameRing): number {
  return Atomics.load(r.cells, DROPPED);
}
