/**
 * Asking the virtualization hooks (`Intercepts`, the silicon models of VMX and SVM) whether an
 * instruction or event exits instead of executing: the handlers call these after their own
 * priority checks (faults that come before the intercept, SDM Vol. 3C 25.1.1), so an exit
 * leaves RIP at the instruction, as a VM exit does.
 */
import type { InterceptKind } from '../api/intercepts.js';
import { StopReason } from '../api/stop-reason.js';
import * as C from './consts.js';
import { Unwind } from './consts.js';
import type { Cpu } from './cpu.js';

export class CpuInterceptAsks {
  askIntercept(this: Cpu, kind: number, length: number): boolean {
    const x = this.exit;
    x.kind = kind;
    x.instructionLength = length;
    x.vectoringValid = false;
    const i = this.intercepts;
    return i?.instruction?.(kind as InterceptKind, x) === true;
  }

  /**
   * Asks the intercept hook about an instruction of `kind` (called by handlers after their own
   * priority checks); when it says exit, unwinds the instruction with RIP at its start.
   */
  intercept(this: Cpu, kind: number): void {
    if (this.interceptMask & (1 << kind)) {
      const x = this.exit;
      x.kind = kind;
      x.instructionLength = (this.state.rip[0] - this.startEip) >>> 0;
      x.vectoringValid = false;
      const i = this.intercepts;
      if (i?.instruction?.(kind as InterceptKind, x)) {
        this.stats.intercepts++;
        this.stopRequested = StopReason.Intercept;
        throw C.GUEST_EXIT;
      }
    }
  }

  /**
   * `intercept` for handlers that return when it says true: the exit is recorded in `unwinding`
   * instead of thrown (the exits a shadow-paging hypervisor takes most: MOV CR, INVLPG, CPUID,
   * I/O, MSRs, HLT). Under `emulate()` (`linearOps`) it throws as `intercept` does.
   */
  interceptExits(this: Cpu, kind: number): boolean {
    if (this.linearOps !== null) {
      this.intercept(kind);
      return false;
    }
    if (this.interceptMask & (1 << kind)) {
      const x = this.exit;
      x.kind = kind;
      x.instructionLength = (this.state.rip[0] - this.startEip) >>> 0;
      x.vectoringValid = false;
      const i = this.intercepts;
      if (i?.instruction?.(kind as InterceptKind, x)) {
        this.stats.intercepts++;
        this.stopRequested = StopReason.Intercept;
        this.unwinding = Unwind.Exit;
        this.irqCheck = true;
        return true;
      }
    }
    return false;
  }

  /** True when the hook for `kind` is armed (handlers fill `exit` operands only then). */
  wantsIntercept(this: Cpu, kind: number): boolean {
    return (this.interceptMask & (1 << kind)) !== 0;
  }
}
