/**
 * SIGINT, SIGTERM and SIGHUP for the command, with QEMU's meaning: a request to shut the guest
 * down (`qemu_system_killed` in QEMU's system/runstate.c). QEMU's main loop then stops the
 * machine, says "terminating on signal N" (`qemu_kill_report`) and exits with status 0.
 *
 * cli.ts installs these handlers before it loads the rest of qemu-lite: a signal in that time is
 * kept and served once the guest runs (with Node's default action it killed the process with
 * status 128 + N and no word).
 *
 * Repeats: timeout(1) signals its child and then its whole process group, so one `timeout`
 * delivers SIGTERM twice within microseconds. A repeat within `REPEAT_GRACE_MS` is that same
 * request (it used to exit at once, while the machine's thread was still in KVM_RUN: status 130
 * with no message, or node's "FATAL ERROR: napi_throw" when the kicked ioctl returned into a
 * worker being torn down). A later repeat, or a guest still running `FORCE_AFTER_MS` after the
 * request, ends the process at once.
 */

/** The numbers QEMU's message gives (Linux's, <asm/signal.h>). */
export const SIGNAL_NUMBER = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
export type ShutdownSignal = keyof typeof SIGNAL_NUMBER;

/** A second signal sooner than this after the first is the same request (timeout(1)'s pair). */
export const REPEAT_GRACE_MS = 1000;
/** How long the guest has to stop after the request before the process leaves without it. */
export const FORCE_AFTER_MS = 10_000;

export interface ShutdownHandlers {
  /** The first signal: stop the guest cleanly. Called at once if one came before this was set. */
  request(signo: number): void;
  /** The guest did not stop (a repeat after the grace, or the watchdog): leave now. */
  force(signo: number): void;
}

export class ShutdownSignals {
  /** The first signal's number, once one came. */
  received: number | undefined;
  private receivedAt = 0;
  private handlers: ShutdownHandlers | undefined;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly forceAfterMs = FORCE_AFTER_MS,
  ) {}

  /** Catches the three signals on `process` (the command does this once, at load). */
  install(): void {
    for (const name of Object.keys(SIGNAL_NUMBER) as ShutdownSignal[])
      process.on(name, () => this.deliver(SIGNAL_NUMBER[name]));
  }

  /** Who serves the request; one that came already is served now. */
  attach(handlers: ShutdownHandlers): void {
    this.handlers = handlers;
    if (this.received !== undefined) this.request(this.received);
  }

  /** One signal arrived (the process handler; tests call it directly). */
  deliver(signo: number): void {
    if (this.received === undefined) {
      this.received = signo;
      this.receivedAt = this.now();
      if (this.handlers) this.request(signo);
      return;
    }
    if (this.now() - this.receivedAt >= REPEAT_GRACE_MS) this.handlers?.force(signo);
  }

  private request(signo: number): void {
    this.handlers?.request(signo);
    // unref: the watchdog never keeps a finished process alive.
    setTimeout(() => this.handlers?.force(signo), this.forceAfterMs).unref();
  }
}

/** The command's instance: cli.ts installs it before it loads the rest of qemu-lite. */
export const shutdownSignals = new ShutdownSignals();
