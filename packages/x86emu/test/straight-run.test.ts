/**
 * The interpreter's straight runs (src/cpu/straight-run.ts): after a straight-line instruction the
 * next decoded ones run without the run loop's per-instruction checks, and must leave the CPU as
 * stepping one at a time does — at the budget, at a fault in the middle, at a stop requested from
 * a device, after code the run itself rewrote ahead of it, and in 64-bit mode. A run goes on
 * through near branches whose target is decoded in the same page, counting the visits of their
 * targets toward compiling a block there as the run loop counts them; in 64-bit mode also into
 * another page (a call, a return, running off a page's end) whose decodes the TLB remembers.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, FlatPhysicalMemory, Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { L, longMode } from './long.js';
import { type Machine, runTo } from './machine.js';
import { CODE, protectedMode, SEL } from './pm.js';

const GP = 13;
const CODE64 = L.CODE;

/** The interpreter alone: straight runs are the interpreter's (a compiled block is the JIT's). */
function interpreted(m: Machine): Machine {
  m.cpu.jit = null;
  return m;
}

const INCS = `${'inc eax\n'.repeat(20)}hlt`;

describe('straight runs of decoded instructions', () => {
  it('stop at the budget between two instructions, RIP and the count exact', () => {
    const m = interpreted(protectedMode(INCS));
    // Decoded once, then run again from the start with every budget from 1 to 20.
    runTo(m);
    for (let n = 1; n <= 20; n++) {
      m.cpu.state.rip[0] = CODE;
      m.cpu.state.gpr[Reg.RAX] = 0;
      m.cpu.state.halted = false;
      const before = m.cpu.instructionsRetired;
      expect(m.cpu.run(n)).toBe(StopReason.Budget);
      expect(m.cpu.state.gpr[Reg.RAX]).toBe(n);
      expect(m.cpu.state.rip[0]).toBe(CODE + n);
      expect(m.cpu.instructionsRetired - before).toBe(n);
    }
  });

  it('run code that an instruction of the run rewrote ahead of it in the same page', () => {
    // The loop's instructions are decoded and linked by its first iterations; in the last one the
    // store in the middle of the straight run hits the immediate of the MOV two instructions on
    // (before, it hits RAM elsewhere), and that MOV must load what was just written.
    const m = interpreted(
      protectedMode(`
        mov ecx, 5
        mov esi, offset patch + 1
      top:
        mov edi, 0x100000
        cmp ecx, 1
        cmove edi, esi
        mov byte ptr [edi], cl
        nop
      patch:
        mov eax, 0x77
        add ebx, eax
        dec ecx
        jnz top
        hlt
      `),
    );
    runTo(m);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(4 * 0x77 + 1);
  });

  it('a fault in the middle leaves RIP at the faulting instruction and the ones before it done', () => {
    const m = interpreted(
      protectedMode(
        `mov ax, ${SEL.DATA_LIM}; mov ds, ax; top: inc ecx; inc ecx; mov eax, [0xffc]; mov eax, [0xffd]; inc ecx; hlt`,
        { captureExceptions: true },
      ),
    );
    // The first run decodes the instructions; the second runs them as one straight run.
    for (let pass = 0; pass < 2; pass++) {
      m.cpu.state.rip[0] = pass === 0 ? CODE : CODE + 6;
      m.cpu.state.gpr[Reg.RCX] = 0;
      m.exceptions.length = 0;
      runTo(m, StopReason.Exception);
      expect(m.exceptions).toEqual([{ vector: GP, errorCode: 0, faultAddress: 0 }]);
      expect(m.cpu.state.gpr[Reg.RCX]).toBe(2);
      expect(m.cpu.state.rip[0]).toBe(CODE + 6 + 2 + 5);
    }
  });

  it('a stop requested by a device during an instruction ends the run at the next boundary', () => {
    // A store above RAM (no host view: MMIO) reaches write32, whose device asks the CPU to stop,
    // as a device raising an interrupt sets the run loop's flag.
    const MMIO = 0x2000000;
    class Mmio extends FlatPhysicalMemory {
      onWrite: () => void = () => {};
      override write32(pa: number, v: number): void {
        if (pa >= MMIO) this.onWrite();
        else super.write32(pa, v);
      }
    }
    const m = protectedMode(`inc ecx; inc ecx; mov [${MMIO}], eax; inc ebx; inc ebx; hlt`);
    const mem = new Mmio(16 << 20);
    mem.bytes.set(m.mem.bytes);
    const cpu = new Cpu({ memory: mem, state: m.cpu.state, jit: false });
    // The first run decodes the instructions; the second runs them as one straight run.
    expect(cpu.run(100)).toBe(StopReason.Hlt);
    cpu.state.halted = false;
    cpu.state.rip[0] = CODE;
    cpu.state.gpr[Reg.RCX] = 0;
    cpu.state.gpr[Reg.RBX] = 0;
    mem.onWrite = () => cpu.requestStop();
    expect(cpu.run(100)).toBe(StopReason.Requested);
    expect(cpu.state.gpr[Reg.RCX]).toBe(2);
    expect(cpu.state.gpr[Reg.RBX]).toBe(0);
    expect(cpu.state.rip[0]).toBe(CODE + 2 + 5);
  });

  it('in 64-bit mode: a budget stop and a #GP in the middle of a run', () => {
    const m = interpreted(
      longMode(
        `
        ${'inc rdx\n'.repeat(10)}
        mov rax, 0x0000800000000000
        inc rsi
        mov rdi, [rax]
        hlt
      `,
        { captureExceptions: true },
      ),
    );
    // The first run decodes the instructions; the second runs them as straight runs.
    for (let pass = 0; pass < 2; pass++) {
      const s = m.cpu.state;
      s.rip[0] = CODE64;
      s.gpr[Reg.RDX] = 0;
      s.gpr[Reg.RSI] = 0;
      m.exceptions.length = 0;
      expect(m.cpu.run(4)).toBe(StopReason.Budget);
      expect(s.gpr[Reg.RDX]).toBe(4);
      expect(s.rip[0]).toBe(CODE64 + 4 * 3);
      expect(m.cpu.run(100)).toBe(StopReason.Exception);
      expect(s.gpr[Reg.RDX]).toBe(10);
      expect(s.gpr[Reg.RSI]).toBe(1);
      expect(m.exceptions[0]?.vector).toBe(GP);
      expect(s.rip[0]).toBe(CODE64 + 10 * 3 + 10 + 3);
    }
  });

  it('go on through branches: a loop stops at every budget where stepping one at a time stops', () => {
    const src = `
      mov ecx, 6
    top:
      inc eax
      cmp ecx, 3
      jne skip
      add ebx, 5
    skip:
      dec ecx
      jnz top
      hlt
    `;
    // Every instruction decoded by a first whole run, then from the start with budgets 1…40 on one
    // machine, one instruction per run() (no straight run at all) on the other.
    const runs = interpreted(protectedMode(src));
    const steps = interpreted(protectedMode(src));
    runTo(runs);
    for (let n = 1; n <= 40; n++) {
      for (const m of [runs, steps]) {
        const s = m.cpu.state;
        s.rip[0] = CODE;
        s.gpr[Reg.RAX] = 0;
        s.gpr[Reg.RBX] = 0;
        s.gpr[Reg.RCX] = 0;
        s.rflags[0] = 2;
        s.halted = false;
      }
      const stop = runs.cpu.run(n);
      let last: StopReason = StopReason.Budget;
      for (let i = 0; i < n && last === StopReason.Budget; i++) last = steps.cpu.run(1);
      expect(stop).toBe(last);
      for (const r of [Reg.RAX, Reg.RBX, Reg.RCX])
        expect(runs.cpu.state.gpr[r], `budget ${n}`).toBe(steps.cpu.state.gpr[r]);
      expect(runs.cpu.state.rip[0], `budget ${n}`).toBe(steps.cpu.state.rip[0]);
      expect(runs.cpu.state.rflags[0], `budget ${n}`).toBe(steps.cpu.state.rflags[0]);
    }
  });

  it("count a branch target's visits: the block there is compiled at the threshold's visit", () => {
    // `top` is reached once by stepping from the MOV (a block's middle, not counted) and then by
    // the JNZ, inside straight runs: N - 1 counted visits for N iterations.
    const HOT = 50;
    const compiledAfter = (iterations: number) => {
      const m = protectedMode(`mov ecx, ${iterations}; top: inc eax; dec ecx; jnz top; hlt`);
      const jit = new Jit({ hot: HOT });
      m.cpu.jit = jit;
      runTo(m);
      expect(m.cpu.state.gpr[Reg.RAX]).toBe(iterations);
      return jit.stats.compiled;
    };
    expect(compiledAfter(HOT)).toBe(0);
    expect(compiledAfter(HOT + 1)).toBe(1);
  });
  // 64-bit code on three pages: a loop on the first calls a function on the second (which runs off
  // its page's end into the third, a NOP at the second's last byte) and one on the third.
  const PAGES64 = `
      mov ecx, 7
    top:
      inc eax
      call f
      add ebx, eax
      call g
      dec ecx
      jnz top
      hlt
      .org 0xffb
    f:
      add edx, 3
      nop
      nop
      inc esi
      ret
      .org 0x2100
    g:
      lea edi, [rdi + rax * 2 + 1]
      ret
  `;

  it('in 64-bit mode go on into another page: every budget stops where stepping one at a time does', () => {
    const runs = interpreted(longMode(PAGES64));
    const steps = interpreted(longMode(PAGES64));
    const rsp0 = runs.cpu.state.gpr[Reg.RSP];
    runTo(runs);
    const regs = [Reg.RAX, Reg.RBX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.RSP];
    for (let n = 1; n <= 90; n++) {
      for (const m of [runs, steps]) {
        const s = m.cpu.state;
        s.rip[0] = CODE64;
        for (const r of regs) s.gpr[r] = 0;
        s.gpr[Reg.RSP] = rsp0;
        s.rflags[0] = 2;
        s.halted = false;
      }
      const stop = runs.cpu.run(n);
      let last: StopReason = StopReason.Budget;
      for (let i = 0; i < n && last === StopReason.Budget; i++) last = steps.cpu.run(1);
      expect(stop).toBe(last);
      for (const r of regs)
        expect(runs.cpu.state.gpr[r], `budget ${n} reg ${r}`).toBe(steps.cpu.state.gpr[r]);
      expect(runs.cpu.state.rip[0], `budget ${n}`).toBe(steps.cpu.state.rip[0]);
      expect(runs.cpu.state.rflags[0], `budget ${n}`).toBe(steps.cpu.state.rflags[0]);
    }
    expect(runs.cpu.state.gpr[Reg.RDX]).toBe(21);
    expect(runs.cpu.state.gpr[Reg.RSI]).toBe(7);
  });

  it('in 64-bit mode count the visits of another page as the run loop does: the same compiles', () => {
    // Each call's target, each return's, and the third page's first instruction (reached by
    // running off the second's end) is a boundary where a block may start. Run whole, the
    // straight runs count them; one instruction per run(), the run loop's own lookup does.
    const HOT = 5;
    const compiles = (iterations: number, budget: number) => {
      const m = longMode(PAGES64.replace('mov ecx, 7', `mov ecx, ${iterations}`));
      const jit = new Jit({ hot: HOT });
      m.cpu.jit = jit;
      let r: StopReason = StopReason.Budget;
      for (let i = 0; i < 10_000 && r === StopReason.Budget; i++) r = m.cpu.run(budget);
      expect(r).toBe(StopReason.Hlt);
      expect(m.cpu.state.gpr[Reg.RSI]).toBe(iterations);
      return jit.stats.compiled;
    };
    for (const n of [HOT - 2, HOT - 1, HOT, HOT + 1])
      expect(compiles(n, 1_000_000), `${n} iterations`).toBe(compiles(n, 1));
    expect(compiles(HOT + 1, 1_000_000)).toBeGreaterThan(0);
  });
});
