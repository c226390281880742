/** Why `Cpu.run()` returned. A small closed set; details of an intercept/exception are in `Cpu.exit`. */
export const StopReason = {
  /** The instruction budget was used up; the CPU is at an instruction boundary. */
  Budget: 0,
  /** HLT executed (RIP is after it); call `run()` again once an interrupt is pending. */
  Hlt: 1,
  /**
   * Shutdown: a triple fault (an exception while delivering a double fault, SDM Vol. 3 6.15
   * "Interrupt 8"), or an unrecoverable state. The caller decides (a PC resets).
   */
  Shutdown: 2,
  /**
   * An `Intercepts` hook asked to exit: the instruction (or event) was NOT executed, RIP points
   * at it, and `Cpu.exit` describes it (kind, length, operands), as at a VM exit.
   */
  Intercept: 3,
  /**
   * An exception the caller asked to see (`Intercepts.exception` returned true): it was not
   * delivered through the IDT; `Cpu.exit` has vector, error code and fault address. CR2 is NOT
   * written for an intercepted #PF (as on VMX/SVM: the exit carries the address instead).
   */
  Exception: 4,
  /** `Cpu.requestStop()` was called (from a hook or another handler) during the run. */
  Requested: 5,
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];
