/**
 * The stack outside 64-bit mode (64-bit pushes and pops are exec/long/stack64.ts): SS:ESP or SS:SP
 * by SS.B (SDM Vol. 1 6.2.3). A push writes below the stack pointer before committing it, so a
 * fault leaves ESP unchanged.
 */
import type { Cpu } from './cpu.js';

export class CpuStack {
  /** Writes `v` below stack pointer `sp` (not committed); returns the new stack pointer. */
  pushAt(this: Cpu, sp: number, v: number, size: number): number {
    const nsp = this.ss32 ? (sp - size) >>> 0 : (sp - size) & 0xffff;
    this.write(2, nsp, size, v);
    return nsp;
  }

  setSp(this: Cpu, sp: number): void {
    const s = this.state;
    if (this.ss32) s.gpr[4] = sp;
    else s.gpr[4] = (s.gpr[4] & 0xffff0000) | (sp & 0xffff);
  }

  /** Current stack pointer (ESP or SP by SS.B). */
  sp(this: Cpu): number {
    return this.ss32 ? this.state.gpr[4] : this.state.gpr[4] & 0xffff;
  }

  push(this: Cpu, v: number, size: number): void {
    this.setSp(this.pushAt(this.sp(), v, size));
  }

  /** Reads the stack at `sp` + `delta` without committing. */
  peek(this: Cpu, delta: number, size: number): number {
    const sp = this.sp();
    const a = this.ss32 ? (sp + delta) >>> 0 : (sp + delta) & 0xffff;
    return this.read(2, a, size);
  }

  /** Adds `n` to the stack pointer (commit after a pop). */
  addSp(this: Cpu, n: number): void {
    this.setSp(this.ss32 ? (this.state.gpr[4] + n) >>> 0 : (this.state.gpr[4] + n) & 0xffff);
  }

  pop(this: Cpu, size: number): number {
    const v = this.peek(0, size);
    this.addSp(size);
    return v;
  }
}
