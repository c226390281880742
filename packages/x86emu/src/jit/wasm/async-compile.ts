/**
 * `new WebAssembly.Module` off the vCPU thread: V8 charges a module 0.7–0.9 ms of CPU whatever it
 * holds (../README.md "When to compile on the engines: what a compile costs there"), on the thread
 * that asks, while generating and encoding it costs ~0.12 ms a region. With `JitTuning.asyncCompile`
 * the vCPU thread generates and encodes a module as before (it needs the decodes and the CPU), posts
 * the bytes to a compile worker (Node's `worker_threads`), and goes on interpreting; the worker
 * compiles them and posts the `WebAssembly.Module` back (a Module is structured-cloneable between
 * Node's threads: its compiled code is shared, not compiled again); the vCPU thread takes finished
 * modules without blocking (`receiveMessageOnPort`) when a counter in shared memory, which the
 * worker bumps after each reply, says one is there — a load and a compare per poll — then
 * instantiates and installs them (../jit.ts `Jit.receive`).
 *
 * One worker per thread that asks (each vCPU thread its own), made at the first compile, unref'd
 * (it keeps nothing alive: a power-off's exit ends it with the process); a `Jit` talks to it over a
 * channel of its own, closed by `Jit.close` or when the `Jit` is collected. Where there is no such
 * worker (a browser page, Node without `process.getBuiltinModule`, `--jitless`: no WebAssembly),
 * `compileQueue` says why and the compiler stays synchronous.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { WA } from './api.js';

/** What the worker answers for module `id`: the compiled module, or why V8 refused the bytes. */
export interface CompileReply {
  id: number;
  module: object | null;
  error: string | null;
}

/**
 * The worker's code (a CommonJS script: `eval: true` needs no file beside the bundle). A channel
 * port arrives with the shared counter; each request on it is compiled and answered on it, and the
 * counter bumped after the answer is queued (so that a poll that sees it finds the message).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ port, done }) => {
  const d = new Int32Array(done);
  port.on('message', ({ id, bytes }) => {
    let module = null;
    let error = null;
    try {
      module = new WebAssembly.Module(bytes);
    } catch (e) {
      error = e instanceof Error ? e.name + ': ' + e.message : String(e);
    }
    port.postMessage({ id, module, error });
    Atomics.add(d, 0, 1);
    Atomics.notify(d, 0);
  });
  port.on('close', () => port.removeAllListeners());
});
`;

type WorkerThreads = typeof import('node:worker_threads');

/** This thread's compile worker (undefined: not tried yet), and why there is none. */
let worker: Worker | null | undefined;
let workerThreads: WorkerThreads | null = null;
/** Why no compile worker can be made here (`compileQueue` returned null), or null. */
export let compileWorkerUnavailable: string | null = null;

function sharedWorker(): Worker | null {
  if (worker !== undefined) return worker;
  worker = null;
  if (WA === undefined) {
    compileWorkerUnavailable = 'no WebAssembly here';
    return null;
  }
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const get = p?.getBuiltinModule;
  if (typeof get !== 'function') {
    compileWorkerUnavailable = 'no worker_threads here (not Node, or Node before 20.16)';
    return null;
  }
  try {
    const wt = get.call(p, 'node:worker_threads') as WorkerThreads;
    // No inherited node flags (--cpu-prof and the like are the parent's), stdout and stderr its own.
    const w = new wt.Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    w.unref();
    w.on('error', () => {
      worker = null;
    });
    w.on('exit', () => {
      worker = null;
    });
    workerThreads = wt;
    worker = w;
  } catch (e) {
    compileWorkerUnavailable = e instanceof Error ? e.message : String(e);
  }
  return worker;
}

/** One `Jit`'s channel to the compile worker. */
export class CompileQueue {
  /** The shared counter: replies the worker has posted (`replies[0]`); the poll compares it with `taken`. */
  readonly replies: Int32Array;
  /** Replies taken (`take`). */
  taken = 0;
  /** Modules posted and not yet taken back. */
  inFlight = 0;
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    private readonly receive: WorkerThreads['receiveMessageOnPort'],
  ) {
    this.replies = new Int32Array(new SharedArrayBuffer(4));
  }

  /** Posts module `id`'s bytes (copied: the caller keeps them for a synchronous retry). */
  post(id: number, bytes: Uint8Array): void {
    this.inFlight++;
    this.port.postMessage({ id, bytes });
  }

  /** The next finished module, or undefined (nothing blocks). */
  take(): CompileReply | undefined {
    if (this.closed) return undefined;
    const m = this.receive(this.port);
    if (m === undefined) return undefined;
    this.taken++;
    this.inFlight--;
    return m.message as CompileReply;
  }

  /**
   * Blocks until a reply is there that `take` has not taken, or `ms` have passed (tests, and a
   * caller that must see every module in: `Jit.drainCompiles`); returns whether one is there.
   */
  wait(ms: number): boolean {
    const seen = this.taken;
    if (Atomics.load(this.replies, 0) !== seen) return true;
    Atomics.wait(this.replies, 0, seen, ms);
    return Atomics.load(this.replies, 0) !== seen;
  }

  /** Closes the channel (the worker forgets it); replies not taken are lost. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inFlight = 0;
    this.port.close();
  }
}

/**
 * A new channel to this thread's compile worker (made now if there is none yet), or null where no
 * worker can be had (`compileWorkerUnavailable` says why).
 */
export function compileQueue(): CompileQueue | null {
  const w = sharedWorker();
  const wt = workerThreads;
  if (w === null || wt === null) return null;
  const { port1, port2 } = new wt.MessageChannel();
  const q = new CompileQueue(port1, wt.receiveMessageOnPort);
  // Never listened to here (replies are taken by receiveMessageOnPort): it keeps nothing alive.
  port1.unref();
  w.postMessage({ port: port2, done: q.replies.buffer }, [port2]);
  return q;
}
