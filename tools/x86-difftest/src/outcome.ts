/** What one side did with one case: how it stopped, its final state and memory, its port I/O. */
import type { MachineState } from './machine-state.js';

/**
 * - `hlt`: stopped at a HLT (the terminator, an exception stub, or a HLT inside the case)
 * - `shutdown`: triple fault
 * - `runaway`: did not stop within the budget (host: the watchdog's time limit)
 * - `unsupported`: the host could not run it (KVM internal error / failed entry): not compared
 * - `crash`: x86emu threw a JavaScript exception (always a mismatch)
 * - `budget`: x86emu went on far past `run(budget)` inside one instruction and was aborted
 *   (always a mismatch: the interpreter must stop within its budget)
 */
export type StopKind = 'hlt' | 'shutdown' | 'runaway' | 'unsupported' | 'crash' | 'budget';

export interface Outcome {
  kind: StopKind;
  /** Why, for `unsupported` and `crash`. */
  detail?: string;
  state: MachineState;
  /** Final RAM (a view owned by the side: copy it to keep it past the next case). */
  ram: Uint8Array;
  /** Port I/O items in order: direction (0 in, 1 out), port, size, value — four numbers each. */
  io: number[];
}

/** The value a port read returns: deterministic in (port, size, item number), the same on both sides. */
export function ioValue(port: number, size: number, item: number): number {
  const v = (Math.imul(port + 1, 0x9e3779b1) ^ Math.imul(item + 1, 0x85ebca6b)) >>> 0;
  return size === 1 ? v & 0xff : size === 2 ? v & 0xffff : v;
}

/** Numbers kept of the port I/O log (4 per item); the rest is not compared. */
export const IO_LOG_MAX = 4 * 4096;
