/**
 * The block compiler (src/jit): compiled blocks leave the CPU exactly as the interpreter does —
 * at every budget stop, at a fault in the middle of a block, at interrupts, after self-modifying
 * code and address-space switches, under single-step — and its code cache stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { Reg, Seg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import type { Machine } from './machine.js';
import { withMmioIrq } from './mmio-irq.js';
import { CODE, pagedProtectedMode, protectedMode } from './pm.js';

/** Budgets that stop runs at every position inside blocks (1 and primes). */
const BUDGETS = [1, 3, 7, 13, 29, 61];

// Every specialised form and a sample of interpreted ones, in one loop.
const MIXED = `
  mov ecx, 300
  mov esi, 0x100000
  xor eax, eax
  xor ebx, ebx
top:
  mov edx, ecx
  and edx, 0x3f
  add eax, [esi + edx*4]
  imul eax, eax, 33
  xor eax, ecx
  mov [esi + edx*4], eax
  lea edi, [eax + ecx*2 + 5]
  movzx ebp, al
  movsx ebp, byte ptr [esi + 3]
  movzx ebp, word ptr [esi + 2]
  sub ebx, edi
  adc ebx, 7
  cmp ebx, eax
  setb dl
  shl edi, 3
  ror ebx, 5
  sar ebp, 7
  shr edi, 1
  jc carry
  shl ebp, 1
  jo carry
  shr ebx, 31
carry:
  sar ebx, 1
  sbb eax, 0
  test ecx, 4
  jz even
  push ebx
  call sub1
  pop ebx
  inc ebx
even:
  imul edi, ebx
  cmp ecx, 150
  jg above
  dec ebx
above:
  cmp eax, ebx
  jl less
  jmp next
less:
  neg ebx
next:
  dec ecx
  jnz top
  hlt
sub1:
  add ebx, 3
  mov [esi + 0x200], ebx
  ret
`;

describe('block compiler: exact at every boundary', () => {
  it('a loop of specialised and interpreted instructions leaves the interpreter state at every budget stop', () => {
    // Upper register halves left over (say from long mode): every 32-bit write clears its own.
    const make = () => {
      const m = protectedMode(MIXED);
      m.cpu.state.gprHigh.fill(0x1234);
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.gprHigh[Reg.RAX]).toBe(0);
    expect(r.jit.cpu.state.halted).toBe(true);
    const st = r.jit.cpu.jit?.stats;
    expect(st?.compiled).toBeGreaterThan(3);
    expect(st?.instructions).toBeGreaterThan(4000);
    expect(r.stops).toBeGreaterThan(300);
  });

  it('32-bit writes in compiled code clear the upper register halves, as the interpreter does', () => {
    const m = protectedMode(
      'top: add eax, 1; mov ebx, eax; lea ecx, [eax + 4]; cmp eax, 100000; jne top; hlt',
    );
    m.cpu.jit = new Jit({ hot: 2 });
    expect(m.cpu.run(1000)).toBe(StopReason.Budget);
    m.cpu.state.gprHigh.fill(0x1234);
    // 7 = one pass of the 5-instruction block, then ADD and MOV in the interpreter.
    const n = m.cpu.jit.stats.instructions;
    expect(m.cpu.run(7)).toBe(StopReason.Budget);
    expect(m.cpu.jit.stats.instructions - n).toBe(5);
    expect([...m.cpu.state.gprHigh.subarray(0, 4)]).toEqual([0, 0, 0x1234, 0]);
  });

  it('blocks that branch to each other chain through their exits, exactly, without lookups', () => {
    // Two blocks of one page that jump to each other (the JMP ends the first, the JNZ the second),
    // each its own function: each chains to the other through the decode its exit returns.
    const src =
      'mov ecx, 3000\ntop: add eax, ecx; xor ebx, eax; jmp mid\nmid: inc edx; dec ecx; jnz top\nhlt';
    const r = lockstep(() => protectedMode(src), [1, 3, 7, 13, 29, 61, 10_000], { hot: 2, regionBlocks: 1 });
    const st = r.jit.cpu.jit?.stats;
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(st?.linked).toBeGreaterThan(3000);
    expect(st?.linked).toBeLessThan(st?.runs ?? 0);
  });

  it('memory operands through a segment with a base go through Cpu.read/write, as in the interpreter', () => {
    // DS based at 0x2000 (not flat), ES flat: the block's per-call segment test picks the inline
    // TLB path for ES only; the loaded values tell the two addresses apart.
    const src = `mov ecx, 500
      mov esi, 0x100000
    top:
      add eax, [esi + ecx*4]
      mov [esi + ecx*4 + 8], eax
      add ebx, es:[esi + ecx*4]
      mov es:[esi + ecx*4 + 0x1000], ebx
      dec ecx
      jnz top
      hlt`;
    const make = () => {
      const m = protectedMode(src);
      for (let a = 0x100000; a < 0x104000; a += 4) m.mem.write32(a, Math.imul(a, 0x9e3779b1) >>> 0);
      m.cpu.state.segBase[Seg.DS] = 0x2000;
      m.cpu.updateSegFlags(Seg.DS);
      return m;
    };
    const r = lockstep(make, BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(2000);
    expect(r.jit.mem.read32(0x102000 + 8 + 4)).toBe(r.interp.mem.read32(0x102000 + 8 + 4));
    expect(r.jit.mem.read32(0x101000 + 4)).toBe(r.interp.mem.read32(0x101000 + 4));
    expect(r.jit.mem.read32(0x102000 + 8 + 4)).not.toBe(0);
  });

  it('a budget smaller than a block stops after exactly that many instructions', () => {
    const m = protectedMode('top: inc eax; inc ebx; inc ecx; inc edx; inc esi; inc edi; jmp top');
    m.cpu.jit = new Jit({ hot: 1 });
    m.cpu.run(100); // compile and warm up
    expect(m.cpu.jit.stats.instructions).toBeGreaterThan(50);
    const before = m.cpu.instructionsRetired;
    const eax = m.cpu.state.gpr[Reg.RAX];
    expect(m.cpu.run(3)).toBe(StopReason.Budget);
    expect(m.cpu.instructionsRetired - before).toBe(3);
    expect(m.cpu.run(5)).toBe(StopReason.Budget);
    expect(m.cpu.instructionsRetired - before).toBe(8);
    // 100 = 14 × 7 + 2: the 8 instructions from the third are INC ECX … JMP, INC EAX, INC EBX, INC ECX.
    expect(m.cpu.state.gpr[Reg.RAX] - eax).toBe(1);
    expect(m.cpu.state.rip[0]).toBe(CODE + 3);
  });
});

describe('block compiler: register values stay unsigned', () => {
  it('a negative IMUL result feeds the carry of a later ADD as the unsigned value it is', () => {
    // 0xFFFFFFF1 + 20 carries out: CF = 1. Kept as the signed -15 in a local, ADD's lazy CF
    // (result < operand) would say 5 < -15 is false.
    const src = `
      mov ecx, 50
      xor edx, edx
      xor esi, esi
    top:
      mov ebx, -3
      imul eax, ebx, 5
      add eax, 20
      adc edx, 0
      jc taken
      add esi, 1
    taken:
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), [1000]);
    expect(r.jit.cpu.state.gpr[Reg.RDX]).toBe(50);
    // ADC's own carry is clear: JC falls through every time.
    expect(r.jit.cpu.state.gpr[Reg.RSI]).toBe(50);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(200);
  });
});

describe('block compiler: faults', () => {
  it('a #PF in the middle of a block is reported at that instruction, with the registers and flags before it', () => {
    // The load faults once ESI reaches 4 MiB; ADD before it leaves lazy flags pending in the block.
    const src = `
      mov esi, 0x3f0000
    top:
      add ebx, 0x11
      mov eax, [esi]
      add esi, 0x1000
      cmp ecx, 0
      jmp top`;
    const r = lockstep(() => pagedProtectedMode(src), [1000]);
    const m = r.jit;
    expect(m.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x400000 }]);
    // RIP at the MOV (top + 6: ADD EBX, imm8 is 3 bytes), EBX added 17 times, flags of that ADD.
    expect(m.cpu.state.rip[0]).toBe(CODE + 5 + 3);
    expect(m.cpu.state.gpr[Reg.RBX]).toBe(0x11 * 17);
    expect(m.cpu.state.rflags[0] & 0x8d5).toBe(0x4); // PF only (0x121: two bits set → even parity)
    // The run that faults never returns to count its instructions: it entered compiled code once.
    expect(m.cpu.jit?.stats.entries).toBe(1);
  });

  it('#DE from DIV inside a block goes through the IDT with the state of the interpreter', () => {
    const src = `
      mov ecx, 40
    top:
      mov eax, 1000
      xor edx, edx
      lea ebx, [ecx - 10]
      add edi, 3
      div ebx
      add esi, eax
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src, { captureExceptions: true }), [1, 5, 1000]);
    expect(r.jit.exceptions.map((e) => e.vector)).toEqual([0]);
  });
});

describe('block compiler: interrupts', () => {
  it('an interrupt raised by an MMIO write inside a block is taken right after that instruction', () => {
    const src = `
      mov ecx, 200
      mov edi, 0x300000
    top:
      inc eax
      test ecx, 7
      jnz skip
      mov [edi], ecx
      inc ebx
      add eax, 2
    skip:
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => withMmioIrq(protectedMode(src), [0x45, 0xcf]), [1, 2, 17, 1000]); // inc ebp; iret;
    const m = r.jit as Machine & { irqs: () => number };
    expect(m.irqs()).toBe(25);
    expect(m.cpu.state.gpr[Reg.RBP]).toBe(25);
    expect(m.cpu.jit?.stats.instructions).toBeGreaterThan(500);
  });
});

describe('block compiler: code changes', () => {
  it('a write into the running block takes effect at the next instruction', () => {
    // At ECX = 500 the store hits the immediate of the MOV that follows it in the same block.
    const src = `
      mov ecx, 2000
      lea ebp, [patch + 1]
    top:
      mov edi, 0x100000
      cmp ecx, 500
      cmove edi, ebp
      mov dword ptr [edi], 7
    patch:
      mov eax, 1
      add ebx, eax
      dec ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), [1000, 7, 100_000]);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1500 + 500 * 7);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(5000);
  });

  it('a compiled block whose code is rewritten from another block is recompiled, not rerun', () => {
    const src = `
      mov ecx, 1000
    top:
      add ebx, eax
    patch:
      mov eax, 1
      dec ecx
      cmp ecx, 400
      jne skip
      mov dword ptr [patch + 1], 9
    skip:
      test ecx, ecx
      jnz top
      hlt`;
    const r = lockstep(() => protectedMode(src), [100_000]);
    // EAX is added before it is set: 0 once, 1 600 times, then 9 for the last 399 iterations.
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(600 + 399 * 9);
    // The loop compiles as one function (its blocks reach each other by direct branches), and
    // again after the store into it dropped its decodes.
    expect(r.jit.cpu.jit?.stats.compiled).toBeGreaterThanOrEqual(2);
  });

  it('MOV CR3 to another address space runs the code mapped there, not the block compiled before', () => {
    // Linear 4 MiB–8 MiB is frame 8 MiB in the first page directory and frame 12 MiB in the second.
    const src = `
      mov eax, 0x400000
      mov ecx, 1000
    a:
      call eax
      dec ecx
      jnz a
      mov edx, 0x501000
      mov cr3, edx
      mov ecx, 1000
    b:
      call eax
      dec ecx
      jnz b
      hlt`;
    const make = () => {
      const m = pagedProtectedMode(src);
      m.mem.write32(0x500000 + 4, 0x800083);
      m.mem.write32(0x501000, 0x83);
      m.mem.write32(0x501000 + 4, 0xc00083);
      m.mem.bytes.set([0x83, 0xc3, 0x01, 0xc3], 0x800000); // add ebx, 1; ret
      m.mem.bytes.set([0x83, 0xc3, 0x64, 0xc3], 0xc00000); // add ebx, 100; ret
      return m;
    };
    const r = lockstep(make, [1, 33, 100_000]);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(1000 + 100 * 1000);
    expect(r.jit.exceptions).toEqual([]);
  });
});

describe('block compiler: debugging', () => {
  it('with TF set, a hot block is single-stepped: #DB after one instruction', () => {
    const src = 'top: inc eax; add ebx, eax; dec ecx; jmp top';
    const make = () => protectedMode(src, { captureExceptions: true });
    const r = lockstep(make, [500], { hot: 1 }, 1);
    const m = r.jit;
    expect(m.cpu.jit?.stats.instructions).toBeGreaterThan(400);
    for (const x of [r.jit, r.interp]) {
      x.cpu.state.rflags[0] |= 0x100;
      x.cpu.stateChanged();
    }
    const before = m.cpu.instructionsRetired;
    expect(m.cpu.run(1000)).toBe(StopReason.Exception);
    expect(r.interp.cpu.run(1000)).toBe(StopReason.Exception);
    expect(m.exceptions.at(-1)?.vector).toBe(1);
    expect(m.cpu.instructionsRetired - before).toBe(1);
    expect(m.cpu.state.rip[0]).toBe(r.interp.cpu.state.rip[0]);
    expect(m.cpu.state.gpr).toEqual(r.interp.cpu.state.gpr);
  });
});

describe('block compiler: code cache', () => {
  it('where code generation is refused, the interpreter runs everything and run() does not throw', () => {
    const m = protectedMode('mov ecx, 1000\ntop: add eax, ecx\ndec ecx\njnz top\nhlt');
    const jit = new Jit({ hot: 2 });
    m.cpu.jit = jit;
    const saved = globalThis.Function;
    // What a Content-Security-Policy without 'unsafe-eval' makes `new Function` do.
    globalThis.Function = function refused() {
      throw new EvalError('Code generation from strings disallowed for this context');
    } as unknown as FunctionConstructor;
    try {
      expect(m.cpu.run(100_000)).toBe(StopReason.Hlt);
    } finally {
      globalThis.Function = saved;
    }
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(500500);
    expect(jit.unavailable).toMatch(/disallowed/);
    expect(jit.stats.compiled).toBe(0);
  });

  it('runs that stop inside a hot block do not compile its middle: only block starts count', () => {
    // A 10-instruction loop run 7 instructions at a time: every run ends and the next starts in
    // the middle of the block, stepping through it, and each middle offset is visited again and
    // again. Counted, those offsets compiled as blocks of their own (as many as the loop has
    // instructions); only the loop's head is a block start.
    const src =
      'mov ecx, 2000\ntop: inc eax; inc ebx; inc edx; inc esi; inc edi; add eax, ebx; add edx, esi; add edi, eax; dec ecx; jnz top\nhlt';
    const r = lockstep(() => protectedMode(src), [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 10_000], {
      hot: 4,
    });
    const j = r.jit.cpu.jit as Jit;
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(j.stats.compiled).toBe(1);
    expect(j.stats.instructions).toBeGreaterThan(10_000);
  });

  it('stays within its bound: a full cache is flushed and hot code compiles again', () => {
    // 64 distinct blocks (one per JMP target) visited round-robin, cache of 16.
    let src = 'mov ecx, 100\nouter:\n';
    for (let i = 0; i < 64; i++) src += `  add eax, ${i + 1}\n  jmp l${i}\nl${i}:\n`;
    src += '  dec ecx\n  jnz outer\n  hlt';
    const r = lockstep(() => protectedMode(src), [100_000], { hot: 2, maxBlocks: 16 });
    const j = r.jit.cpu.jit as Jit;
    expect(j.blocks).toBeLessThanOrEqual(16);
    expect(j.stats.flushes).toBeGreaterThan(10);
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(100 * ((64 * 65) / 2));
  });
});
