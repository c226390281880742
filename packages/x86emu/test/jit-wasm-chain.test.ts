/**
 * Chaining of 64-bit wasm functions (src/jit/wasm/chain.ts): a function's exit goes through the
 * jump cache straight to the next compiled function, in wasm. Each test runs a program whose hot
 * path crosses pages by calls, returns and indirect calls, in lockstep with the interpreter at
 * budgets that stop inside chains, and checks that chains did run (hops); the ones about
 * invalidation change what code a RIP runs between two hops (INVLPG, a CR3 load, a store into the
 * target) and fail if the jump cache keeps the old function; one raises an interrupt from a device
 * in the middle of a chain.
 */
import { describe, expect, it } from 'vitest';
import {
  Cpu,
  type FlatPhysicalMemory,
  type InterruptControllerOps,
  Reg,
  WasmGuestMemory,
} from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep } from './jit-lockstep.js';
import { gate64, L, longMode } from './long.js';
import type { Machine } from './machine.js';

const WASM = { hot: 2, backend: 'wasm' } as const;
const BUDGETS = [1, 7, 61, 10_000];

/** Hops taken from one function to the next in `m`'s chains. */
const hops = (m: Machine): number => wasmBackend(m.cpu).chain?.hops ?? 0;

/** RAM in a WebAssembly.Memory but frame 0x300, a device: a write there calls `onWrite`. */
class MmioMemory extends WasmGuestMemory {
  onWrite = (): void => {};
  override pageView(pfn: number): Uint8Array | null {
    return pfn === 0x300 ? null : super.pageView(pfn);
  }
  override write32(pa: number, v: number): void {
    if (pa >>> 12 === 0x300) this.onWrite();
    else super.write32(pa, v);
  }
}

/**
 * `longMode(src)` on RAM in a WebAssembly.Memory (64-bit regions go to wasm and chain), with
 * `prepare` applied to its memory first; a 4-byte write to frame 0x300 (MMIO: the compiled code's
 * slow path) raises IRQ vector 0x20 (`irqs` counts those taken).
 */
function machine(src: string, prepare?: (mem: FlatPhysicalMemory) => void): Machine & { irqs: () => number } {
  const m = longMode(src, { captureExceptions: true });
  prepare?.(m.mem);
  let pending = false;
  let taken = 0;
  const interrupts: InterruptControllerOps = {
    hasInterrupt: () => pending,
    acknowledge: () => {
      pending = false;
      taken++;
      return 0x20;
    },
  };
  const w = new MmioMemory(m.mem.bytes.length);
  w.bytes.set(m.mem.bytes);
  w.onWrite = () => {
    pending = true;
  };
  const cpu = new Cpu({
    memory: w,
    io: m.cpu.io,
    interrupts,
    intercepts: m.intercepts,
    state: m.cpu.state,
    jit: false,
  });
  return { ...m, cpu, mem: w as unknown as FlatPhysicalMemory, irqs: () => taken };
}

/** PD entry `n` (default 1: 2–4 MiB) through a page table at `pt`, 4 KiB pages identity-mapped but `remap`. */
function fourK(
  mem: FlatPhysicalMemory,
  pd: number,
  pt: number,
  remap: Record<number, number> = {},
  n = 1,
): void {
  mem.write32(pd + 8 * n, pt | 7);
  mem.write32(pd + 8 * n + 4, 0);
  for (let i = 0; i < 512; i++) {
    const lin = n * 0x200000 + i * 4096;
    mem.write32(pt + i * 8, (remap[lin] ?? lin) | 7);
    mem.write32(pt + i * 8 + 4, 0);
  }
}

// Calls and returns across three pages; the flags of f2's CMP are read by f1's ADC after the RET
// (the flag record goes from one function to the next); an indirect call (a handler: an exit
// whose target only the jump cache knows); at RCX = 5, a #PF in the second function of a chain.
const CALLS = `
  mov ecx, 3000
  xor eax, eax
  lea r8, [rip + f2]
top:
  call f1
  add rax, rdx
  dec ecx
  jnz top
  hlt
.balign 4096
f1:
  lea rdx, [rax + 3]
  call r8
  adc rdx, rbx
  ret
.balign 4096
f2:
  mov rbx, rdx
  shl rbx, 3
  add rbx, rcx
  cmp ecx, 5
  jne 1f
  mov rax, [0x7f000000]
1:
  cmp rbx, 0x40000
  ret
`;

describe('wasm backend, 64-bit chains', () => {
  it('calls, returns and an indirect call across pages chain in wasm, flags carried, equal to the interpreter at every stop, up to a #PF in a chained function', () => {
    const r = lockstep(() => machine(CALLS), BUDGETS, WASM);
    // The #PF of `mov rax, [0x7f000000]` at RCX = 5, reported at that instruction.
    expect(r.jit.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x7f000000]]);
    expect(r.jit.cpu.state.gpr[Reg.RCX]).toBe(5);
    expect(hops(r.jit)).toBeGreaterThan(3000);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(20_000);
  });

  // X = 0x203000 maps frame 0x203000 (`mov edx, 1; ret`), after the remap frame 0x204000 (`mov
  // edx, 2; ret`); the loop calls X indirectly (R8) and at ECX = 1000 remaps it, by a PTE store and
  // INVLPG, or by a CR3 load of tables that map it so. EAX = 1001 * 1 + 999 * 2.
  const CALL_X = (remap: string) => `
  mov ecx, 2000
  xor eax, eax
  mov r8, 0x203000
  mov rsi, 0x380000 + 3 * 8
  mov r9, 0x390000
top:
  call r8
  add eax, edx
  cmp ecx, 1000
  jne 1f
  ${remap}
1:
  dec ecx
  jnz top
  hlt
`;
  const X_CODE = (mem: FlatPhysicalMemory): void => {
    mem.bytes.set([0xba, 1, 0, 0, 0, 0xc3], 0x203000); // mov edx, 1; ret
    mem.bytes.set([0xba, 2, 0, 0, 0, 0xc3], 0x204000); // mov edx, 2; ret
  };

  // Three functions on three pages, each around an instruction its module runs through a handler
  // (MUL, MOV from DS, PUSHF); the code cache is flushed every 8 runs (as when it is full), which
  // drops the handler sites (numbered across modules) and voids the jump cache: a function of
  // before a flush reached by a hop would call the site its number now names, another handler.
  it('handler calls stay each instruction its own across code-cache flushes (the sites are renumbered, the jump cache voided)', () => {
    const src = `
  mov ecx, 20000
  xor eax, eax
  mov rbx, 7
top:
  call f1
  call f2
  call f3
  add rbx, rax
  dec ecx
  jnz top
  hlt
.balign 4096
f1:
  mov r10, rcx
  mov rax, rbx
  mul r10
  add rsi, rax
  ret
.balign 4096
f2:
  mov r11, ds
  add rdi, r11
  add rdi, rcx
  ret
.balign 4096
f3:
  pushfq
  pop r12
  and r12, 0xff
  add rsi, r12
  ret
`;
    const r = lockstep(
      () => machine(src),
      BUDGETS,
      WASM,
      100_000,
      (n, m) => {
        if (n % 8 === 7) (m.cpu.jit as Jit).flush(m.cpu);
      },
    );
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.jit?.stats.flushes).toBeGreaterThan(5);
    expect(wasmBackend(r.jit.cpu).stats.handlerSites).toBeGreaterThan(20);
    expect(hops(r.jit)).toBeGreaterThan(10_000);
  });

  it('slots reused after the wrap never run another region at a RIP the jump cache holds', () => {
    // Twelve functions on twelve pages, each called 60 times in turn from the same loop, and
    // six slots: the loop's regions stay hot across every wrap while each new function takes
    // the next slot. Before the fix a region that kept its slot across a wrap got entries of
    // the new generation to a slot the count handed to another region later, whose function then
    // ran at its RIP.
    const fns = Array.from({ length: 12 }, (_, k) => k);
    const src = `
  xor eax, eax
  lea r8, [rip + f0]
  xor ebx, ebx
outer:
  mov ecx, 60
inner:
  lea r9, [r8 + rbx]
  call r9
  dec ecx
  jnz inner
  add rbx, 4096
  cmp rbx, ${12 * 4096}
  jne outer
  hlt
${fns
  .map(
    (k) => `.balign 4096
f${k}:
  add rax, ${k + 1}
  ret`,
  )
  .join('\n')}
`;
    const r = lockstep(
      () => {
        const m = machine(src);
        const ch = wasmBackend(m.cpu).chain;
        if (ch !== null) ch.maxSlots = 6;
        return m;
      },
      BUDGETS,
      WASM,
    );
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(60 * 78);
    expect(wasmBackend(r.jit.cpu).chain?.stats.wraps).toBeGreaterThan(1);
    expect(hops(r.jit)).toBeGreaterThan(500);
  });

  it('INVLPG between two hops: the next call of the remapped RIP runs the new frame', () => {
    const make = () =>
      machine(CALL_X('mov dword ptr [rsi], 0x204007\n  invlpg [r8]'), (mem) => {
        fourK(mem, L.PML4 + 0x2000, 0x380000);
        X_CODE(mem);
      });
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(1001 + 999 * 2);
    expect(hops(r.jit)).toBeGreaterThan(1000);
  });

  for (const pge of [false, true])
    it(`a CR3 load between two hops: the next call of the RIP runs the frame the new tables map (CR4.PGE ${pge ? '1: the loop on a global page, X not' : '0'})`, () => {
      const make = () => {
        const m = machine(CALL_X('mov cr3, r9'), (mem) => {
          // The loop's 2 MiB page global (G, bit 8) in both hierarchies.
          mem.write32(L.PML4 + 0x2000, 0x187);
          fourK(mem, L.PML4 + 0x2000, 0x380000);
          // A second hierarchy at 0x390000: the same but X → 0x204000.
          mem.write32(0x390000, 0x391000 | 7);
          mem.write32(0x391000, 0x392000 | 7);
          for (let i = 0; i < 8; i++)
            mem.write32(0x392000 + i * 8, ((i << 21) | (i === 0 ? 0x187 : 0x87)) >>> 0);
          fourK(mem, 0x392000, 0x393000, { 2109440: 0x204000 });
          X_CODE(mem);
        });
        if (pge) {
          m.cpu.state.cr[4] |= 0x80;
          m.cpu.stateChanged();
        }
        return m;
      };
      const r = lockstep(make, BUDGETS, WASM);
      expect(r.jit.cpu.state.halted).toBe(true);
      expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(1001 + 999 * 2);
      expect(hops(r.jit)).toBeGreaterThan(1000);
    });

  it('a store into a chained target between two hops: the next call runs the new code', () => {
    // At ECX = 1000 the loop patches the immediate of `mov edx, 1` in `target` (another page).
    const src = `
  mov ecx, 2000
  xor eax, eax
  lea r8, [rip + target + 1]
top:
  call target
  add eax, edx
  cmp ecx, 1000
  jne 1f
  mov byte ptr [r8], 2
1:
  dec ecx
  jnz top
  hlt
.balign 4096
target:
  mov edx, 1
  ret
`;
    const r = lockstep(() => machine(src), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(1001 + 999 * 2);
    expect(hops(r.jit)).toBeGreaterThan(1000);
  });

  it('a 64-bit region keeps its forward blocks: both arms of an if/else in one function, a fault in a later block and a store into one exact', () => {
    // f: an if/else on ECX's low bit and a join, no loop: with regions of blocks on a cycle only
    // each arm and the join were functions of their own (a hop each). The join's immediate is
    // patched at ECX = 700; the odd arm reads unmapped memory at ECX = 5 (#PF in its block).
    const src = `
  mov ecx, 1000
  xor eax, eax
  lea r8, [rip + patch + 1]
top:
  call f
  cmp ecx, 700
  jne 1f
  mov byte ptr [r8], 3
1:
  dec ecx
  jnz top
  hlt
.balign 4096
f:
  test ecx, 1
  jz even
  add eax, 10
  cmp ecx, 5
  jne join
  mov rdx, [0x7f000000]
  jmp join
even:
  add eax, 100
join:
  add eax, ebx
patch:
  mov ebx, 1
  ret
`;
    const r = lockstep(() => machine(src), BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x7f000000]]);
    expect(r.jit.cpu.state.gpr[Reg.RCX]).toBe(5);
    // 996 calls (the last faults after its ADD): 498 odd, 498 even; each of the 995 joins adds the
    // EBX the call before set: 0 first, 1 from the calls up to ECX = 700, then 3.
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(498 * 10 + 498 * 100 + 301 * 1 + 693 * 3);
    // A call and a return a hop each, not the arms and the join too.
    const jit = r.jit.cpu.jit as Jit;
    expect(hops(r.jit) + jit.stats.entries).toBeLessThan(995 * 3);
  });

  it('a handler call stores the registers written on any path to it inside the function: earlier blocks, a loop back', () => {
    // g: RDI written in its entry block, R9 in an arm, RSI in the loop's latch, which jumps back to
    // the loop's head, where PUSHFQ is a handler call: before it the function must store them all
    // (it reloads every register it holds after it), though its own block wrote none of them
    // (compile64.ts writtenBefore); exits at every budget stop, after the loop, and a #PF at
    // RCX = 7 after it.
    const src = `
  mov ecx, 1000
  xor eax, eax
  xor esi, esi
top:
  call g
  add rax, rsi
  add rax, rdi
  add rax, r9
  dec ecx
  jnz top
  hlt
.balign 4096
g:
  mov edx, 4
  mov rdi, rcx
1:
  pushfq
  pop r11
  test edx, 1
  jz 2f
  add r9, rdx
2:
  dec edx
  lea rsi, [rsi + rdx + 1]
  jnz 1b
  cmp ecx, 7
  jne 3f
  mov r10, [0x7f000000]
3:
  ret
`;
    const r = lockstep(() => machine(src), BUDGETS, WASM);
    expect(r.jit.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x7f000000]]);
    expect(r.jit.cpu.state.gpr[Reg.RCX]).toBe(7);
    // 994 calls (the last faults after its loop), each adding 4 + 3 + 2 + 1 to RSI, 3 + 1 to R9.
    expect(r.jit.cpu.state.gpr[Reg.RSI]).toBe(994 * 10);
    expect(r.jit.cpu.state.gpr[Reg.R9]).toBe(994 * 4);
    const jit = r.jit.cpu.jit as Jit;
    expect(hops(r.jit) + jit.stats.entries).toBeLessThan(994 * 4);
  });

  it('with X86EMU_JIT_REGIONS=cyclic a 64-bit region keeps only its blocks on a loop', () => {
    expect(new Jit({ backend: 'wasm' }).forwardBlocks).toBe(true);
    expect(new Jit({ backend: 'js' }).forwardBlocks).toBe(false);
    const was = process.env.X86EMU_JIT_REGIONS;
    process.env.X86EMU_JIT_REGIONS = 'cyclic';
    try {
      expect(new Jit({ backend: 'wasm' }).forwardBlocks).toBe(false);
    } finally {
      if (was === undefined) delete process.env.X86EMU_JIT_REGIONS;
      else process.env.X86EMU_JIT_REGIONS = was;
    }
  });

  it('an interrupt raised by a device write in the middle of a chain is taken right after that instruction', () => {
    // Every 8th call, f1 writes the device (IRQ 0x20, whose handler counts in RBP) and goes on.
    const src = `
  mov ecx, 3000
  xor ebp, ebp
  mov rdi, 0x300000
  sti
top:
  call f1
  dec ecx
  jnz top
  hlt
.balign 4096
f1:
  inc rax
  test ecx, 7
  jnz 1f
  mov [rdi], ecx
  inc rbx
1:
  add rax, 2
  ret
.balign 4096
irq:
  inc rbp
  iretq
`;
    const make = () => {
      const m = machine(src);
      gate64(m.mem, 0x20, L.CODE + 0x2000);
      return m;
    };
    const r = lockstep(make, BUDGETS, WASM);
    const m = r.jit as ReturnType<typeof machine>;
    expect(m.cpu.state.halted).toBe(true);
    expect(m.irqs()).toBe(375);
    expect(m.cpu.state.gpr[Reg.RBP]).toBe(375);
    expect(hops(m)).toBeGreaterThan(3000);
  });

  // A function at 0x3feff0 whose `mov edx, imm32` straddles into the page at 0x3ff000 (the same 2
  // MiB), then `add ebx, edx; ret`; the loop calls it through R8, and at ECX = 1000 changes what the
  // next page holds: `remap`. Frame 0x3fd000 holds the other immediate.
  const STRADDLE = (remap: string) => `
  mov ecx, 2000
  mov r8, 0x3feff0
  mov rsi, 0x380000 + 0x1ff * 8
  mov r9, 0x390000
  mov r10, 0x3ff000
top:
  call r8
  cmp ecx, 1000
  jne 1f
  ${remap}
1:
  dec ecx
  jnz top
  hlt
`;
  const straddleCode = (mem: FlatPhysicalMemory): void => {
    mem.bytes.set([...Array(14).fill(0x90), 0xba, 0x78], 0x3feff0);
    mem.bytes.set([0x56, 0x34, 0x12, 0x01, 0xd3, 0xc3], 0x3ff000);
    mem.bytes.set([0x9a, 0xbc, 0xde, 0x01, 0xd3, 0xc3], 0x3fd000);
  };
  const OLD_NEW = (1001 * 0x12345678 + 999 * 0xdebc9a78) % 2 ** 32;
  /** Functions entered from JavaScript (`Jit.enter`'s runs): every call of a function with no entry. */
  const jsRuns = (m: Machine): number => m.cpu.jit?.stats.runs ?? 0;
  /** The straddling loop with `body` at ECX = 1000, the page at 0x3ff000 mapped 4 KiB at a time. */
  const straddleMachine = (body: string) => () =>
    machine(STRADDLE(body), (mem) => {
      fourK(mem, L.PML4 + 0x2000, 0x380000);
      straddleCode(mem);
    });
  /** `make` against the interpreter: both immediates summed, the function chained to (few runs from JavaScript). */
  const straddleLockstep = (make: () => Machine) => {
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(OLD_NEW);
    expect(jsRuns(r.jit)).toBeLessThan(300);
    return r;
  };

  it('a function whose last instruction straddles into the next page of its 2 MiB is chained to; INVLPG of that page voids its entry', () => {
    // 2,000 calls: without its entry each came back to JavaScript.
    const r = straddleLockstep(straddleMachine('mov dword ptr [rsi], 0x3fd007\n  invlpg [r10]'));
    expect(hops(r.jit)).toBeGreaterThan(3000);
  });

  it('a straddling function chained to sees a store into its next page', () => {
    // At ECX = 1000 the loop rewrites the immediate's bytes in the next page (code-frame write).
    straddleLockstep(straddleMachine('mov dword ptr [r10 - 2], 0xbc9a78ba\n  mov byte ptr [r10 + 2], 0xde'));
  });

  it('a straddling function whose first page is global and next page is not: its entry goes at a CR3 load (CR4.PGE 1)', () => {
    const make = () => {
      const m = machine(STRADDLE('mov cr3, r9'), (mem) => {
        // The loop's 2 MiB page global in both hierarchies; the straddling function's first page
        // global (G, bit 8), its next page not.
        mem.write32(L.PML4 + 0x2000, 0x187);
        fourK(mem, L.PML4 + 0x2000, 0x380000);
        mem.write32(0x380000 + 0x1fe * 8, 0x3fe107);
        // A second hierarchy at 0x390000: the same but 0x3ff000 → frame 0x3fd000.
        mem.write32(0x390000, 0x391000 | 7);
        mem.write32(0x391000, 0x392000 | 7);
        for (let i = 0; i < 8; i++)
          mem.write32(0x392000 + i * 8, ((i << 21) | (i === 0 ? 0x187 : 0x87)) >>> 0);
        fourK(mem, 0x392000, 0x393000, { 4190208: 0x3fd000 }); // 0x3ff000
        mem.write32(0x393000 + 0x1fe * 8, 0x3fe107);
        straddleCode(mem);
      });
      m.cpu.state.cr[4] |= 0x80;
      m.cpu.stateChanged();
      return m;
    };
    straddleLockstep(make);
  });

  it('a function whose last instruction straddles into another 2 MiB gets no entry: the next page remapped by INVLPG there is seen', () => {
    // At 0x3ffff0: 14 NOPs and `mov edx, imm32` whose imm32 ends in the page at 0x400000 (the next
    // PD entry), then `add ebx, edx; ret`; at ECX = 1000 that page is remapped to the frame at
    // 0x402000 (another imm32) and INVLPG'd: an entry at 0x3ffff0 would not be voided (another
    // 2 MiB), so it must not exist (chain.ts `fill`).
    const src = `
  mov ecx, 2000
  mov r8, 0x3ffff0
  mov rsi, 0x381000
  mov r9, 0x400000
top:
  call r8
  cmp ecx, 1000
  jne 1f
  mov dword ptr [rsi], 0x402007
  invlpg [r9]
1:
  dec ecx
  jnz top
  hlt
`;
    const make = () =>
      machine(src, (mem) => {
        fourK(mem, L.PML4 + 0x2000, 0x380000);
        fourK(mem, L.PML4 + 0x2000, 0x381000, {}, 2);
        mem.bytes.set([...Array(14).fill(0x90), 0xba, 0x78], 0x3ffff0);
        mem.bytes.set([0x56, 0x34, 0x12, 0x01, 0xd3, 0xc3], 0x400000);
        mem.bytes.set([0x9a, 0xbc, 0xde, 0x01, 0xd3, 0xc3], 0x402000);
      });
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(OLD_NEW);
    expect(hops(r.jit)).toBeGreaterThan(1000);
  });

  it('a write into one code page voids only its functions: the chains through the other pages go on (SMC in that page exact)', () => {
    // f3 stores into its own page (data next to code: its decodes go at every call, fetch.ts
    // invalidateCodePage) between calls of f1 and f2 on two other pages. When that voided the
    // whole jump cache, every function came back to JavaScript at every iteration; now only f3's
    // page is run from there. At ECX = 700 the loop patches f3's immediate (SMC of a function
    // that may be compiled: its entry must go).
    const src = `
  mov ecx, 2000
  xor eax, eax
  lea r8, [rip + f3 + 1]
top:
  call f1
  call f2
  call f3
  cmp ecx, 700
  jne 1f
  mov byte ptr [r8], 5
1:
  dec ecx
  jnz top
  hlt
.balign 4096
f1:
  add eax, 3
  ret
.balign 4096
f2:
  add eax, ecx
  ret
.balign 4096
f3:
  mov edx, 1
  add eax, edx
  mov [rip + data], ecx
  ret
data:
  .long 0
`;
    const r = lockstep(() => machine(src), BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(3 * 2000 + (2000 * 2001) / 2 + 1301 + 699 * 5);
    expect(r.jit.cpu.stats.codeInvalidations).toBeGreaterThan(1900);
    // One run from JavaScript an iteration (after f3, whose page is decoded again each time), not
    // five (9,995 runs and no hop before).
    expect(jsRuns(r.jit)).toBeLessThan(3000);
    expect(hops(r.jit)).toBeGreaterThan(6000);
  });

  it('two functions whose RIPs the old index fold put on one jump-cache entry both keep theirs', () => {
    // f at 0x280000 and g at 0x290010, called in turn: (RIP ^ RIP >>> 12) & 16383 is 640 for
    // both, and each call took the other's entry (a return to JavaScript a call); their
    // multiplicative indices (chain.ts jcIndex) differ.
    const src = `
  mov ecx, 2000
  xor eax, eax
  mov r8, 0x280000
  mov r9, 0x290010
top:
  call r8
  call r9
  dec ecx
  jnz top
  hlt
`;
    const make = () =>
      machine(src, (mem) => {
        mem.bytes.set([0x83, 0xc0, 0x03, 0xc3], 0x280000); // add eax, 3; ret
        mem.bytes.set([0x01, 0xc8, 0xc3], 0x290010); // add eax, ecx; ret
      });
    const r = lockstep(make, BUDGETS, WASM);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RAX]).toBe(3 * 2000 + (2000 * 2001) / 2);
    // 8 runs from JavaScript and 7,987 hops; 4,000 and 3,995 with the fold.
    expect(jsRuns(r.jit)).toBeLessThan(100);
    expect(hops(r.jit)).toBeGreaterThan(7000);
  });
});
