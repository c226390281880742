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
import { lockstep, snapshot } from './jit-lockstep.js';
import { longMode } from './long.js';
import type { Machine } from './machine.js';
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
  // 0xffe straddles the two pages (fetch.ts keeps no decode of it, so no block holds it), and the
  // loop's tail after it, in the next page, is reached only by falling through. 18 instructions
  // an iteration: 14 INCs, the MOV, then ADD, DEC, JNZ.
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
    // 1,800 instructions = 100 iterations: the straddling MOV is interpreted in each; the ADD,
    // DEC, JNZ after it were too while the boundary after a page crossing did not count toward
    // compiling (400 interpreted then).
    expect(interpreted(m, 1800)).toBe(100);
  });

  it('in 64-bit mode, the code after an instruction straddling a page end is compiled, exactly', () => {
    // INC r32 is two bytes here (0x40-0x4f are REX): one-byte NOPs keep the MOV at 0xffe.
    const src = STRADDLE.replaceAll('inc eax', 'nop').replace('add ebx, edx', 'add rbx, rdx');
    const r = lockstep(() => longMode(src), BUDGETS);
    expect(r.jit.cpu.state.halted).toBe(true);
    const m = longMode(src);
    m.cpu.jit = new Jit({ hot: 2 });
    expect(m.cpu.run(200)).toBe(StopReason.Budget);
    expect(interpreted(m, 1800)).toBe(100);
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
