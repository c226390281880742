/**
 * The serial console's output on the vCPU thread, between exits and the host's write. The UART
 * hands over a byte per exit (the guest's OUT to THR), and the vCPU loop offers the buffer to the
 * host before every KVM_RUN (`LoopHooks.flush`): written then, Debian's boot log was one write
 * syscall (or one postMessage) per byte, ~42,000 a boot and 1.5–2.5 % of the vCPU thread's time.
 * So before a KVM_RUN the bytes are held until the oldest has waited `HOLD_NS` or `HOLD_BYTES`
 * have gathered, which a person at the console does not see; the loop has the vCPU kicked out of
 * KVM_RUN when they are due (a guest halted in an in-kernel irqchip would not come back by
 * itself); before the loop waits (HLT, every vCPU idle) or stops, and for the debugger,
 * everything is written at once.
 */
import { holdAsDoubles } from '@kvm/x86emu';

/** Longest a byte waits in the buffer while the guest runs (ns of the vCPU loop's clock). */
export const HOLD_NS = 2_000_000;
/** Bytes that are written without waiting for `HOLD_NS`. */
export const HOLD_BYTES = 4096;

export class SerialBuffer {
  private bytes = new Uint8Array(HOLD_BYTES);
  private length = 0;
  /** The clock when the oldest byte held came. */
  private since = 0;

  /**
   * `write`: where the bytes go (a copy is the caller's to make if it keeps them); `clock`: the
   * vCPU loop's clock in ns.
   */
  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly clock: () => number,
  ) {
    // Host nanoseconds (x86emu's double-fields.ts).
    holdAsDoubles(this, ['since']);
  }

  /** The UART's output callback. */
  readonly put = (byte: number): void => {
    if (this.length === this.bytes.length) {
      const bigger = new Uint8Array(this.bytes.length * 2);
      bigger.set(this.bytes);
      this.bytes = bigger;
    }
    if (this.length === 0) this.since = this.clock();
    this.bytes[this.length++] = byte;
  };

  /**
   * Writes what is held; `running` (before a KVM_RUN): only once it has waited long enough.
   * Returns the clock time by which the rest is due (+Infinity: nothing is held).
   */
  flush(running = false): number {
    const n = this.length;
    if (n === 0) return Number.POSITIVE_INFINITY;
    if (running && n < HOLD_BYTES && this.clock() - this.since < HOLD_NS) return this.since + HOLD_NS;
    this.length = 0;
    this.write(this.bytes.subarray(0, n));
    return Number.POSITIVE_INFINITY;
  }
}
