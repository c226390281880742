/** What the command prints about how a guest ended, beside its exit status. */
import { exitReasonName } from '@kvm/core';
import type { GuestResult } from '../run-guest.js';

/** The stderr message for an ending that needs one (an engine failure, a signal), else undefined. */
export function describeEnding(result: Pick<GuestResult, 'exitReason' | 'registers'>): string | undefined {
  const stop = result.exitReason;
  if (stop.kind === 'failure') {
    const reason = stop.exitReason >= 0 ? `${exitReasonName(stop.exitReason)}: ` : '';
    return `qemu-lite: engine failure: ${reason}${stop.detail}${result.registers ? `\n${result.registers}` : ''}`;
  }
  if (stop.kind === 'quit' && stop.cause === 'signal') return 'qemu-lite: terminating on signal';
  return undefined;
}
