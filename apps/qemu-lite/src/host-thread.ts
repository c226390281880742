/**
 * The vCPU thread as the host sees it (Linux): its thread id, and its place before V8's
 * background threads.
 *
 * Priority. The software engines compile hot guest code to WebAssembly, and V8 optimises those
 * functions (and our own JavaScript) on its platform's worker threads, four by default: about
 * 5 CPU s beside the vCPU thread's 7 in Debian's boot to its shell. On a machine with two cores
 * those five runnable threads share two, and the vCPU thread, whose time is the guest's, spent
 * about 1.3 s of an 8.5 s boot waiting for a core (`/proc` thread times: wall time minus the vCPU
 * thread's CPU time, 1.3–1.7 s; 0.3 s with `node --v8-pool-size=1`). So the vCPU thread lowers
 * the priority of every other thread of the process that exists when it starts (V8's workers,
 * libuv's pool) by `BACKGROUND_NICE` nice levels: the scheduler then gives it a core while they
 * wait, and on a machine with cores to spare nothing changes. The main thread (the timer service,
 * the terminal) keeps its priority, and so do threads made later (AP vCPU threads, a compile
 * worker).
 *
 * Raising a thread's nice value needs no privilege; a thread already at a higher nice, or a host
 * without per-thread priorities under `/proc`, is left as it is.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { threadId } from 'node:worker_threads';

/**
 * The calling thread's host thread id (Linux: gettid(), what QEMU's `info cpus` prints as
 * thread_id and `top -H` lists); elsewhere Node's worker thread id.
 */
export function hostThreadId(): number {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return threadId;
  }
}

/** Nice levels added to the background threads (CFS weights 1024 against 110: ~9:1 for a core). */
export const BACKGROUND_NICE = 10;
/** The largest nice value (lowest priority). */
const NICE_MAX = 19;

/**
 * Lowers the priority of the process's threads other than the calling one and the main thread
 * (Linux: `setpriority(PRIO_PROCESS, tid)` sets one thread's). Returns the thread ids changed;
 * [] where there is no `/proc/thread-self` (not Linux) or nothing could be changed.
 */
export function yieldBackgroundThreads(by = BACKGROUND_NICE): number[] {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return [];
  }
  const self = hostThreadId();
  const changed: number[] = [];
  for (const t of tids) {
    const tid = Number(t);
    if (tid === self || tid === process.pid) continue;
    try {
      const nice = getPriority(tid);
      const to = Math.min(NICE_MAX, nice + by);
      if (to === nice) continue;
      setPriority(tid, to);
      changed.push(tid);
    } catch {
      // Gone meanwhile, or not ours to change: nothing to do.
    }
  }
  return changed;
}
