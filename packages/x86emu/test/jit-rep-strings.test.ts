/**
 * REP MOVS and REP STOS inside compiled 64-bit code (src/jit/rows.ts REP_IN_BLOCK): a block holds
 * them, their handler runs from the compiled code (wasm: through `h64`, its iterations beyond the
 * first taken off the function's room and the chain's, ST_REPX; JS: off `runLimit` as in the
 * interpreter) and the block goes on after them. Each test runs a program in lockstep with the
 * interpreter at budgets that stop in the middle of strings (both backends), and checks that the
 * loop holding the REP did run as compiled code, not one run-loop entry per REP as before.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, type FlatPhysicalMemory, Reg, WasmGuestMemory } from '../src/index.js';
import type { JitOptions } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import { L, longMode } from './long.js';
import type { Machine } from './machine.js';

const BACKENDS: [string, JitOptions][] = [
  ['wasm', { hot: 2, backend: 'wasm' }],
  ['js', { hot: 2, backend: 'js' }],
];
// 4097 stops a string one element past a 4096-element chunk; 1 and 2 at every instruction.
const BUDGETS = [1, 7, 61, 2, 4097, 10_000, 333];

/** RAM in a WebAssembly.Memory but frame 0x300, a device whose 4-byte writes are counted. */
class MmioMemory extends WasmGuestMemory {
  writes = 0;
  override pageView(pfn: number): Uint8Array | null {
    return pfn === 0x300 ? null : super.pageView(pfn);
  }
  override write32(pa: number, v: number): void {
    if (pa >>> 12 === 0x300) this.writes++;
    else super.write32(pa, v);
  }
  override read32(pa: number): number {
    return pa >>> 12 === 0x300 ? 0x5a5a5a5a : super.read32(pa);
  }
}

/** `longMode(src)` on RAM in a WebAssembly.Memory (its regions compile inline in wasm), `prepare` applied first. */
function machine(src: string, prepare?: (mem: FlatPhysicalMemory, m: Machine) => void): Machine {
  const m = longMode(src, { captureExceptions: true });
  prepare?.(m.mem, m);
  const w = new MmioMemory(m.mem.bytes.length);
  w.bytes.set(m.mem.bytes);
  const cpu = new Cpu({ memory: w, io: m.cpu.io, intercepts: m.intercepts, state: m.cpu.state, jit: false });
  return { ...m, cpu, mem: w as unknown as FlatPhysicalMemory };
}

/** 2–4 MiB mapped by 4 KiB pages through a page table at 0x380000, identity but page `hole` not present. */
function withHole(mem: FlatPhysicalMemory, hole: number): void {
  const pd = L.PML4 + 0x2000;
  const pt = 0x380000;
  mem.write32(pd + 8, pt | 7);
  mem.write32(pd + 12, 0);
  for (let i = 0; i < 512; i++) {
    const lin = 0x200000 + i * 4096;
    mem.write32(pt + i * 8, lin === hole ? 0 : lin | 7);
    mem.write32(pt + i * 8 + 4, 0);
  }
}

/**
 * Lockstep of `make` with each backend, then `check` of the compiled machine, whose entries into
 * compiled code from the run loop must be fewer than `maxEntries`: a REP that ends its block makes
 * one at least per REP (each test's figure before REP_IN_BLOCK is in its comment).
 */
function both(make: () => Machine, maxEntries: number, check: (m: Machine) => void): void {
  for (const [name, opts] of BACKENDS) {
    try {
      const m = lockstep(make, BUDGETS, opts).jit;
      expect(m.cpu.jit?.stats.entries ?? 0, 'entries into compiled code').toBeLessThan(maxEntries);
      check(m);
    } catch (e) {
      throw new Error(`${name} backend: ${(e as Error).message}`);
    }
  }
}

describe('REP MOVS/STOS in compiled 64-bit code', () => {
  it('forward strings of every element size, across pages, in a loop with other instructions: as the interpreter at every stop, the loop compiled', () => {
    const src = `
  mov r12d, 300
  xor ebx, ebx
top:
  mov rdi, 0x200ff0
  mov ecx, r12d
  mov eax, r12d
  rep stosb
  mov rsi, 0x200ff0
  mov rdi, 0x320ff8
  mov ecx, 40
  rep movsq
  add rbx, [0x320ff8]
  mov rdi, 0x400100
  mov ecx, 3
  mov rax, 0x1122334455667788
  rep stosq
  mov rsi, 0x200ff1
  mov rdi, 0x500ffe
  mov ecx, r12d
  rep movsw
  mov rsi, 0x400104
  mov rdi, 0x501001
  mov ecx, r12d
  rep movsd
  xor ecx, ecx
  rep stosb
  add rbx, rdi
  add rbx, rsi
  dec r12d
  jnz top
  hlt
`;
    // 36 entries; 1,791 with the REPs ending blocks.
    both(
      () => machine(src),
      200,
      (m) => {
        expect(m.cpu.state.halted).toBe(true);
        expect(m.cpu.state.gpr[Reg.R12]).toBe(0);
        // The quadword's bytes repeated, low first (exec/string.ts fillElements).
        const q = [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11];
        expect([...m.mem.bytes.subarray(0x400100, 0x400118)]).toEqual([...q, ...q, ...q]);
      },
    );
  });

  it('backward strings, overlapping forward copies (element by element, as hardware; the destination 1, 3, 16 bytes past the source and 16 before it) and a backward fill past 4096 elements', () => {
    const src = `
  mov r12d, 60
top:
  std
  mov rsi, 0x2010ff
  mov rdi, 0x3010ff
  mov ecx, r12d
  rep movsb
  mov rdi, 0x402007
  mov ecx, 5000
  mov eax, r12d
  rep stosb
  cld
  mov rsi, 0x200100
  mov rdi, 0x200101
  mov ecx, 50
  rep movsb
  mov rsi, 0x200200
  mov rdi, 0x200203
  mov ecx, 20
  rep movsq
  add rax, [0x200230]
  mov rsi, 0x200310
  mov rdi, 0x200300
  mov ecx, 30
  rep movsq
  mov rsi, 0x200800
  mov rdi, 0x200400
  mov ecx, 32
  rep movsq
  mov rsi, 0x200400
  mov rdi, 0x200410
  mov ecx, 30
  rep movsq
  add rax, [0x200420]
  add rax, [0x200308]
  add rax, [0x3010f0]
  add rax, [0x401000]
  dec r12d
  jnz top
  hlt
`;
    both(
      () =>
        machine(src, (mem) => {
          for (let i = 0; i < 0x900; i++) mem.bytes[0x200000 + i] = (i * 7) & 0xff;
        }),
      // 61 (the fill past 4096 elements yields to the run loop); 413 before.
      150,
      (m) => {
        expect(m.cpu.state.halted).toBe(true);
        // The copy 16 bytes ahead of its source repeats the source's first 16 bytes (each element
        // reads what an earlier one wrote), where a memmove would shift the source.
        const b = m.mem.bytes;
        const period = [...b.subarray(0x200800, 0x200810)];
        expect([...b.subarray(0x200410, 0x200500)]).toEqual(
          Array.from({ length: 240 }, (_, k) => period[k % 16]),
        );
        expect(m.cpu.state.rflags[0] & 0x400).toBe(0);
      },
    );
  });

  it('32-bit address size (ECX/ESI/EDI, zero-extended), a source segment override (FS base) and an MMIO destination', () => {
    const src = `
  mov r12d, 200
top:
  mov rdi, 0x100200000
  mov ecx, r12d
  addr32 rep stosb
  mov rsi, 0x100
  mov rdi, 0x250000
  mov ecx, r12d
  rep movsb es:[rdi], fs:[rsi]
  mov rdi, 0x300000
  mov ecx, 5
  rep stosd
  mov rsi, 0x300010
  mov rdi, 0x260000
  mov ecx, 3
  rep movsd
  add rbx, [0x260000]
  add rbx, rdi
  dec r12d
  jnz top
  hlt
`;
    both(
      () =>
        machine(src, (mem, m) => {
          m.cpu.state.segBase[4] = 0x200000;
          for (let i = 0; i < 0x200; i++) mem.bytes[0x200100 + i] = (i * 13) & 0xff;
        }),
      // 405 (an MMIO access leaves compiled code for the run loop's event check); 796 before.
      500,
      (m) => {
        expect(m.cpu.state.halted).toBe(true);
        expect((m.mem as unknown as MmioMemory).writes).toBe(200 * 5);
        expect(m.cpu.state.gprHigh[Reg.RDI]).toBe(0);
      },
    );
  });

  for (const [what, code] of [
    ['REP STOSB', 'mov rdi, 0x27f800\n  mov ecx, 0x1000\n  rep stosb'],
    ['REP MOVSQ (its source)', 'mov rsi, 0x27fc00\n  mov rdi, 0x290000\n  mov ecx, 0x100\n  rep movsq'],
  ])
    it(`a #PF in the middle of ${what} leaves RCX/RSI/RDI and RIP where the interpreter leaves them`, () => {
      const src = `
  mov r12d, 40
top:
  mov rdi, 0x250000
  mov ecx, 64
  rep stosq
  dec r12d
  jnz top
  ${code}
  hlt
`;
      both(
        () => machine(src, (mem) => withHole(mem, 0x280000)),
        // 1; 39 before.
        10,
        (m) => {
          expect(m.exceptions.map((e) => [e.vector, e.faultAddress])).toEqual([[14, 0x280000]]);
          expect(m.cpu.state.gpr[Reg.RCX]).not.toBe(0);
        },
      );
    });

  it('a REP MOVSB that writes into its own block: the instruction after it runs the new code', () => {
    // At R12 = 50 the REP copies `val` over the immediate of `mov eax, 1` right after it (ECX 4),
    // else it copies nothing (ECX 0). EBX = 50 * 1 + 50 * 7.
    const src = `
  mov r12d, 100
  xor ebx, ebx
  lea r8, [rip + patch + 1]
  lea r9, [rip + val]
top:
  mov rsi, r9
  mov rdi, r8
  xor ecx, ecx
  cmp r12d, 50
  sete cl
  shl ecx, 2
  rep movsb
patch:
  mov eax, 1
  add ebx, eax
  dec r12d
  jnz top
  hlt
val:
  .long 7
`;
    // 3; 97 before.
    both(
      () => machine(src),
      20,
      (m) => {
        expect(m.cpu.state.halted).toBe(true);
        expect(m.cpu.state.gpr[Reg.RBX]).toBe(50 + 50 * 7);
      },
    );
  });
});
