/**
 * The SSE2 bench guest (guest/bench/bench-sse32.c) on a bare x86emu `Cpu`, with the block compiler
 * (the default) and with the interpreter only: it passes its own scalar checks (a mismatch is
 * debug-exit status 1), retires the same instructions both ways, and prints the checksum the host
 * CPU computes for the same source (x86-64 gcc -O2 -msse2 -fno-tree-vectorize with lib.h's
 * functions from libc, run on the AMD host of 2026-12-05: `bench-sse32: iterations=4
 * checksum=0x5d3f28ae5a19c819`). The bench's own figures are `pnpm bench`'s.
 */
import { describe, expect, it } from 'vitest';
import { runOnBareCpu } from '../src/index.js';

const HOST_CHECKSUM = '0x5d3f28ae5a19c819';

describe('bench-sse32', () => {
  it('passes its checks and prints the host CPU checksum, compiled and interpreted alike', async () => {
    // Compile at the second visit, so the SSE loops run compiled from their first iteration on.
    const hot = process.env.X86EMU_JIT_HOT;
    process.env.X86EMU_JIT_HOT = '2';
    try {
      const on = await runOnBareCpu('bench-sse32', { append: 'iterations=4', jit: true });
      const off = await runOnBareCpu('bench-sse32', { append: 'iterations=4', jit: false });
      for (const r of [on, off]) {
        expect(r.ok, r.serial).toBe(true);
        expect(r.serial).not.toContain('FAIL');
        expect(/checksum=(\S+)/.exec(r.serial)?.[1]).toBe(HOST_CHECKSUM);
      }
      expect(on.instructions).toBe(off.instructions);
      expect(on.cpuStats.jitInstructions).toBeGreaterThan(on.instructions / 2);
    } finally {
      if (hot === undefined) delete process.env.X86EMU_JIT_HOT;
      else process.env.X86EMU_JIT_HOT = hot;
    }
  });
});
