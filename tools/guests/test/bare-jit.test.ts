/**
 * The guest suite on a bare x86emu `Cpu` both ways: with x86emu's block compiler and with its
 * interpreter only. Virtual time counts instructions, so the two runs of a guest must be
 * identical: the same ending, exit status, console output and instruction count. bare.test.ts
 * and bare64.test.ts referee the default mode against the host; this file pins the other mode
 * to it. `GUESTS_JIT_MODES=on` or `=off` runs one mode only (against the manifest's expectation).
 */
import { describe, expect, it } from 'vitest';
import { type BareReport, GUESTS, runOnBareCpu } from '../src/index.js';

const BARE_GUESTS = GUESTS.filter((g) => g.kind === 'test');
// Blocks compile at the second visit (default: the thousandth), to put as much of each guest as
// possible through the compiler; the CPUs read it when they are made (worker threads inherit it).
process.env.X86EMU_JIT_HOT ??= '2';
const modes = process.env.GUESTS_JIT_MODES ?? 'both';

/** What must be equal between the two modes. */
function observable(r: BareReport) {
  return { ending: r.ending, status: r.status, serial: r.serial, instructions: r.instructions };
}

describe('the guests on a bare x86emu Cpu, block compiler on and off', () => {
  it('has guests to run', () => {
    expect(BARE_GUESTS.length).toBeGreaterThan(10);
  });

  for (const g of BARE_GUESTS) {
    it(`${g.name}: the same run with the compiler on and off`, { timeout: 120_000 }, async () => {
      if (modes !== 'both') {
        const r = await runOnBareCpu(g, { jit: modes === 'on' });
        expect(r.ending).not.toBe('timeout');
        return;
      }
      const on = await runOnBareCpu(g, { jit: true });
      const off = await runOnBareCpu(g, { jit: false });
      expect(on.ending, on.detail).not.toBe('timeout');
      expect(observable(on)).toEqual(observable(off));
      expect(off.cpuStats.jitInstructions).toBeUndefined();
    });
  }

  it('runs guest code compiled: the loop of the bench guest goes through blocks', async () => {
    const r = await runOnBareCpu('bench-int32', { append: 'iterations=3 paging=0', jit: true });
    expect(r.cpuStats.jitBlocks).toBeGreaterThan(0);
    expect(r.cpuStats.jitInstructions).toBeGreaterThan(r.instructions / 2);
  });
});
