/**
 * The block compiler at branches into another code page: `Jit.lookup` switches the code page
 * itself when the TLB grants the fetch (fetch.ts switchCodePage), so a call or return across a
 * page boundary runs compiled; a TLB miss, a #PF on the fetch and decodes dropped by a write or
 * by `revalidateCode` stay the interpreter's, with its exact results. Run these with `timeout`:
 * a lookup that switched pages without the run advancing would hang the run loop, not fail.
 */
import { describe, expect, it } from 'vitest';
import { Reg, StopReason } from '../src/index.js';
import { Jit } from '../src/jit/jit.js';
import { wasmBackend } from '../src/jit/wasm/compile.js';
import { lockstep, snapshot } from './jit-lockstep.js';
import { longMode } from './long.js';
import { inWasmMemory, type Machine } from './machine.js';
import { pagedProtectedMode, protectedMode } from './pm.js';

const BUDGETS = [1, 3, 7, 13, 29, 61];

/** Instructions a run of `m` left to the interpreter (retired, less those run compiled). */
function interpreted(m: Machine, budget: number): number {
  const jit = m.cpu.jit as Jit;
  const n0 = m.cpu.instructionsRetired;
  const c0 = jit.stats.instructions;
  m.cpu.run(budget);
  return m.cpu.instructionsRetired - n0 - (jit.stats.instructions - c0);
}

describe('block compiler: branches into another code page', () => {
  const CALLS = `
      mov ecx, 3000
    top:
      call far_fn
      dec ecx
      jnz top
      hlt
    .balign 0x1000
    far_fn:
      add ebx, ecx
      xor edx, ebx
      ret`;

  it('a call into another page and the return from it run compiled, exactly', () => {
    const r = lockstep(() => protectedMode(CALLS), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    const m = protectedMode(CALLS);
    m.cpu.jit = new Jit({ hot: 2 });
    interpreted(m, 100); // warm up: the blocks compile
    // 10,000 instructions = 2,000 calls: each call's target and each return's target are the
    // first instruction after a branch into the other page (4,000 boundaries when the lookup
    // could not switch the code page).
    expect(interpreted(m, 10_000)).toBeLessThan(10);
  });

  it('code on the other page rewritten by a store is run from its new bytes, not its old block', () => {
    // At ECX = 1000 the loop stores into the imm32 of far_fn's ADD (81 C3 imm32): the called
    // page's decodes and its compiled block are dropped while the caller's page is current.
    const src = `
      mov ecx, 2000
    top:
      call far_fn
      cmp ecx, 1000
      jne skip
      mov dword ptr [patch + 2], 9
    skip:
      dec ecx
      jnz top
      hlt
    .balign 0x1000
    far_fn:
    patch:
      add ebx, 0x10001
      ret`;
    const r = lockstep(() => protectedMode(src), [1000, 7, 100_000]);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe((1001 * 0x10001 + 999 * 9) >>> 0);
  });

  it('code on the other page rewritten from outside (revalidateCode) is decoded again', () => {
    const a = protectedMode(CALLS);
    const b = protectedMode(CALLS);
    a.cpu.jit = new Jit({ hot: 2 });
    b.cpu.jit = null;
    const far = 0x11000;
    expect([...a.mem.bytes.subarray(far, far + 2)]).toEqual([0x01, 0xcb]); // add ebx, ecx
    for (let n = 0; n < 40; n++) {
      if (n === 20) {
        // sub ebx, ecx, written as a VMM's userspace would between two runs.
        for (const m of [a, b]) {
          m.mem.bytes[far] = 0x29;
          m.cpu.revalidateCode();
        }
      }
      const ra = a.cpu.run(n % 2 === 0 ? 97 : 13);
      expect(ra).toBe(b.cpu.run(n % 2 === 0 ? 97 : 13));
      expect(snapshot(a.cpu), `run ${n}`).toEqual(snapshot(b.cpu));
    }
    expect(a.cpu.jit?.stats.instructions).toBeGreaterThan(500);
  });

  it('a fetch from a page the TLB no longer maps faults in the interpreter, exactly', () => {
    // Linear 4 MiB–8 MiB identity-mapped by PDE 1, the page directory (physical 5 MiB) included.
    // After 500 calls into that page the PDE is cleared: the stale TLB entry
    // still serves 10 calls (no INVLPG yet, as the CPU may), then INVLPG and a call: #PF.
    const src = `
      mov eax, 0x400000
      mov ecx, 500
    a:
      call eax
      dec ecx
      jnz a
      mov dword ptr [0x500004], 0
      mov ecx, 10
    b:
      call eax
      dec ecx
      jnz b
      invlpg [eax]
      call eax
      hlt`;
    const make = () => {
      const m = pagedProtectedMode(src);
      m.mem.write32(0x500000 + 4, 0x400083);
      m.mem.bytes.set([0x83, 0xc3, 0x01, 0xc3], 0x400000); // add ebx, 1; ret
      return m;
    };
    const r = lockstep(make, [1, 33, 100_000]);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(510);
    // A supervisor fetch from a not-present page: P = 0, and I/D = 0 too (SDM Vol. 3 4.7: set
    // only with NXE or SMEP, neither of which 32-bit paging here has).
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x400000 }]);
  });

  // A loop body that runs over a page's end inside an instruction: `mov edx, imm32` at offset
  // 0xffe straddles the two pages (fetch.ts keeps its decode, the next page's frame noted, and a
  // block ends with it), and the loop's tail after it, in the next page, is reached only by
  // falling through. 18 instructions an iteration: 14 INCs, the MOV, then ADD, DEC, JNZ.
  const STRADDLE = `
      mov ecx, 3000
      jmp top
    .balign 0x1000
    .skip 0xff0
    top:
      ${'inc eax\n'.repeat(14)}
      mov edx, 0x12345678
      add ebx, edx
      dec ecx
      jnz top
      hlt`;

  it('the code after an instruction straddling a page end is compiled, exactly', () => {
    const r = lockstep(() => protectedMode(STRADDLE), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe((3000 * 0x12345678) >>> 0);
    const m = protectedMode(STRADDLE);
    m.cpu.jit = new Jit({ hot: 2 });
    interpreted(m, 200); // warm up: the blocks compile
    // 1,800 instructions = 100 iterations, all compiled: the straddling MOV was interpreted in
    // each while its decode was not kept (100 then); the ADD, DEC, JNZ after it were too while
    // the boundary after a page crossing did not count toward compiling (400 then).
    expect(interpreted(m, 1800)).toBe(0);
  });

  it('in 64-bit mode, the code after an instruction straddling a page end is compiled, exactly', () => {
    // INC r32 is two bytes here (0x40-0x4f are REX): one-byte NOPs keep the MOV at 0xffe.
    const src = STRADDLE.replaceAll('inc eax', 'nop').replace('add ebx, edx', 'add rbx, rdx');
    const r = lockstep(() => longMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    const m = longMode(src);
    m.cpu.jit = new Jit({ hot: 2 });
    expect(m.cpu.run(200)).toBe(StopReason.Budget);
    expect(interpreted(m, 1800)).toBe(0);
  });

  it('in 64-bit mode, calls into another page and returns run compiled, exactly', () => {
    const src = `
      mov ecx, 3000
    top:
      call far_fn
      dec ecx
      jnz top
      hlt
    .balign 0x1000
    far_fn:
      add rbx, rcx
      xor rdx, rbx
      ret`;
    const r = lockstep(() => longMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.rip[1]).toBe(0);
    const m = longMode(src);
    m.cpu.jit = new Jit({ hot: 2 });
    expect(m.cpu.run(100)).toBe(StopReason.Budget);
    expect(interpreted(m, 10_000)).toBeLessThan(10);
  });
});

describe('block compiler: an instruction straddling a page end', () => {
  // The loop calls a function at linear 0x400ff0 (4 KiB pages: PDE 1's table at 0x300000) whose
  // `mov edx, imm32` starts at 0x400ffe: its opcode and the imm32's low byte in page A (linear
  // 0x400000), the rest of the imm32 in page B (0x401000), then ADD EBX, EDX; RET. At ECX = 1000
  // the loop changes what page B holds: `change`.
  const loop = (change: string) => `
      mov ecx, 2000
    top:
      mov eax, 0x400ff0
      call eax
      cmp ecx, 1000
      jne skip
      ${change}
    skip:
      dec ecx
      jnz top
      hlt`;
  const A_TAIL = [...Array(14).fill(0x90), 0xba, 0x78]; // 14 NOPs, mov edx, imm32 (0x..78)
  const B_HEAD = [0x56, 0x34, 0x12, 0x01, 0xd3, 0xc3]; // imm32 0x12345678; add ebx, edx; ret
  const B2_HEAD = [0x9a, 0xbc, 0xde, 0x01, 0xd3, 0xc3]; // imm32 0xdebc9a78
  const make = (change: string) => () => {
    const m = pagedProtectedMode(loop(change));
    m.mem.write32(0x500000 + 4, 0x300003);
    m.mem.write32(0x300000, 0x400003);
    m.mem.write32(0x300004, 0x401003);
    m.mem.bytes.set(A_TAIL, 0x400ff0);
    m.mem.bytes.set(B_HEAD, 0x401000);
    m.mem.bytes.set(B2_HEAD, 0x402000);
    return m;
  };
  const OLD_NEW = (1001 * 0x12345678 + 999 * 0xdebc9a78) % 2 ** 32;

  it('runs compiled: the block ends with it and the next page is checked at entry', () => {
    const m = make('nop')();
    m.cpu.jit = new Jit({ hot: 2 });
    interpreted(m, 300);
    // 2,000 instructions: 80 iterations of 25, the straddling MOV interpreted in each while its
    // decode was not kept (at most one instruction now: a block that does not fit the budget).
    expect(interpreted(m, 2000)).toBeLessThan(2);
  });

  it('the next page mapped to another frame (PTE and INVLPG): decoded again from it', () => {
    const r = lockstep(make('mov dword ptr [0x300004], 0x402003\n      invlpg [0x401000]'), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(OLD_NEW);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(20_000);
  });

  it('the next page remapped, the TLB flushed by a CR3 load: decoded again from the new frame', () => {
    const change = 'mov dword ptr [0x300004], 0x402003\n      mov eax, cr3\n      mov cr3, eax';
    const r = lockstep(make(change), [100_000, 7]);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(OLD_NEW);
  });

  it("a store into the next page's part of it takes effect at its next run", () => {
    const r = lockstep(make('mov dword ptr [0x401000 - 1], 0xdebc9a78'), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    expect(r.jit.cpu.state.gpr[Reg.RBX]).toBe(OLD_NEW);
    expect(r.jit.cpu.jit?.stats.instructions).toBeGreaterThan(20_000);
  });

  it('the next page rewritten from outside (revalidateCode): decoded again', () => {
    const a = make('nop')();
    const b = make('nop')();
    a.cpu.jit = new Jit({ hot: 2 });
    b.cpu.jit = null;
    for (let n = 0; n < 60; n++) {
      if (n === 30)
        for (const m of [a, b]) {
          m.mem.bytes.set(B2_HEAD, 0x401000);
          m.cpu.revalidateCode();
        }
      expect(a.cpu.run(n % 2 === 0 ? 397 : 13)).toBe(b.cpu.run(n % 2 === 0 ? 397 : 13));
      expect(snapshot(a.cpu), `run ${n}`).toEqual(snapshot(b.cpu));
    }
    expect(a.cpu.jit?.stats.instructions).toBeGreaterThan(5000);
  });

  it('the next page no longer mapped: #PF on the fetch of its part, compiled or not', () => {
    const r = lockstep(make('mov dword ptr [0x300004], 0\n      invlpg [0x401000]'), [1, 33, 100_000]);
    expect(r.jit.exceptions).toEqual([{ vector: 14, errorCode: 0, faultAddress: 0x401000 }]);
    expect(r.jit.cpu.state.gpr[Reg.RCX]).toBe(999);
  });

  for (const bits of [32, 64])
    it(`wasm backend, ${bits}-bit: the straddling loop runs compiled, exactly`, () => {
      const src64 = STRADDLE_LOOP.replaceAll('inc eax', 'nop').replace('add ebx, edx', 'add rbx, rdx');
      const m0 = () => {
        const w = inWasmMemory(bits === 64 ? longMode(src64) : protectedMode(STRADDLE_LOOP));
        if (bits === 64) wasmBackend(w.cpu).long = true;
        return w;
      };
      const options = { hot: 2, backend: 'wasm' } as const;
      const r = lockstep(m0, BUDGETS, options);
      expect(r.jit.cpu.state.halted).toBe(true);
      const m = m0();
      m.cpu.jit = new Jit(options);
      interpreted(m, 200);
      expect(interpreted(m, 1800)).toBe(0);
    });
});

const STRADDLE_LOOP = `
    mov ecx, 3000
    jmp top
  .balign 0x1000
  .skip 0xff0
  top:
    ${'inc eax\n'.repeat(14)}
    mov edx, 0x12345678
    add ebx, edx
    dec ecx
    jnz top
    hlt`;
