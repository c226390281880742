/**
 * The run loop (`Cpu.run`): instructions one `step` at a time or a compiled block at a time
 * (src/jit), the events looked at between them (`checkEvents`: injected and pending events, the
 * NMI and interrupt windows, external interrupts, HLT, stop requests), and the end of an
 * instruction that unwound (a thrown or recorded fault or exit: `finishUnwind`). `step32`/`step64`
 * are one instruction each, with the debug checks around it (RF, instruction breakpoints, TF).
 */
import { EventType, InterceptKind } from '../api/intercepts.js';
import { StopReason } from '../api/stop-reason.js';
import type { Insn } from '../decoder/insn.js';
import { ROW_KIND } from '../jit/rows.js';
import { Flag } from '../state.js';
import * as C from './consts.js';
import { Unwind } from './consts.js';
import type { Cpu } from './cpu.js';
import { deliverEvent } from './event-delivery.js';
import { fetchDecode32, fetchDecode64 } from './fetch.js';
import { runStraight } from './straight-run.js';

const TWO32 = 4294967296;

export class CpuRunLoop {
  /**
   * Executes up to `budget` instructions, each iteration of a REP string instruction counting as
   * one (a REP stops between iterations at the budget, RIP at it, to resume in the next run).
   * Never throws for anything the guest does.
   */
  run(this: Cpu, budget: number): StopReason {
    const s = this.state;
    this.stopRequested = -1;
    this.irqCheck = true;
    this.runCount = 0;
    this.runLimit = budget;
    // The caller may have changed anything since the last run: a yielded REP is fetched again.
    this.repInsn = null;
    let result: StopReason = StopReason.Budget;
    outer: while (this.runCount < this.runLimit) {
      try {
        while (this.runCount < this.runLimit) {
          // One flag covers everything that must be looked at between instructions: pending
          // events, interrupts, HLT, stop requests (each sets irqCheck).
          if (this.irqCheck) {
            const r = this.checkEvents();
            if (r >= 0) {
              result = r as StopReason;
              break outer;
            }
          }
          // A compiled block runs whole instructions and counts them itself (src/jit). The decode
          // at RIP is fetched first, once, for both: the block hangs on it, a cold one counts its
          // visits in it, and the step below executes it (`fetchFirst`).
          let pre: Insn | null = null;
          const jit = this.jit;
          if (jit !== null && this.fetchFirstOk()) {
            pre = this.fetchFirst();
            if (jit.enter(this, pre)) {
              if (this.unwinding !== 0) {
                const r = this.finishUnwind();
                if (r >= 0) {
                  result = r as StopReason;
                  break outer;
                }
              }
              continue;
            }
          }
          const insn = this.step(pre);
          this.runCount++;
          // The instructions after a straight-line one or a near branch run from their decodes
          // (straight-run.ts).
          const kind = ROW_KIND[insn.row];
          if (this.unwinding === 0 && kind !== 0 && insn.rep === 0 && !this.irqCheck)
            runStraight(this, insn, kind === 2);
          if (this.unwinding !== 0) {
            const r = this.finishUnwind();
            if (r >= 0) {
              result = r as StopReason;
              break outer;
            }
          }
        }
      } catch (e) {
        this.runCount++;
        if (e === C.GUEST_FAULT) {
          s.rip[0] = this.startEip;
          s.rip[1] = this.startRipHi;
          const r = deliverEvent(
            this,
            EventType.HardwareException,
            this.faultVector,
            this.faultError,
            this.faultHasError,
            0,
          );
          if (r >= 0) {
            result = r as StopReason;
            break;
          }
        } else if (e === C.GUEST_EXIT) {
          s.rip[0] = this.startEip;
          s.rip[1] = this.startRipHi;
          result = this.stopRequested as StopReason;
          break;
        } else {
          throw e;
        }
      }
    }
    // The budget ends the run at an instruction boundary, as a host interrupt would; a trap of the
    // last instruction (single-step, data breakpoint) is taken first (SDM Vol. 3A 6.9: priority 4,
    // before interrupts). Left pending it was lost: a VM entry starts with no pending event, so a
    // guest's own TF trap vanished whenever the engine ran it one instruction at a time (gdb's
    // stepi, KVM_GUESTDBG_SINGLESTEP).
    if (result === StopReason.Budget && this.pendingIsTrap && s.pendingType >= 0) {
      const r = this.checkEvents();
      if (r >= 0) result = r as StopReason;
    }
    this.instructionsRetired += this.runCount;
    this.advanceTsc(this.runCount);
    this.runCount = 0;
    this.materializeFlags();
    return result;
  }

  /**
   * An instruction ended with `unwinding` set: what the run loop's catch does for a thrown fault
   * or exit (RIP back at the instruction; the fault delivered, or the stop reason). Returns a
   * StopReason that ends the run, or -1.
   */
  finishUnwind(this: Cpu): number {
    const u = this.unwinding;
    this.unwinding = Unwind.None;
    const s = this.state;
    s.rip[0] = this.startEip;
    s.rip[1] = this.startRipHi;
    if (u === Unwind.Exit) return this.stopRequested;
    return deliverEvent(
      this,
      EventType.HardwareException,
      this.faultVector,
      this.faultError,
      this.faultHasError,
      0,
    );
  }

  /**
   * Iterations a REP string instruction may do in this step: what is left of the budget, at
   * least one so that it always progresses.
   */
  repQuota(this: Cpu): number {
    return Math.max(this.runLimit - this.runCount, 1);
  }

  /** A REP string instruction did `n` iterations: the ones beyond the first use up budget. */
  chargeIterations(this: Cpu, n: number): void {
    if (n > 1) this.runLimit -= n - 1;
  }

  advanceTsc(this: Cpu, n: number): void {
    const t = this.state.tsc;
    const lo = t[0] + n;
    t[0] = lo >>> 0;
    if (lo >= TWO32) t[1] = (t[1] + Math.floor(lo / TWO32)) >>> 0;
  }

  /** Pending events, HLT and interrupt window at an instruction boundary; returns a StopReason or -1. */
  checkEvents(this: Cpu): number {
    const s = this.state;
    if (this.stopRequested >= 0) return this.stopRequested;
    if (s.pendingType >= 0) {
      const t = s.pendingType;
      s.pendingType = -1;
      s.halted = false;
      // A debug trap this processor raised (single-step, data breakpoint) is an exception like
      // any other for the exception bitmap / intercepts (SDM Vol. 3C 25.2); only a VM-entry
      // injection bypasses them.
      const injected = !this.pendingIsTrap;
      this.pendingIsTrap = false;
      const ret = (s.rip[0] + s.pendingInstructionLength) >>> 0;
      const r = deliverEvent(
        this,
        t,
        s.pendingVector,
        s.pendingErrorCode,
        s.pendingHasErrorCode,
        ret - s.rip[0],
        injected,
      );
      // An NMI window open after the injected event is an exit before the handler's first
      // instruction (SDM Vol. 3C 26.7.6: NMI-window exiting "after event injection").
      if (r < 0 && (s.interruptibility & 11) === 0 && this.interceptMask & (1 << InterceptKind.NmiWindow))
        if (this.askIntercept(InterceptKind.NmiWindow, 0)) return StopReason.Intercept;
      return r;
    }
    // The NMI window comes before the interrupt window (SDM Vol. 3C 26.2: NMI-window exits have
    // priority over interrupt-window exits).
    if ((s.interruptibility & 11) === 0 && this.interceptMask & (1 << InterceptKind.NmiWindow)) {
      if (this.askIntercept(InterceptKind.NmiWindow, 0)) return StopReason.Intercept;
    }
    const interruptible = (s.rflags[0] & Flag.IF) !== 0 && (s.interruptibility & 3) === 0;
    if (interruptible && this.interceptMask & (1 << InterceptKind.InterruptWindow)) {
      if (this.askIntercept(InterceptKind.InterruptWindow, 0)) return StopReason.Intercept;
    }
    if (interruptible && this.interrupts?.hasInterrupt()) {
      if (this.interceptMask & (1 << InterceptKind.ExternalInterrupt)) {
        if (this.askIntercept(InterceptKind.ExternalInterrupt, 0)) return StopReason.Intercept;
      }
      s.halted = false;
      const v = this.interrupts.acknowledge();
      this.stats.interrupts++;
      return deliverEvent(this, EventType.ExternalInterrupt, v, 0, false, 0);
    }
    if (s.halted) return StopReason.Hlt;
    // Keep looking while a shadow blocks a possible interrupt; else nothing is pending.
    if ((s.interruptibility & 3) === 0) this.irqCheck = false;
    return -1;
  }

  /**
   * Whether the run loop may fetch the decode at RIP before `step` (`fetchFirst`) and offer it to
   * the block compiler: the checks `step` makes before its fetch (instruction breakpoints, RF) have
   * nothing to do, and a compiled block could run here (no TF, shadow, data breakpoint or yielded
   * REP: jit.ts `mayRun`, less the budget). Else the step fetches as always and no block runs. A
   * boundary where the event check is still due (after an event's delivery) is the interpreter's:
   * compiled code relies on irqCheck being clear at entry, so that only what it calls (slow memory
   * paths, handlers: each followed by a check) can set it.
   */
  fetchFirstOk(this: Cpu): boolean {
    return (
      this.linearOps === null &&
      !this.irqCheck &&
      (this.state.rflags[0] & (Flag.TF | Flag.RF)) === 0 &&
      (this.state.interruptibility & 3) === 0 &&
      (this.dbgExec | this.dbgData) === 0 &&
      this.repInsn === null
    );
  }

  /**
   * The decode at RIP, fetched as `step`'s own fetch would (it may raise #PF, #GP or #UD exactly
   * there: RIP is the instruction's, `startEip`/`startRipHi` are set for the run loop's catch).
   */
  fetchFirst(this: Cpu): Insn {
    const s = this.state;
    this.startEip = s.rip[0];
    this.lastInsnLength = 0;
    if (this.long64) {
      this.startRipHi = s.rip[1];
      return fetchDecode64(this);
    }
    this.startRipHi = 0;
    return fetchDecode32(this);
  }

  /**
   * One instruction; returns its decode. `pre` is the decode at RIP when the run loop has just
   * fetched it (`fetchFirst`), else null.
   */
  step(this: Cpu, pre: Insn | null = null): Insn {
    if (this.long64) return this.step64(pre);
    return this.step32(pre);
  }

  /** One instruction outside 64-bit mode (kept free of 64-bit checks: the 32-bit hot path). */
  step32(this: Cpu, pre: Insn | null = null): Insn {
    const s = this.state;
    const eip = s.rip[0];
    this.startEip = eip;
    this.startRipHi = 0;
    const shadow = s.interruptibility & 3;
    const fl = s.rflags[0];
    const tf = fl & Flag.TF;
    if (this.dbgExec !== 0 && !(fl & Flag.RF)) this.checkCodeBreakpoints((s.segBase[1] + eip) >>> 0);
    this.dbgHit = 0;
    this.noStepTrap = false;
    // RF is cleared at the start of every instruction (after the code-breakpoint check, which
    // RF exists to suppress) (SDM Vol. 3 17.3.1.1).
    if (fl & Flag.RF) s.rflags[0] = fl & ~Flag.RF;
    this.lastInsnLength = 0;
    let insn = this.repInsn;
    if (insn === null) insn = pre !== null ? pre : fetchDecode32(this);
    else this.repInsn = null;
    this.lastInsnLength = insn.length;
    // No wrap at 0xFFFF in 16-bit code: sequential execution takes EIP to 0x10000, and the next
    // fetch is checked against the CS limit (#GP(0) with a 64 KiB limit; Intel386 PRM 15.6 item 8,
    // SDM Vol. 3 5.3). Only branches truncate to the operand size (SDM Vol. 2 JMP).
    s.rip[0] = eip + insn.length;
    if (shadow !== 0) {
      s.interruptibility &= ~3;
      this.irqCheck = true;
    }
    insn.exec(this, insn);
    // Ended early (a recorded fault or exit): no trap follows, as none follows a thrown one.
    if (this.unwinding !== 0) return insn;
    if (tf !== 0 && (s.interruptibility & 2) === 0 && !this.noStepTrap) this.singleStepTrap();
    if (this.dbgHit !== 0) this.dataBreakpointTrap(tf);
    return insn;
  }

  /** One instruction in 64-bit mode: a 64-bit RIP, fetched through its canonical linear address. */
  step64(this: Cpu, pre: Insn | null = null): Insn {
    const s = this.state;
    const eip = s.rip[0];
    this.startEip = eip;
    this.startRipHi = s.rip[1];
    const shadow = s.interruptibility & 3;
    const fl = s.rflags[0];
    const tf = fl & Flag.TF;
    if (this.dbgExec !== 0 && !(fl & Flag.RF)) this.checkCodeBreakpoints(eip, s.rip[1]);
    this.dbgHit = 0;
    this.noStepTrap = false;
    if (fl & Flag.RF) s.rflags[0] = fl & ~Flag.RF;
    this.lastInsnLength = 0;
    let insn = this.repInsn;
    if (insn === null) insn = pre !== null ? pre : fetchDecode64(this);
    else this.repInsn = null;
    this.lastInsnLength = insn.length;
    s.rip[0] = eip + insn.length;
    // RIP is 64 bits wide (the next fetch checks that it is canonical).
    if (s.rip[0] < eip) s.rip[1]++;
    if (shadow !== 0) {
      s.interruptibility &= ~3;
      this.irqCheck = true;
    }
    insn.exec(this, insn);
    // Ended early (a recorded fault or exit): no trap follows, as none follows a thrown one.
    if (this.unwinding !== 0) return insn;
    if (tf !== 0 && (s.interruptibility & 2) === 0 && !this.noStepTrap) this.singleStepTrap();
    if (this.dbgHit !== 0) this.dataBreakpointTrap(tf);
    return insn;
  }

  /** Asks `run()` to return `StopReason.Requested` at the next instruction boundary. */
  requestStop(this: Cpu): void {
    this.stopRequested = StopReason.Requested;
    this.irqCheck = true;
  }

  /** Queues an event for delivery before the next instruction (VM-entry injection semantics). */
  injectEvent(this: Cpu, type: EventType, vector: number, errorCode?: number, instructionLength = 0): void {
    const s = this.state;
    this.pendingIsTrap = false;
    s.pendingType = type;
    s.pendingVector = vector & 0xff;
    s.pendingHasErrorCode = errorCode !== undefined;
    s.pendingErrorCode = errorCode ?? 0;
    s.pendingInstructionLength = instructionLength;
    this.irqCheck = true;
  }

  /** Stops `run()` after this instruction completes (used by HLT). */
  halt(this: Cpu): void {
    this.state.halted = true;
    this.irqCheck = true;
  }
}
