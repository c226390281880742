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
import { asm } from './asm.js';
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

/**
 * From CODE64 with the registers cleared (RSP `rsp0`), each budget 1…`max`: straight runs
 * (`runs`) stop where one instruction per run() (`steps`) does, with the same registers, RIP and
 * RFLAGS.
 */
function budgetsAgree(runs: Machine, steps: Machine, rsp0: number, max: number): void {
  const regs = [Reg.RAX, Reg.RBX, Reg.RCX, Reg.RDX, Reg.RSI, Reg.RDI, Reg.RSP];
  for (let n = 1; n <= max; n++) {
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
    expect(stop, `budget ${n}`).toBe(last);
    for (const r of regs) expect(runs.cpu.state.gpr[r], `budget ${n} reg ${r}`).toBe(steps.cpu.state.gpr[r]);
    expect(runs.cpu.state.rip[0], `budget ${n}`).toBe(steps.cpu.state.rip[0]);
    expect(runs.cpu.state.rflags[0], `budget ${n}`).toBe(steps.cpu.state.rflags[0]);
  }
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
    budgetsAgree(runs, steps, rsp0, 90);
    expect(runs.cpu.state.gpr[Reg.RDX]).toBe(21);
    expect(runs.cpu.state.gpr[Reg.RSI]).toBe(7);
  });

  it('in 64-bit mode a fault after the run crossed 4 GiB leaves RIP[63:32] at the faulting instruction', () => {
    // Code at 0xFFFFFFF0 runs on into 0x1_0000_0000 (both mapped by 2 MiB pages) and faults
    // there. The second time its pages' decodes and TLB entries are known, so one straight run
    // goes from the JMP through both: the fault's RIP must carry the new RIP[63:32].
    const m = interpreted(
      longMode(`mov rax, 0x0000800000000000; mov ecx, 0xfffffff0; xor edx, edx; xor esi, esi; jmp rcx`, {
        captureExceptions: true,
      }),
    );
    const pdpt = L.PML4 + 0x1000;
    m.mem.write32(pdpt + 3 * 8, (L.PML4 + 0x3000) | 7);
    m.mem.write32(L.PML4 + 0x3000 + 511 * 8, 0x400000 | 0x87);
    m.mem.write32(pdpt + 4 * 8, (L.PML4 + 0x4000) | 7);
    m.mem.write32(L.PML4 + 0x4000, 0x600000 | 0x87);
    m.mem.bytes.set(asm('inc edx\n'.repeat(8), { bits: 64, origin: 0xfffffff0 }), 0x5ffff0);
    m.mem.bytes.set(asm('inc esi\nmov rdi, [rax]\nhlt', { bits: 64, origin: 0 }), 0x600000);
    for (let pass = 0; pass < 2; pass++) {
      const s = m.cpu.state;
      s.rip[0] = CODE64;
      s.rip[1] = 0;
      m.exceptions.length = 0;
      expect(m.cpu.run(1000)).toBe(StopReason.Exception);
      expect(m.exceptions[0]?.vector).toBe(GP);
      expect(s.gpr[Reg.RDX]).toBe(8);
      expect(s.gpr[Reg.RSI]).toBe(1);
      expect([s.rip[1], s.rip[0]], `pass ${pass}`).toEqual([1, 2]);
    }
  });

  // A loop on one page whose Jcc alternates between its target and its fall-through, whose RET
  // goes back to two call sites in turn (the same branch, two targets), and whose body rewrites
  // the immediate at the loop's head every iteration (the page's decodes, and every link between
  // them, dropped between two iterations).
  const LINKS64 = `
      mov ecx, 9
    top:
      mov esi, 1
      add edi, esi
      test ecx, 1
      jz even
      add ebx, 3
      call f
      jmp join
    even:
      call f
      add ebx, 7
    join:
      cmp ecx, 4
      jne keep
      mov dword ptr [rip + top + 1], ecx
    keep:
      dec ecx
      jnz top
      hlt
    f:
      add edx, ecx
      ret
  `;

  it("in 64-bit mode follow a branch's target and fall-through links: every budget stops where stepping does", () => {
    const runs = interpreted(longMode(LINKS64));
    const steps = interpreted(longMode(LINKS64));
    const rsp0 = runs.cpu.state.gpr[Reg.RSP];
    // The whole program first on both (the decodes made and linked, dropped by the store at the
    // loop's head, made and linked again; the head's immediate now 4), then from the start with
    // every budget, the links of the runs before in place, against one instruction per run().
    for (const m of [runs, steps]) {
      runTo(m);
      expect(m.cpu.state.gpr[Reg.RDI]).toBe(6 * 1 + 3 * 4);
      expect(m.cpu.stats.codeInvalidations).toBe(1);
    }
    budgetsAgree(runs, steps, rsp0, 130);
    expect(runs.cpu.state.gpr[Reg.RDI]).toBe(9 * 4);
  });

  // Cold code (the outer loop: fewer visits than the threshold) that runs by falling through into
  // a hot inner loop, compiled after its first visits: the straight run meets the block there.
  const INTO_BLOCK64 = `
      mov ecx, 12
    outer:
      mov edx, 60
      lea esi, [rsi + rcx * 2]
      nop
    inner:
      add eax, edx
      dec edx
      jnz inner
      add ebx, eax
      dec ecx
      jnz outer
      hlt
  `;

  it('in 64-bit mode enter a compiled block the run meets: every budget as the interpreter, the same compiles', () => {
    const HOT = 40;
    const fresh = (jit: boolean) => {
      const m = longMode(INTO_BLOCK64);
      m.cpu.jit = jit ? new Jit({ hot: HOT }) : null;
      return m;
    };
    const regs = [Reg.RAX, Reg.RBX, Reg.RCX, Reg.RDX, Reg.RSI];
    const whole = fresh(true);
    runTo(whole);
    const jit = whole.cpu.jit as Jit;
    expect(jit.stats.runEntries).toBeGreaterThan(0);
    expect(jit.stats.compiled).toBeGreaterThan(0);
    // One instruction per run(): no straight run, no block (the budget is too small), but the
    // run loop's lookups count the same visits and compile the same blocks.
    const stepped = fresh(true);
    for (let i = 0; i < 100_000 && !stepped.cpu.state.halted; i++) stepped.cpu.run(1);
    expect((stepped.cpu.jit as Jit).stats.compiled).toBe(jit.stats.compiled);
    for (const r of regs) expect(stepped.cpu.state.gpr[r]).toBe(whole.cpu.state.gpr[r]);
    // The blocks compiled, from the start again at every budget against the interpreter stepping.
    const steps = fresh(false);
    for (let n = 1; n <= 200; n += n < 60 ? 1 : 7) {
      for (const m of [whole, steps]) {
        const s = m.cpu.state;
        s.rip[0] = CODE64;
        for (const r of regs) s.gpr[r] = 0;
        s.rflags[0] = 2;
        s.halted = false;
      }
      const stop = whole.cpu.run(n);
      let last: StopReason = StopReason.Budget;
      for (let i = 0; i < n && last === StopReason.Budget; i++) last = steps.cpu.run(1);
      expect(stop, `budget ${n}`).toBe(last);
      for (const r of regs)
        expect(whole.cpu.state.gpr[r], `budget ${n} reg ${r}`).toBe(steps.cpu.state.gpr[r]);
      expect(whole.cpu.state.rip[0], `budget ${n}`).toBe(steps.cpu.state.rip[0]);
      expect(whole.cpu.state.rflags[0], `budget ${n}`).toBe(steps.cpu.state.rflags[0]);
    }
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
