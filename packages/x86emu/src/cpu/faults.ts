/**
 * Raising guest exceptions from a handler: the fault is recorded (`faultVector`, `faultError`,
 * `faultHasError`, `faultAddress` for #PF) and the instruction unwinds with one shared sentinel
 * (`GUEST_FAULT`), which the run loop catches, restoring RIP, and delivers (SDM Vol. 3 6.5: a
 * fault leaves the state as before the instruction). Software interrupts (INT n, INT3, INTO, INT1)
 * are delivered from their handler.
 */
import * as C from './consts.js';
import type { Cpu } from './cpu.js';
import { deliverEvent } from './event-delivery.js';

export class CpuFaults {
  /** Raises a guest exception: unwinds the current instruction. */
  raise(this: Cpu, vector: number, errorCode: number, hasError: boolean): never {
    this.faultVector = vector;
    this.faultError = errorCode & 0xffff;
    this.faultHasError = hasError;
    throw C.GUEST_FAULT;
  }

  gp0(this: Cpu): never {
    return this.raise(C.GP, 0, true);
  }

  gp(this: Cpu, sel: number): never {
    return this.raise(C.GP, sel & 0xfffc, true);
  }

  ud(this: Cpu): never {
    return this.raise(C.UD, 0, false);
  }

  pageFault(this: Cpu, lin: number, errorCode: number): never {
    this.recordPageFault(lin, errorCode);
    throw C.GUEST_FAULT;
  }

  /** Records #PF at linear `lin` with `errorCode` as the fault to deliver (CR2 is written at delivery). */
  recordPageFault(this: Cpu, lin: number, errorCode: number): void {
    this.faultAddress = lin;
    this.faultVector = C.PF;
    this.faultError = errorCode;
    this.faultHasError = true;
  }

  /**
   * Delivers a software interrupt or exception from an instruction handler (RIP at the
   * instruction, `length` its size). When delivery ends the run (intercepted exception, triple
   * fault), unwinds the instruction.
   */
  deliverSoftware(this: Cpu, type: number, vector: number, length: number): void {
    // INT n/INT3/INTO/INT1 clear TF on delivery: no single-step trap follows them (SDM Vol. 3
    // 17.3.1.4; debuggers emulate INT n for that reason).
    this.noStepTrap = true;
    const r = deliverEvent(this, type, vector, 0, false, length);
    if (r >= 0) {
      this.stopRequested = r;
      throw C.GUEST_EXIT;
    }
  }

  /** CPL, with virtual-8086 mode counting as 3. */
  cplOrV86(this: Cpu): number {
    return this.v86 ? 3 : this.state.cpl;
  }
}
