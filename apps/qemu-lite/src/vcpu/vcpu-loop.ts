/**
 * The vCPU thread's loop, an explicit state machine (Firecracker's vCPU states, reduced to what
 * one vCPU and no migration need):
 *
 *   RUNNING ──HLT exit──▶ HALTED ──interrupt pending──▶ RUNNING
 *      │                    │
 *      └──stop reason───────┴──▶ STOPPED
 *
 * Each turn of RUNNING: take terminal input into the UART, fire due timers, publish the next
 * timer deadline (the main thread kicks us out of KVM_RUN when it passes), inject an interrupt
 * the 2007 way when the PIC has one (KVM_INTERRUPT if `ready_for_interrupt_injection`, else
 * `request_interrupt_window` and inject on KVM_EXIT_IRQ_WINDOW_OPEN), then KVM_RUN and
 * `handleExit`. HALTED waits on the shared WAKE cell with a timeout at the next timer deadline:
 * no spinning. With the in-kernel irqchip the kernel does injection and HLT itself: a halted
 * vCPU sleeps inside KVM_RUN (the software engine too, opened with `haltBlocks`) until its own
 * timers wake it or the main thread kicks it at a device deadline or on input; the loop feeds
 * device lines (KVM_IRQ_LINE) and never enters HALTED.
 */
import { Errno, KVM_CAP_SOFT, KVM_EXIT, KVM_RUN_SOFT_NO_USER_WRITES, KvmError } from '@kvm/core';
import type { Machine } from '../machine/machine.js';
import { type ExitStats, STAT_KICK } from '../stats.js';
import { EXIT_HALT, EXIT_STOP, type ExitContext, handleExit, type StopReason } from './exit-handler.js';
import {
  DEADLINE_GEN,
  QUIT,
  QUIT_NONE,
  QUIT_SIGNAL,
  QUIT_TIMEOUT,
  ringEmpty,
  ringRead,
  type SharedControl,
  STATE,
  STATE_HALTED,
  STATE_IDLE,
  STATE_IN_RUN,
  WAKE,
} from './shared.js';
import { VcpuTurns } from './vcpu-turns.js';

export const VCPU_RUNNING = 0;
export const VCPU_HALTED = 1;
export const VCPU_STOPPED = 2;

export interface LoopHooks {
  /**
   * Called before each KVM_RUN (`running` true) and before waiting or stopping (false): write
   * buffered serial output. Before KVM_RUN a host may hold it a little longer (a write per exit
   * was one write syscall per byte the guest printed), and returns the clock time by which it
   * must be called again (the loop has the vCPU kicked then; +Infinity: nothing held); before a
   * wait it writes it all.
   */
  flush(running?: boolean): number;
  /** `-d int` log line, or undefined when off. */
  logInterrupt?: (vector: number) => void;
  /** `-d trace`: called after every exit, before it is handled. */
  traceExit?: (reason: number) => void;
  /** The debugger (gdb stub, monitor), when one is configured. */
  debug?: LoopDebugHooks;
}

/** What the vCPU loop asks of a debugger (`gdbstub/session.ts`). */
export interface LoopDebugHooks {
  /** Top of each turn: serve it; blocks while it holds the vCPU. false: go back to the quit check. */
  service(): boolean;
  /** KVM_EXIT_DEBUG (from its KVM_SET_GUEST_DEBUG) on vCPU `index`. */
  debugExit(index: number): void;
  /** Whether vCPU `index` sits out its turns (the debugger runs or steps others only). */
  holds(index: number): boolean;
  /**
   * Turns of the debugger's work so far (commands taken, time the vCPU was held), any of which may
   * have written guest RAM (gdb's memory writes and INT3s, a monitor command): a change makes the
   * next KVM_RUN check the code against memory. Absent: the loop never says RAM is unchanged.
   */
  readonly activity?: number;
}

/** KVM_EXIT_DEBUG (<linux/kvm.h>). */
const KVM_EXIT_DEBUG = 4;

function quitReason(code: number): StopReason {
  return {
    kind: 'quit',
    cause: code === QUIT_TIMEOUT ? 'timeout' : code === QUIT_SIGNAL ? 'signal' : 'user',
  };
}

/** Runs the machine's vCPU until it stops; returns why. */
export function runVcpu(
  machine: Machine,
  control: SharedControl,
  stats: ExitStats,
  hooks: LoopHooks,
): StopReason {
  const { pic, pit, hpet, serial, clock } = machine;
  const icount = (machine.config.icountShift ?? null) !== null;
  // The HPET's deadlines are host time only without -icount (else they are virtual nanoseconds,
  // and the HPET is polled between entries).
  const hpetOnHostClock = !icount;
  // Serial output may be held over a KVM_RUN only where a kick at a host-clock time does not
  // matter: an -icount run repeats exactly (the vCPUs' turns, the instructions retired), which a
  // kick landing at whatever instruction the host clock says would break.
  const holdSerial = !icount;
  let { vcpu, run } = machine;
  // -smp on an engine whose vCPUs share this thread: they take turns, one KVM_RUN each.
  const turns = new VcpuTurns(machine);
  const aps = machine.apThreads;
  aps?.start();
  const cells = control.cells;
  // An AP's KVM_EXIT_DEBUG (host engine, -smp) goes to the debugger with the AP's index.
  const apDebugExit = hooks.debug ? (index: number) => hooks.debug?.debugExit(index) : undefined;
  const ctx: ExitContext = {
    bus: machine.bus,
    mmioRead: (gpa, data) => machine.mmioRead(gpa, data),
    mmioWrite: (gpa, data) => machine.mmioWrite(gpa, data),
    stop: (reason) => machine.stop(reason),
    stopReason: () => machine.stopReason(),
  };
  let state = VCPU_RUNNING;
  let publishedDeadline = Number.NaN;
  /** Tells the main thread's timer service (run-guest.ts `timerService`) when to kick us next. */
  const publish = (deadline: number) => {
    if (deadline === publishedDeadline) return;
    publishedDeadline = deadline;
    stats.deadlines++;
    control.deadline[0] = deadline;
    Atomics.add(cells, DEADLINE_GEN, 1);
    Atomics.notify(cells, DEADLINE_GEN);
  };
  // KVM_CAP_SOFT_NO_USER_WRITES_HINT: the software engine checks its decoded and compiled code
  // against memory at every KVM_RUN, since userspace may have written guest RAM; 41,000 of Debian's
  // 42,000 KVM_RUNs follow a console byte, which wrote none (6 code-page compares and the wasm jump
  // cache voided each, ~1.5 % of the boot). The hint is given only where every writer of guest RAM
  // in this VMM runs in this loop as an exit's handler, and says so by its port (IoBus
  // `writesNoGuestRam`), or is the debugger, which counts its work (`activity`: gdb's memory
  // writes and INT3s, the monitor): one vCPU on this thread, no device polled for outside input (a
  // NIC's or console's poll DMAs into RAM), no AP threads. Anything else (an MMIO exit, a device
  // that may DMA, a reset, a debug exit) makes the next KVM_RUN check.
  const hintable =
    machine.vm.checkExtension?.(KVM_CAP_SOFT.NO_USER_WRITES_HINT) === 1 &&
    !turns.shared &&
    !aps &&
    (!hooks.debug || hooks.debug.activity !== undefined) &&
    (machine.pci?.pollers.length ?? 0) === 0;
  // Whether userspace may have written guest RAM since the last KVM_RUN returned (the loaders have).
  let userWrites = true;

  while (state !== VCPU_STOPPED) {
    const quit = Atomics.load(cells, QUIT);
    if (quit !== QUIT_NONE) {
      machine.stop(quitReason(quit));
      break;
    }
    // Exits the AP threads (host engine, -smp) handed over: handled here, with the devices.
    if (aps?.service(ctx, stats, apDebugExit) === EXIT_STOP) break;
    const debugActivity = hooks.debug?.activity;
    const served = hooks.debug?.service();
    if (hooks.debug?.activity !== debugActivity) userWrites = true;
    if (served === false) {
      // A monitor command stopped the machine (system_reset), or a quit is pending.
      if (machine.stopReason() !== undefined) break;
      continue;
    }
    // Terminal input, as much as the receive FIFO takes now; the rest waits in the ring.
    while (serial.canReceive()) {
      const byte = ringRead(control);
      if (byte < 0) break;
      serial.receive(byte);
    }
    // Frames a -netdev socket put in a NIC's ring (the main thread kicked us for them).
    machine.pci?.poll();
    let now = clock();
    let timerDeadline = Number.POSITIVE_INFINITY;
    if (pit || hpet) {
      // The userspace timers fire what is due; the main thread kicks this one at the next edge.
      pit?.poll(now);
      hpet?.poll();
      timerDeadline = Math.min(
        pit?.nextDeadline() ?? Number.POSITIVE_INFINITY,
        (hpetOnHostClock ? hpet?.nextDeadline() : undefined) ?? Number.POSITIVE_INFINITY,
      );
    }

    if (state === VCPU_HALTED) {
      // Only an interrupt the guest accepts (IF = 1 when it halted) ends HLT: with IF = 0 the
      // CPU sleeps until NMI or INIT, which this machine never sends (SDM Vol. 2A, HLT).
      if (!pic?.hasInterrupt() || !run.ifFlag) {
        hooks.flush();
        publish(timerDeadline);
        // Wait for input, a quit request or the next timer edge. WAKE is read before the
        // checks above could miss a notification: compare-and-wait on the value seen now.
        const seen = Atomics.load(cells, WAKE);
        Atomics.store(cells, STATE, STATE_HALTED);
        const waitMs =
          timerDeadline === Number.POSITIVE_INFINITY ? 1000 : Math.max(0, (timerDeadline - now) / 1e6);
        if (ringEmpty(control) && Atomics.load(cells, QUIT) === QUIT_NONE)
          Atomics.wait(cells, WAKE, seen, waitMs);
        Atomics.store(cells, STATE, STATE_IDLE);
        stats.haltedNs += clock() - now;
        continue;
      }
      state = VCPU_RUNNING;
    }

    if (pic) {
      if (pic.hasInterrupt()) {
        if (run.readyForInterruptInjection) {
          const vector = pic.acknowledge();
          vcpu.interrupt(vector);
          hooks.logInterrupt?.(vector);
          // Ask for the next window right away if more is pending.
          run.requestInterruptWindow = pic.hasInterrupt() ? 1 : 0;
        } else {
          run.requestInterruptWindow = 1;
        }
      } else {
        run.requestInterruptWindow = 0;
      }
    }

    // Serial output held over this KVM_RUN is due by `held`: a guest that halts in the kernel (an
    // in-kernel irqchip) does not come back by itself, so the main thread kicks it out then. One
    // deadline a turn: publishing the timer's first and then this one notified the main thread
    // twice at every exit while output was held (~1 % of the vCPU thread in Debian's boot).
    const held = hooks.flush(holdSerial);
    publish(Math.min(timerDeadline, held));
    if (turns.shared) {
      if (hooks.debug?.holds(turns.current)) {
        // gdb resumed other vCPUs only (vCont with per-thread actions): this one stays put.
        turns.skip();
        continue;
      }
      vcpu = machine.vcpus[turns.current];
      run = machine.runs[turns.current];
    }
    const index = turns.shared ? turns.current : 0;
    Atomics.store(cells, STATE, STATE_IN_RUN);
    const entered = clock();
    let reason: number;
    if (hintable && !userWrites) run.softRunFlags = KVM_RUN_SOFT_NO_USER_WRITES;
    userWrites = false;
    try {
      reason = vcpu.run();
    } catch (error) {
      // EAGAIN: an AP took INIT/SIPI in KVM_RUN (`kvm_arch_vcpu_ioctl_run` on an UNINITIALIZED vCPU).
      const again = error instanceof KvmError && error.errno === Errno.EAGAIN && machine.vcpus.length > 1;
      if (!again && (!(error instanceof KvmError) || error.errno !== Errno.EINTR)) {
        Atomics.store(cells, STATE, STATE_IDLE);
        throw error;
      }
      // A kick (a device deadline, input, a quit request) or the engine's instruction budget.
      reason = -1;
    }
    Atomics.store(cells, STATE, STATE_IDLE);
    now = clock();
    stats.guestNs += now - entered;

    if (turns.shared && turns.next(reason < 0)) {
      // Every vCPU is halted or waiting for INIT/SIPI: sleep until input, a quit or a
      // millisecond passes (their timers are the engine's, which the next turn checks).
      hooks.flush();
      const seen = Atomics.load(cells, WAKE);
      Atomics.store(cells, STATE, STATE_HALTED);
      if (ringEmpty(control) && Atomics.load(cells, QUIT) === QUIT_NONE) Atomics.wait(cells, WAKE, seen, 1);
      Atomics.store(cells, STATE, STATE_IDLE);
      stats.haltedNs += clock() - now;
    }
    if (reason < 0) {
      stats.count(STAT_KICK, clock() - now);
      continue;
    }
    // The exit's handler may write guest RAM unless it is port I/O to a device that never does.
    if (reason !== KVM_EXIT.IO || !machine.bus.writesNoGuestRam(run.io.port)) userWrites = true;
    hooks.traceExit?.(reason);
    if (reason === KVM_EXIT_DEBUG && hooks.debug) {
      hooks.debug.debugExit(index);
      stats.count(reason, clock() - now);
      continue;
    }
    const action = handleExit(reason, run, ctx);
    stats.count(reason, clock() - now);
    if (action === EXIT_STOP) state = VCPU_STOPPED;
    else if (action === EXIT_HALT) state = pic ? VCPU_HALTED : VCPU_RUNNING;
  }
  hooks.flush();
  aps?.stop();
  return machine.stopReason() ?? { kind: 'failure', exitReason: -1, detail: 'stopped without a reason' };
}
