/**
 * What the vCPU loop asks of the threads that run a `-smp` machine's APs where each vCPU has a
 * thread of its own (the host engine: `src/ap-threads.ts`, Node's workers). The machine gets
 * them from its hooks, so this directory stays free of Node's modules (it is portable).
 */
import type { ExitStats } from '../stats.js';
import type { ExitAction, ExitContext } from './exit-handler.js';

export interface VcpuThreads {
  /** Starts a thread per AP (once). */
  start(): void;
  /**
   * Handles the exits the APs handed over (`handleExit` against each AP's copy of kvm_run;
   * KVM_EXIT_DEBUG to `debugExit` with the vCPU's index, when given); EXIT_STOP once the machine
   * stops (an AP's KVM_RUN failed, or its exit stopped the machine).
   */
  service(ctx: ExitContext, stats: ExitStats, debugExit?: (index: number) => void): ExitAction;
  /**
   * The debugger holds AP `index` (1 …): its thread leaves KVM_RUN and stays out until
   * `release`. Returns once it is out (or has an exit posted, also out of KVM_RUN); false if it
   * did not get out in time, when its vCPU must not be touched.
   */
  hold(index: number): boolean;
  /** Lets a held AP run again. */
  release(index: number): void;
  /** Ends every AP thread and waits for each to leave KVM_RUN (idempotent). */
  stop(): void;
}
