/**
 * CLI, PUSHF and MOV r, Sreg inside compiled blocks (rows.ts): a kernel's critical-section
 * helpers (native_save_fl, pv_native_irq_disable, sync_core) run compiled, in lockstep with the
 * interpreter on both backends; an interrupt raised while IF = 0 waits for STI as it does in the
 * interpreter, and CLI at CPL > IOPL faults (#GP) at that instruction in the middle of a block.
 */
import { describe, expect, it } from 'vitest';
import { Reg } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep, snapshot } from './jit-lockstep.js';
import { L, longMode, toUser } from './long.js';
import { inWasmMemory, type Machine } from './machine.js';
import { withMmioIrq } from './mmio-irq.js';
import { protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];
const JS = { hot: 2 } as const;
const WASM = { hot: 2, backend: 'wasm' } as const;

/** Instructions run compiled, as a share of all retired. */
function compiledShare(m: Machine): number {
  return (m.cpu.jit?.stats.instructions ?? 0) / m.cpu.instructionsRetired;
}

// The whole loop is one block only if CLI, PUSHF and the segment reads may be in one.
const LOOP32 = `
  mov ecx, 400
top:
  cli
  pushf
  pop eax
  mov edx, ss
  mov esi, cs
  add ebx, eax
  add ebx, edx
  xor ebx, esi
  dec ecx
  jnz top
  hlt`;

const LOOP64 = `
  mov ecx, 400
top:
  cli
  pushfq
  pop rax
  mov edx, ss
  mov esi, cs
  add rbx, rax
  add ebx, edx
  xor rbx, rsi
  pushf
  pop di
  dec ecx
  jnz top
  hlt`;

describe('CLI, PUSHF and MOV r, Sreg in blocks', () => {
  for (const [name, options] of [
    ['JS', JS],
    ['wasm', WASM],
  ] as const) {
    it(`${name}: a 32-bit loop of them runs compiled, in lockstep`, () => {
      const make = () => {
        const m = protectedMode(LOOP32);
        m.cpu.state.rflags[0] |= 0x200;
        m.cpu.stateChanged();
        return name === 'wasm' ? inWasmMemory(m) : m;
      };
      const r = lockstep(make, BUDGETS, options);
      expect(r.jit.cpu.state.halted).toBe(true);
      // IF was cleared by the first CLI: PUSHF pushed it clear (0x2 is the reserved bit 1).
      expect(r.jit.cpu.state.gpr[Reg.RAX] & 0x202).toBe(0x2);
      // With room for the whole loop in each run, it all runs compiled but its first rounds.
      expect(compiledShare(lockstep(make, [100_000], options).jit)).toBeGreaterThan(0.9);
    });

    it(`${name}: a 64-bit loop of them runs compiled, in lockstep`, () => {
      const make = () => {
        const m = longMode(LOOP64);
        m.cpu.state.rflags[0] |= 0x200;
        m.cpu.stateChanged();
        if (name !== 'wasm') return m;
        const w = inWasmMemory(m);
        wasmBackend(w.cpu).long = true;
        return w;
      };
      const r = lockstep(make, BUDGETS, options);
      expect(r.jit.cpu.state.halted).toBe(true);
      expect(r.jit.cpu.state.gpr[Reg.RDX]).toBe(r.jit.cpu.state.segSel[2]);
      expect(compiledShare(lockstep(make, [100_000], options).jit)).toBeGreaterThan(0.9);
    });
  }

  it('an interrupt raised inside a block after CLI is taken after STI, as the interpreter takes it', () => {
    // A device behind an MMIO page at 0x300000 (mmio-irq.ts): writing there raises IRQ vector 0x20.
    const make = (): Machine & { irqs: () => number } => {
      const m = protectedMode(`
        mov ecx, 300
        mov edi, 0x300000
      top:
        cli
        pushf
        pop eax
        test ecx, 3
        jnz skip
        mov [edi], ecx
        inc ebx
      skip:
        add eax, ecx
        sti
        nop
        dec ecx
        jnz top
        hlt`);
      // Vector 0x20: EBP counts the interrupts, EDX records ECX (where the loop was), IRET.
      return withMmioIrq(m, [0x45, 0x89, 0xca, 0xcf]); // inc ebp; mov edx, ecx; iret
    };
    const r = lockstep(make, [1, 2, 17, 1000]);
    const m = r.jit as Machine & { irqs: () => number };
    expect(m.irqs()).toBe(75);
    expect(m.cpu.state.gpr[Reg.RBP]).toBe(75);
    // The last one was raised at ECX = 4 and taken after the STI and the NOP of its shadow, before
    // the DEC.
    expect(m.cpu.state.gpr[Reg.RDX]).toBe(4);
    expect(m.cpu.jit?.stats.instructions).toBeGreaterThan(500);
  });

  it('CLI at CPL 3 with IOPL 0 is #GP(0) at the CLI in the middle of a compiled block', () => {
    // IOPL 3 while the block compiles; then IOPL 0 (from outside, in both machines alike).
    const src = `
      mov ecx, 100
    top:
      add eax, ecx
      cli
      inc ebx
      dec ecx
      jnz top
      hlt`;
    const make = (jit: boolean): Machine => {
      const m = longMode(src, { captureExceptions: true });
      toUser(m);
      m.cpu.state.rflags[0] |= 0x3000;
      m.cpu.jit = jit ? new Jit({ hot: 2 }) : null;
      return m;
    };
    const a = make(true);
    const b = make(false);
    a.cpu.run(200);
    b.cpu.run(200);
    expect(a.cpu.jit?.stats.compiled).toBeGreaterThan(0);
    for (const m of [a, b]) m.cpu.state.rflags[0] &= ~0x3000;
    a.cpu.run(1000);
    b.cpu.run(1000);
    expect(snapshot(a.cpu)).toEqual(snapshot(b.cpu));
    expect(a.exceptions.map((e) => [e.vector, e.errorCode])).toEqual([[13, 0]]);
    // Stopped at the CLI (ADD: 2 bytes), after the ADD of its iteration.
    expect(a.cpu.state.rip[0] - L.CODE).toBe(5 + 2);
  });
});
