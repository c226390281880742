/**
 * The APs' threads of a `-smp` machine on an engine whose KVM_RUN blocks its thread (the host
 * engine): one worker per AP, as QEMU and kvmtool run a thread per vCPU. vCPU 0 stays on the
 * machine's thread with the devices; an AP's exit reaches them through its mailbox
 * (`vcpu/ap-mailbox.ts`). `stop` ends every AP thread, on every way the machine stops (the vCPU
 * loop's end, a reboot, an error): quit flag, kick out of KVM_RUN, wait for the thread to say
 * it is done, so that no thread is in KVM_RUN on a vCPU whose VM is closed.
 */
import { Worker } from 'node:worker_threads';
import { errnoName, KvmRunView, type Vcpu, type VcpuKickHandle } from '@kvm/core';
import type { ApWorkerInput } from './ap-worker.js';
import type { ExitStats } from './stats.js';
import {
  AP_DONE,
  AP_ERRNO,
  AP_HOLD,
  AP_PARKED,
  AP_QUIT,
  AP_REASON,
  AP_REQ,
  AP_REQ_EXIT,
  AP_REQ_FAILED,
  AP_REQ_NONE,
  type ApMailbox,
  createApMailbox,
} from './vcpu/ap-mailbox.js';
import {
  EXIT_CONTINUE,
  EXIT_STOP,
  type ExitAction,
  type ExitContext,
  handleExit,
} from './vcpu/exit-handler.js';
import type { VcpuThreads } from './vcpu/vcpu-threads.js';

/** How long `stop` waits for one AP thread to leave KVM_RUN before giving up on it. */
const STOP_WAIT_MS = 5000;

/** KVM_EXIT_DEBUG (<linux/kvm.h>). */
const KVM_EXIT_DEBUG = 4;

function apWorkerUrl(): URL {
  const here = new URL(import.meta.url);
  // From source (vitest), run the built worker: Node cannot start a .ts worker by itself.
  return here.pathname.endsWith('.ts')
    ? new URL('../../dist/ap-worker.js', here)
    : new URL('./ap-worker.js', here);
}

interface Ap {
  index: number;
  vcpu: Vcpu;
  mailbox: ApMailbox;
  view: KvmRunView;
  kick: VcpuKickHandle;
  worker?: Worker;
}

export class ApThreads implements VcpuThreads {
  private readonly aps: Ap[];
  private started = false;
  private stopped = false;

  /**
   * `vcpus`: the machine's vCPUs, vCPU 0 first (it stays on this thread). `kick`: the engine's
   * kick, callable from any thread.
   */
  constructor(
    vcpus: readonly Vcpu[],
    private readonly kick: (handle: VcpuKickHandle) => void,
  ) {
    this.aps = vcpus.slice(1).map((vcpu, i) => {
      const mailbox = createApMailbox(vcpu.kvmRun.bytes.byteLength);
      return { index: i + 1, vcpu, mailbox, view: new KvmRunView(mailbox.data), kick: vcpu.kickHandle() };
    });
    this.bspKick = vcpus[0].kickHandle();
  }

  private readonly bspKick: VcpuKickHandle;

  /** Starts a thread per AP (once). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const ap of this.aps) {
      // The host engine's vCPU is a KvmVcpu over its fd, which every thread of the process may use.
      const fd = (ap.vcpu as unknown as { fd?: number }).fd;
      if (typeof fd !== 'number') throw new Error(`vCPU ${ap.index} has no file descriptor for its thread`);
      const input: ApWorkerInput = {
        fd,
        runSize: ap.vcpu.kvmRun.bytes.byteLength,
        sab: ap.mailbox.sab,
        bspKick: this.bspKick,
      };
      ap.worker = new Worker(apWorkerUrl(), { workerData: input });
      // An error escaping the AP's thread (it cannot map kvm_run, …) is reported as its failure.
      ap.worker.on('error', () => {
        Atomics.store(ap.mailbox.cells, AP_ERRNO, -1);
        Atomics.store(ap.mailbox.cells, AP_REQ, AP_REQ_FAILED);
        Atomics.store(ap.mailbox.cells, AP_DONE, 1);
      });
    }
  }

  /**
   * Handles what the APs posted: each exit through `handleExit` against the AP's copy of
   * kvm_run, then lets the AP run on. EXIT_STOP once the machine stops (an AP's KVM_RUN failed,
   * or its exit stopped the machine: debug-exit, shutdown, power-off).
   */
  service(ctx: ExitContext, stats: ExitStats, debugExit?: (index: number) => void): ExitAction {
    for (const ap of this.aps) {
      const cells = ap.mailbox.cells;
      const req = Atomics.load(cells, AP_REQ);
      if (req === AP_REQ_NONE) continue;
      if (req === AP_REQ_FAILED) {
        const errno = Atomics.load(cells, AP_ERRNO);
        ctx.stop({
          kind: 'failure',
          exitReason: -1,
          detail: `vCPU ${ap.index}: KVM_RUN failed (${errno > 0 ? errnoName(errno) : 'its thread failed'})`,
        });
        Atomics.store(cells, AP_REQ, AP_REQ_NONE);
        return EXIT_STOP;
      }
      if (req !== AP_REQ_EXIT) continue;
      const reason = Atomics.load(cells, AP_REASON);
      if (reason === KVM_EXIT_DEBUG && debugExit) {
        // The debugger's exit: kvm_run.debug is read from this thread's mapping of the AP's
        // kvm_run (the same page), while the AP waits here, out of KVM_RUN.
        debugExit(ap.index);
        Atomics.store(cells, AP_REQ, AP_REQ_NONE);
        Atomics.notify(cells, AP_REQ);
        continue;
      }
      const t0 = process.hrtime.bigint();
      const action = handleExit(reason, ap.view, ctx);
      stats.count(reason, Number(process.hrtime.bigint() - t0));
      Atomics.store(cells, AP_REQ, AP_REQ_NONE);
      Atomics.notify(cells, AP_REQ);
      if (action === EXIT_STOP) return EXIT_STOP;
    }
    return EXIT_CONTINUE;
  }

  hold(index: number): boolean {
    const ap = this.aps[index - 1];
    if (ap === undefined) return false;
    const cells = ap.mailbox.cells;
    Atomics.store(cells, AP_HOLD, 1);
    // Not started yet, or done: its vCPU is in no KVM_RUN.
    if (ap.worker === undefined || Atomics.load(cells, AP_DONE) !== 0) return true;
    const out = () =>
      Atomics.load(cells, AP_PARKED) !== 0 ||
      Atomics.load(cells, AP_REQ) !== AP_REQ_NONE ||
      Atomics.load(cells, AP_DONE) !== 0;
    const until = Date.now() + STOP_WAIT_MS;
    while (!out() && Date.now() < until) {
      // Kicked again every few milliseconds: a kick between its hold check and KVM_RUN is kept by
      // immediate_exit, and a second one costs nothing.
      try {
        this.kick(ap.kick);
      } catch {
        return false;
      }
      Atomics.wait(cells, AP_PARKED, 0, 5);
    }
    return out();
  }

  release(index: number): void {
    const ap = this.aps[index - 1];
    if (ap === undefined) return;
    Atomics.store(ap.mailbox.cells, AP_HOLD, 0);
    Atomics.notify(ap.mailbox.cells, AP_HOLD);
  }

  /** Ends every AP thread and waits for each to leave KVM_RUN (idempotent). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const ap of this.aps) {
      Atomics.store(ap.mailbox.cells, AP_QUIT, 1);
      Atomics.notify(ap.mailbox.cells, AP_REQ);
      try {
        this.kick(ap.kick);
      } catch {
        // its vCPU is gone already
      }
    }
    for (const ap of this.aps) {
      if (ap.worker === undefined) continue;
      const cells = ap.mailbox.cells;
      const until = Date.now() + STOP_WAIT_MS;
      while (Atomics.load(cells, AP_DONE) === 0 && Date.now() < until) {
        Atomics.wait(cells, AP_DONE, 0, 20);
        // A kick that landed between the AP's quit check and its KVM_RUN is kept by
        // immediate_exit; kicking again costs nothing and covers any other window.
        try {
          this.kick(ap.kick);
        } catch {
          break;
        }
      }
      void ap.worker.terminate();
    }
  }
}
