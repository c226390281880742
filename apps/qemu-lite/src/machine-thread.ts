/**
 * The machine's thread (worker.ts) and how it is started. Node needs ~0.25 s to bring up a worker
 * and load qemu-lite into it (the engines' ~1.7 MB of JavaScript parsed and evaluated again in the
 * new isolate), time in which the guest cannot run. The command starts the thread first thing
 * (`prestartMachineThread`, cli.ts), so that this load runs on the other core while the main
 * thread loads the same modules, parses the options and reads the kernel; `runGuest` then hands
 * the thread its machine (`machineThread`). The input is a message rather than `workerData` for
 * that reason, and so that the images the main thread read go over by transfer instead of a copy
 * (Debian's vmlinux is 66 MB: a copy on each side, ~50 ms of the worker's start).
 *
 * This module imports nothing of qemu-lite at run time (types only): cli.ts loads it before the rest.
 */
import { type TransferListItem, Worker } from 'node:worker_threads';
import type { WorkerInput } from './worker.js';

/** A thread started before its machine was known, until `machineThread` takes it. */
let prestarted: { worker: Worker; gone: boolean } | undefined;

function workerUrl(): URL {
  const here = new URL(import.meta.url);
  // From source (vitest), run the built worker: Node cannot start a .ts worker by itself.
  return here.pathname.endsWith('.ts') ? new URL('../dist/worker.js', here) : new URL('./worker.js', here);
}

/**
 * Node's flags for the vCPU worker: the caller's, less those that describe the main script's
 * source (`-e`/`--eval`, `-p`/`--print`, `--input-type`). A worker inherits `process.execArgv`, and
 * Node refuses `--input-type` for a worker started from a file, so `runGuest` called from
 * `node --input-type=module -e …` failed inside the worker.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print' || a === '--input-type') {
      i++; // the flag's value (the script, or the input type) goes with it
      continue;
    }
    if (a.startsWith('--eval=') || a.startsWith('--print=') || a.startsWith('--input-type=')) continue;
    out.push(a);
  }
  return out;
}

/** The flags an ERR_WORKER_INVALID_EXEC_ARGV names ("…invalid execArgv flags: --a, --b"). */
function refusedExecArgv(error: unknown): Set<string> {
  const e = error as { code?: unknown; message?: unknown };
  if (e?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || typeof e.message !== 'string') return new Set();
  const at = e.message.indexOf(': ');
  return new Set(at < 0 ? [] : e.message.slice(at + 2).split(', '));
}

/**
 * A new machine thread, with `workerExecArgv()`. Node refuses V8's flags in a worker's execArgv
 * (ERR_WORKER_INVALID_EXEC_ARGV: `node --trace-gc cli.js …` failed), and needs none there: V8's
 * flags are the process's, so the worker's isolate has them already. The refused ones, which the
 * error names, are dropped and the worker started again.
 */
function startWorker(): Worker {
  let execArgv = workerExecArgv();
  for (;;) {
    try {
      return new Worker(workerUrl(), { execArgv });
    } catch (error) {
      const refused = refusedExecArgv(error);
      const kept = execArgv.filter((a) => !refused.has(a));
      if (kept.length === execArgv.length) throw error;
      execArgv = kept;
    }
  }
}

/**
 * Starts the machine's thread before its machine is known; the next `machineThread` gives it its
 * input. Until then the thread does not keep the process alive, and a failure to start it (or its
 * death meanwhile) only means `machineThread` starts another, which reports the error in the usual
 * way. Does nothing if one is already waiting.
 */
export function prestartMachineThread(): void {
  if (prestarted !== undefined) return;
  let worker: Worker;
  try {
    worker = startWorker();
  } catch {
    return;
  }
  const entry = { worker, gone: false };
  worker.unref();
  // Listened to so that an error before `machineThread` is not an uncaught one; the thread taken
  // later has runGuest's own listeners.
  worker.once('error', () => {
    entry.gone = true;
  });
  worker.once('exit', () => {
    entry.gone = true;
  });
  prestarted = entry;
}

/**
 * The thread that runs the machine of `input`, given it now: the
 * prestarted one if it is still there, else a new one. `transferList`: what goes over by transfer
 * (the debug channel's port, the images read for it); the caller must not use those afterwards.
 */
export function machineThread(input: WorkerInput, transferList: readonly TransferListItem[]): Worker {
  const early = prestarted;
  prestarted = undefined;
  const worker = early !== undefined && !early.gone ? early.worker : startWorker();
  worker.ref();
  worker.postMessage(input, [...transferList]);
  return worker;
}
