/**
 * Exit handling as a plain function: given why KVM_RUN returned and the `kvm_run` view, do what
 * the exit asks of userspace and say what the vCPU loop does next. Dispatch is a table indexed
 * by KVM_EXIT_* (KVM's `kvm_vmx_exit_handlers[]` habit) with one fallback for everything else;
 * tests feed it synthetic exits through a `KvmRunView` over plain bytes.
 *
 * The contract: a handler returns one of
 * - EXIT_CONTINUE: enter the guest again;
 * - EXIT_HALT: the guest executed HLT; wait for an interrupt before entering again;
 * - EXIT_STOP: the machine is done; `ctx.stopReason()` says why (a handler that returns it
 *   has called `ctx.stop`).
 */
import { KVM_EXIT, KVM_EXIT_IO_OUT, KVM_INTERNAL_ERROR, KVM_SYSTEM_EVENT, type KvmRunView } from '@kvm/core';
import type { IoBus } from '../devices/io-bus.js';

export const EXIT_CONTINUE = 0;
export const EXIT_HALT = 1;
export const EXIT_STOP = 2;
export type ExitAction = typeof EXIT_CONTINUE | typeof EXIT_HALT | typeof EXIT_STOP;

/** Why a machine stopped: a tagged union, one variant per cause. */
export type StopReason =
  /** The guest wrote v to the debug-exit port: status (v << 1) | 1. */
  | { kind: 'debug-exit'; status: number }
  /**
   * The guest asked for a reset (i8042, port 0x92) or triple-faulted (KVM_EXIT_SHUTDOWN,
   * `cause` TRIPLE_FAULT_CAUSE). When the reset ends the run (-no-reboot), `rip` is the vCPU's
   * RIP at that moment, as hex ('0x…'): for a triple fault, the instruction that faulted.
   */
  | { kind: 'reset'; cause: string; rip?: string }
  /** The guest powered off (KVM_SYSTEM_EVENT_SHUTDOWN). */
  | { kind: 'poweroff' }
  /**
   * The engine could not go on: the exit reason and what it reported. `unsupported`: the engine
   * lacks what the guest asked for (long mode on a software engine without it), not a fault.
   */
  | { kind: 'failure'; exitReason: number; detail: string; unsupported?: boolean }
  /** The user (Ctrl-A x), a signal, or the caller's time limit ended it. */
  | { kind: 'quit'; cause: 'user' | 'signal' | 'timeout' };

export interface ExitContext {
  readonly bus: IoBus;
  /** A guest read of unbacked guest-physical memory (gpa): fill `data`. */
  mmioRead(gpa: bigint, data: Uint8Array): void;
  /** A guest write to unbacked guest-physical memory (gpa). */
  mmioWrite(gpa: bigint, data: Uint8Array): void;
  /** Records why the machine stops (the first reason wins). */
  stop(reason: StopReason): void;
  /** The reason recorded, if any. */
  stopReason(): StopReason | undefined;
}

/** `StopReason.cause` of a triple fault: the CPU's shutdown, which a PC turns into a reset. */
export const TRIPLE_FAULT_CAUSE = 'triple fault (KVM_EXIT_SHUTDOWN)';

type Handler = (run: KvmRunView, ctx: ExitContext, reason: number) => ExitAction;

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

function handleIo(run: KvmRunView, ctx: ExitContext): ExitAction {
  const io = run.io;
  const { port, size, count } = io;
  const bus = ctx.bus;
  // String instructions (INS/OUTS, with REP) arrive as `count` items in the data page.
  if (io.direction === KVM_EXIT_IO_OUT) {
    for (let i = 0; i < count; i++) bus.ioOut(port, size, io.valueAt(i));
  } else {
    for (let i = 0; i < count; i++) io.setValueAt(i, bus.ioIn(port, size));
  }
  return ctx.stopReason() ? EXIT_STOP : EXIT_CONTINUE;
}

function handleMmio(run: KvmRunView, ctx: ExitContext): ExitAction {
  const mmio = run.mmio;
  const len = Math.min(mmio.len, 8);
  const data = mmio.data.subarray(0, len);
  if (mmio.isWrite) ctx.mmioWrite(mmio.physAddr, data);
  else ctx.mmioRead(mmio.physAddr, data);
  return ctx.stopReason() ? EXIT_STOP : EXIT_CONTINUE;
}

function fail(ctx: ExitContext, exitReason: number, detail: string): ExitAction {
  ctx.stop({ kind: 'failure', exitReason, detail });
  return EXIT_STOP;
}

const handlers: Handler[] = [];
handlers[KVM_EXIT.IO] = handleIo;
handlers[KVM_EXIT.MMIO] = handleMmio;
handlers[KVM_EXIT.HLT] = () => EXIT_HALT;
// The window we asked for is open: the loop injects before the next entry.
handlers[KVM_EXIT.IRQ_WINDOW_OPEN] = () => EXIT_CONTINUE;
// A signal (our kick) interrupted the run: service devices and go on.
handlers[KVM_EXIT.INTR] = () => EXIT_CONTINUE;
// Triple fault: a PC resets (the chipset turns the CPU's shutdown cycle into INIT).
handlers[KVM_EXIT.SHUTDOWN] = (_run, ctx) => {
  ctx.stop({ kind: 'reset', cause: TRIPLE_FAULT_CAUSE });
  return EXIT_STOP;
};
handlers[KVM_EXIT.SYSTEM_EVENT] = (run, ctx, reason) => {
  const type = run.systemEvent.type;
  if (type === KVM_SYSTEM_EVENT.SHUTDOWN) ctx.stop({ kind: 'poweroff' });
  else if (type === KVM_SYSTEM_EVENT.RESET) ctx.stop({ kind: 'reset', cause: 'KVM_SYSTEM_EVENT_RESET' });
  else return fail(ctx, reason, `system event type ${type}`);
  return EXIT_STOP;
};
handlers[KVM_EXIT.FAIL_ENTRY] = (run, ctx, reason) =>
  fail(
    ctx,
    reason,
    `hardware_entry_failure_reason ${hex(run.failEntry.hardwareEntryFailureReason)} on cpu ${run.failEntry.cpu}`,
  );
handlers[KVM_EXIT.INTERNAL_ERROR] = (run, ctx, reason) => {
  const internal = run.internal;
  // An engine without long mode stops a guest that turns it on with the words
  // [MSR_EFER, EFER, RIP] (@kvm/core's long-mode.ts): say that, not the numbers.
  if (
    internal.suberror === KVM_INTERNAL_ERROR.EMULATION &&
    internal.ndata === 3 &&
    internal.dataAt(0) === 0xc0000080n &&
    (internal.dataAt(1) & 0x100n) !== 0n
  ) {
    const detail = `the software engine does not run long mode yet (guest set EFER.LME: EFER=${hex(internal.dataAt(1))} at RIP ${hex(internal.dataAt(2))})`;
    ctx.stop({ kind: 'failure', exitReason: reason, detail, unsupported: true });
    return EXIT_STOP;
  }
  const data: string[] = [];
  for (let i = 0; i < Math.min(internal.ndata, 16); i++) data.push(hex(internal.dataAt(i)));
  const names = [
    '',
    'emulation failure',
    'exception during event delivery',
    'event delivery failure',
    'unexpected exit reason',
  ];
  return fail(
    ctx,
    reason,
    `suberror ${internal.suberror} (${names[internal.suberror] ?? 'unknown'})${data.length ? `, data ${data.join(' ')}` : ''}`,
  );
};
handlers[KVM_EXIT.UNKNOWN] = (run, ctx, reason) =>
  fail(ctx, reason, `hardware_exit_reason ${hex(run.hardwareExitReason)}`);
handlers[KVM_EXIT.EXCEPTION] = (run, ctx, reason) =>
  fail(ctx, reason, `exception ${run.ex.exception}, error code ${hex(run.ex.errorCode)}`);

function unhandled(_run: KvmRunView, ctx: ExitContext, reason: number): ExitAction {
  return fail(ctx, reason, 'qemu-lite does not handle this exit');
}

/** Handles one exit; see the module comment for the contract. */
export function handleExit(reason: number, run: KvmRunView, ctx: ExitContext): ExitAction {
  const handler = handlers[reason] ?? unhandled;
  return handler(run, ctx, reason);
}
