/** What the command prints about how a guest ended, beside its exit status. */
import { exitReasonName } from '@kvm/core';
import type { GuestResult } from '../run-guest.js';
import { TRIPLE_FAULT_CAUSE } from '../vcpu/exit-handler.js';

/**
 * The stderr message for an ending that needs one (an engine failure, a signal), else undefined.
 * `accel`: the -accel the guest ran on, named when the engine lacks what the guest needs.
 * `signo`: the signal that stopped it, named as QEMU's `qemu_kill_report` names it.
 */
export function describeEnding(
  result: Pick<GuestResult, 'exitReason' | 'registers'>,
  accel?: string,
  signo?: number,
): string | undefined {
  const stop = result.exitReason;
  if (stop.kind === 'failure' && stop.unsupported) {
    return `qemu-lite: ${accel !== undefined ? `-accel ${accel}: ` : ''}${stop.detail}`;
  }
  if (stop.kind === 'failure') {
    const reason = stop.exitReason >= 0 ? `${exitReasonName(stop.exitReason)}: ` : '';
    return `qemu-lite: engine failure: ${reason}${stop.detail}${result.registers ? `\n${result.registers}` : ''}`;
  }
  if (stop.kind === 'quit' && stop.cause === 'signal')
    return `qemu-lite: terminating on signal${signo !== undefined ? ` ${signo}` : ''}`;
  // A triple fault that ends the run (only -no-reboot does, on the command line) would
  // otherwise look like a clean power-off: say where the guest was (QEMU users need -d cpu_reset).
  if (stop.kind === 'reset' && stop.cause === TRIPLE_FAULT_CAUSE)
    return `qemu-lite: guest ${TRIPLE_FAULT_CAUSE} at RIP ${stop.rip ?? 'unknown'}; -no-reboot: exiting`;
  return undefined;
}
