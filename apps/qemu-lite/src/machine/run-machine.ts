/**
 * A machine's life: run its vCPU until it stops; on a guest reset, reboot it (`Machine.reboot`:
 * same VM, vCPU and RAM) and run again, unless -no-reboot (`config.noReboot`) or the caller's
 * reboot cap says that the reset ends the run. The worker runs this; tests run it in-process.
 */
import type { ExitStats } from '../stats.js';
import type { StopReason } from '../vcpu/exit-handler.js';
import type { SharedControl } from '../vcpu/shared.js';
import { type LoopHooks, runVcpu } from '../vcpu/vcpu-loop.js';
import type { Machine } from './machine.js';

export interface RunMachineOptions {
  /** Hooks for each run of the vCPU loop (the machine may change on a rebuild). */
  loopHooks(machine: Machine): LoopHooks;
  /** After a reset was handled, with the machine that runs next and the reset that caused it. */
  onReboot?(machine: Machine, stop: StopReason): void;
  /** A reset after this many reboots ends the run, as with -no-reboot (default: no cap). */
  maxReboots?: number;
}

/** Runs `machine` until it stops for good; returns the machine at the end and why it stopped. */
export function runMachine(
  machine: Machine,
  control: SharedControl,
  stats: ExitStats,
  options: RunMachineOptions,
): { machine: Machine; stop: StopReason } {
  const maxReboots = options.maxReboots ?? Number.POSITIVE_INFINITY;
  for (;;) {
    const stop = runVcpu(machine, control, stats, options.loopHooks(machine));
    if (stop.kind !== 'reset') return { machine, stop };
    if (machine.config.noReboot || machine.reboots >= maxReboots) {
      // Where the guest was when it reset: the one line -no-reboot prints names it.
      let rip: string | undefined;
      try {
        rip = `0x${machine.vcpu.getRegs().rip.toString(16)}`;
      } catch {
        rip = undefined; // the engine cannot say; the ending is the same
      }
      return { machine, stop: rip === undefined ? stop : { ...stop, rip } };
    }
    machine = machine.reboot();
    options.onReboot?.(machine, stop);
  }
}
