/**
 * The debug registers' effects (SDM Vol. 3 17.2–17.3): which of DR0–DR3 are enabled
 * instruction, data and I/O breakpoints (from DR7), the checks the run loop and the memory and
 * port accessors make against them, and the #DB traps reported after an instruction (data and I/O
 * breakpoints, TF single-step).
 */
import { EventType } from '../api/intercepts.js';
import { Cr4 } from '../state.js';
import * as C from './consts.js';
import type { Cpu } from './cpu.js';

const TWO32 = 4294967296;

export class CpuDebug {
  /** Recomputes the enabled breakpoints from DR7 (after MOV DR7 or `stateChanged`). */
  updateDebug(this: Cpu): void {
    const dr7 = this.state.dr[7];
    let exec = 0;
    let data = 0;
    let io = 0;
    const de = (this.state.cr[4] & Cr4.DE) !== 0;
    for (let n = 0; n < 4; n++) {
      if (!((dr7 >>> (2 * n)) & 3)) continue;
      const rw = (dr7 >>> (16 + 4 * n)) & 3;
      if (rw === 0) exec |= 1 << n;
      else if (rw === 1 || rw === 3) data |= 1 << n;
      else if (de) io |= 1 << n; // RW = 10 is undefined without CR4.DE
    }
    this.dbgExec = exec;
    this.dbgData = data;
    this.dbgIo = io;
  }

  /** Records I/O breakpoints that ports [port, port+size) hit (SDM Vol. 3 17.2.5). */
  checkIoBreakpoints(this: Cpu, port: number, size: number): void {
    const s = this.state;
    const dr7 = s.dr[7];
    for (let n = 0; n < 4; n++) {
      if (!((this.dbgIo >>> n) & 1)) continue;
      const lenBits = (dr7 >>> (18 + 4 * n)) & 3;
      const len = lenBits === 0 ? 1 : lenBits === 1 ? 2 : lenBits === 3 ? 4 : 8;
      const start = s.dr[n] & 0xffff & ~(len - 1);
      if (port < start + len && port + size > start) this.dbgHit |= 1 << n;
    }
  }

  /** Records data breakpoints that [lin, lin+size) hits (reads match only RW = 11). */
  checkDataBreakpoints(this: Cpu, lin: number, size: number, write: boolean): void {
    const s = this.state;
    const dr7 = s.dr[7];
    for (let n = 0; n < 4; n++) {
      if (!((this.dbgData >>> n) & 1)) continue;
      const rw = (dr7 >>> (16 + 4 * n)) & 3;
      if (!write && rw !== 3) continue;
      const lenBits = (dr7 >>> (18 + 4 * n)) & 3;
      const len = lenBits === 0 ? 1 : lenBits === 1 ? 2 : lenBits === 3 ? 4 : 8;
      // In IA-32e mode DRn holds a 64-bit linear address: folded to 48 bits, as `lin` is.
      const low = (s.dr[n] & ~(len - 1)) >>> 0;
      const start = this.lma ? (s.drHigh[n] & 0xffff) * TWO32 + low : low;
      if (lin < start + len && lin + size > start) this.dbgHit |= 1 << n;
    }
  }

  /**
   * An instruction breakpoint on the instruction at linear `lin` (bits 63:32 `linHi` in 64-bit
   * mode, where CS.base is 0 and DRn holds a 64-bit address): #DB, a fault (SDM Vol. 3 17.3.1.1).
   */
  checkCodeBreakpoints(this: Cpu, lin: number, linHi = 0): void {
    const s = this.state;
    let hit = 0;
    for (let n = 0; n < 4; n++)
      if ((this.dbgExec >>> n) & 1 && s.dr[n] === lin && (!this.long64 || s.drHigh[n] === linHi))
        hit |= 1 << n;
    if (hit !== 0) {
      s.dr[6] = (s.dr[6] & ~0xf) | hit;
      this.raise(C.DB, 0, false);
    }
  }

  /** Data breakpoints are traps: reported after the instruction (SDM Vol. 3 17.3.1.2). */
  dataBreakpointTrap(this: Cpu, tf: number): void {
    const s = this.state;
    s.dr[6] = (s.dr[6] & ~0xf) | this.dbgHit;
    this.dbgHit = 0;
    this.singleStepTrap();
    s.dr[6] &= ~0x4000 | (tf !== 0 ? 0x4000 : 0);
  }

  /** Single-step #DB after an instruction that began with TF = 1 (SDM Vol. 3 17.3.1.4): a trap. */
  singleStepTrap(this: Cpu): void {
    this.pendingIsTrap = true;
    this.state.dr[6] |= 0x4000; // BS
    this.faultVector = C.DB;
    this.faultHasError = false;
    this.faultError = 0;
    // A trap: delivered with RIP after the instruction; use the pending-event path.
    this.state.pendingType = EventType.HardwareException;
    this.state.pendingVector = C.DB;
    this.state.pendingHasErrorCode = false;
    this.state.pendingInstructionLength = 0;
    this.irqCheck = true;
  }
}
