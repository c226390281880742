/** What a peer emulator's run of a guest gives the benchmark (the shape `runGuestReport` gives). */
export interface PeerRun {
  /** Wall time of the whole run, start-up included (the benchmark subtracts a 0-iteration run). */
  readonly ms: number;
  /**
   * CPU time of the run's process (user + system), where the peer reports it (v86's child does);
   * the bench prefers it to wall time on a loaded machine.
   */
  readonly cpuMs?: number;
  /** What the guest wrote to COM1. */
  readonly serial: string;
  readonly ok: boolean;
  readonly why?: string;
}

/** Whether a peer can run here, and if not why (a bench row says it and moves on). */
export type PeerAvailability =
  | { readonly available: true; readonly note: string }
  | { readonly available: false; readonly note: string };
