/**
 * What a userspace device is to the machine. Devices live in userspace (not in an engine) so
 * that the host engine and the software engine see exactly the same ones.
 */

/**
 * A device on the I/O port bus. `port` is the absolute port number, `size` 1, 2 or 4 bytes.
 * `in` returns the value (only the low `size` bytes are used); neither may throw for any guest
 * access — a guest doing anything gets what hardware gives.
 */
export interface PortIoDevice {
  readonly name: string;
  ioIn(port: number, size: number): number;
  ioOut(port: number, size: number, value: number): void;
  /**
   * System reset (the PC's RESET line: triple fault, i8042 or port 0x92 reset): back to the
   * power-on state, except what survives a reset on the real part (the RTC's time and NVRAM).
   * Optional: a device with no state has nothing to do.
   */
  reset?(): void;
  /**
   * True: its port I/O never writes guest RAM (no DMA, no firmware tables, no reset that loads
   * them again), so after an exit to it the vCPU loop may tell the next KVM_RUN that userspace
   * wrote no guest memory (KVM_CAP_SOFT_NO_USER_WRITES_HINT: the software engine then skips
   * checking its decoded and compiled code against memory). Absent: it may write, and the engine
   * checks. A device that says true wrongly makes the guest run stale code: leave it out when unsure.
   */
  readonly writesNoGuestRam?: true;
}

/** An interrupt controller input as a device drives it: `level` 1 raises the line, 0 lowers it. */
export interface IrqSink {
  setIrq(irq: number, level: number): void;
}

/**
 * The host clock in nanoseconds as a plain number (monotonic; exact to 2^53 ns ≈ 104 days).
 * Devices take it as a parameter so that tests can drive time by hand.
 */
export type Clock = () => number;
