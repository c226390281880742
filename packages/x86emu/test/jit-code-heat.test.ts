/**
 * A write into a code page drops its decodes and compiled blocks; what they had counted toward
 * compiling carries to the new decodes where their bytes are unchanged (cpu/code-heat.ts), so a
 * hot loop next to a patched byte compiles again after a fraction of the threshold, not the whole
 * of it. Only when blocks compile changes, never what runs: lockstep with the interpreter.
 */
import { describe, expect, it } from 'vitest';
import { CodeHeat, HEAT_DAMPING } from '../src/cpu/code-heat.js';
import { PageCode } from '../src/cpu/fetch.js';
import { Insn } from '../src/decoder/insn.js';
import { Reg, StopReason } from '../src/index.js';
import { JitBlock } from '../src/jit/block.js';
import { Jit } from '../src/jit/jit.js';
import { lockstep } from './jit-lockstep.js';
import type { Machine } from './machine.js';
import { CODE, protectedMode } from './pm.js';

const HOT = 40;
/** One block start: the loop's head (after mov edx, 5 bytes); its `add`'s immediate at +2. */
const TOP = CODE + 5;
const PROGRAM = `
    mov edx, 1000000
  top:
    add eax, 1
    dec edx
    jnz top
    hlt
  data:
    .byte 0`;
/** `data`: after top's add (3 bytes), dec (1), jnz (2) and hlt (1). */
const DATA = TOP + 7;
const INSNS_PER_PASS = 3;

/** The decode at `lin` (paging off: frame lin >>> 12) holds a compiled block now. */
function compiledNow(m: Machine, lin: number): boolean {
  const page = m.cpu.codePages.get(lin >>> 12);
  return page?.insns[lin & 0xfff]?.jitBlock != null;
}

/** Runs `passes` more passes of the loop (stopped by the budget). */
function passes(m: Machine, n: number): void {
  expect(m.cpu.run(n * INSNS_PER_PASS)).toBe(StopReason.Budget);
}

/** The loop run `before` passes, the host's write of `value` at `pa` (as DMA), `after` passes. */
function loopWithWrite(before: number, pa: number, value: number, after: number): Machine {
  const m = protectedMode(PROGRAM);
  m.cpu.jit = new Jit({ hot: HOT, backend: 'js', runUnit: 0 });
  passes(m, 1);
  passes(m, before - 1);
  expect(compiledNow(m, TOP)).toBe(true);
  m.mem.write8(pa, value);
  m.cpu.invalidateCode(pa, 1);
  expect(compiledNow(m, TOP)).toBe(false);
  passes(m, after);
  return m;
}

describe('counted visits outlive a write into the code page', () => {
  // Past the damping share's visits, short of the threshold's.
  const after = Math.ceil(HOT / HEAT_DAMPING) + 3;

  it("the loop's block compiles again a fraction of the threshold after a write next to it", () => {
    expect(after).toBeLessThan(HOT);
    const m = loopWithWrite(HOT + 5, DATA, 0x5a, after);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(HOT + 5 + after);
    expect(m.cpu.stats.codeInvalidations).toBe(1);
    expect(compiledNow(m, TOP)).toBe(true);
    expect((m.cpu.jit as Jit).heat.stats).toEqual({ kept: 1, seeded: 1 });
  });

  it('an instruction whose bytes the write changed counts from zero', () => {
    // The write makes `add eax, 1` `add eax, 3`: its old count says nothing about the new one.
    const m = loopWithWrite(HOT + 5, TOP + 2, 3, after);
    expect(m.cpu.state.gpr[Reg.RAX]).toBe(HOT + 5 + 3 * after);
    expect(compiledNow(m, TOP)).toBe(false);
    expect((m.cpu.jit as Jit).heat.stats.seeded).toBe(0);
    // ... and compiles at the threshold's own count.
    passes(m, HOT - after);
    expect(compiledNow(m, TOP)).toBe(true);
  });

  it('runs in lockstep with the interpreter at every budget, writes to its own page included', () => {
    const smc = (visits: number, at: number) => `
        mov edx, ${visits}
      top:
        add eax, 1
        cmp edx, ${at}
        jne skip
        mov byte ptr [data], 1
      skip:
        dec edx
        jnz top
        hlt
      data:
        .byte 0`;
    for (let budget = 1; budget <= 30; budget++) {
      const { stops } = lockstep(() => protectedMode(smc(40, 20)), [budget], { hot: 8, backend: 'js' });
      expect(stops).toBeGreaterThan(0);
    }
  });
});

describe('CodeHeat', () => {
  /** A page of frame `pfn` holding `bytes`, with decodes at `offs` of the given counts. */
  function page(pfn: number, counts: [number, number][], compiled: number[] = []): PageCode {
    const pc = new PageCode();
    pc.pfn = pfn;
    for (let i = 0; i < 4096; i++) pc.bytes[i] = (i * 7) & 0xff;
    for (const [off, n] of counts) {
      const d = new Insn();
      d.length = 3;
      d.jitHits = n;
      pc.insns[off] = d;
    }
    for (const off of compiled)
      (pc.insns[off] as Insn).jitBlock = new JitBlock(off, 0, off + 3, 1, () => undefined, 0);
    return pc;
  }
  const insn = (length: number) => Object.assign(new Insn(), { length });

  it('carries a count, less the damping share, to a decode whose bytes are unchanged; a block start counts as the threshold', () => {
    const heat = new CodeHeat();
    const hot = 1000;
    const damp = Math.ceil(hot / HEAT_DAMPING);
    heat.keep(
      page(
        7,
        [
          [0x10, 900],
          [0x20, 10],
          [0x30, -5],
          [0x40, 10],
        ],
        [0x40],
      ),
      hot,
    );
    const h = heat.take(7);
    expect(h).not.toBeNull();
    expect(heat.take(7)).toBeNull();
    const bytes = page(7, []).bytes;
    expect(heat.seed(h!, 0x10, insn(3), bytes, hot)).toBe(900 - damp);
    expect(heat.seed(h!, 0x40, insn(3), bytes, hot)).toBe(hot - damp);
    // Below the damping share, a never-compile mark, an offset with no decode: nothing.
    expect(heat.seed(h!, 0x20, insn(3), bytes, hot)).toBe(0);
    expect(heat.seed(h!, 0x30, insn(3), bytes, hot)).toBe(0);
    expect(heat.seed(h!, 0x50, insn(3), bytes, hot)).toBe(0);
    // A byte of the instruction changed (its last): nothing.
    bytes[0x12] ^= 1;
    expect(heat.seed(h!, 0x10, insn(3), bytes, hot)).toBe(0);
    expect(heat.seed(h!, 0x10, insn(2), bytes, hot)).toBe(900 - damp);
  });

  it('keeps a page with no counts not at all, and at most 256 pages, the oldest dropped first', () => {
    const heat = new CodeHeat();
    heat.keep(page(1, [[0, -1]]), 100);
    expect(heat.take(1)).toBeNull();
    for (let pfn = 0; pfn < 300; pfn++) heat.keep(page(pfn, [[0, 50]]), 100);
    expect(heat.take(43)).toBeNull();
    expect(heat.take(44)).not.toBeNull();
    expect(heat.take(299)).not.toBeNull();
  });

  it('a page dropped again keeps what it carried for offsets not decoded since', () => {
    const heat = new CodeHeat();
    heat.keep(page(3, [[0x100, 80]]), 100);
    const again = page(3, [[0x200, 70]]);
    again.heat = heat.take(3);
    heat.keep(again, 100);
    const h = heat.take(3)!;
    expect(h.hits[0x100]).toBe(80);
    expect(h.hits[0x200]).toBe(70);
  });
});
