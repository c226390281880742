/**
 * Issue 18's targets as `pnpm bench` judges them (src/targets.ts): ratios of rows of one run,
 * each target's verdict from its own rows, and a target whose rows did not run said to be
 * unmeasured rather than met or missed.
 */
import { describe, expect, it } from 'vitest';
import type { Engine } from '../src/bench-timing.js';
import {
  type BenchMips,
  formatTargets,
  issue18Targets,
  type RowRate,
  type WorkloadKey,
} from '../src/targets.js';

const run = (rows: Partial<Record<WorkloadKey, Partial<Record<Engine, number>>>>): BenchMips =>
  new Map(
    Object.entries(rows).map(([k, v]) => [
      k as WorkloadKey,
      new Map(
        (Object.entries(v) as [Engine, number][]).map(([e, mips]) => [e, { mips, noisy: false } as RowRate]),
      ),
    ]),
  );

const find = (lines: ReturnType<typeof issue18Targets>, target: string) => {
  const l = lines.find((x) => x.target === target);
  if (!l) throw new Error(`no line ${target}: ${lines.map((x) => x.target).join('; ')}`);
  return l;
};

describe("issue 18's targets", () => {
  it('x86emu >= v86 takes the faster backend and judges each paging mode apart', () => {
    const lines = issue18Targets(
      run({
        'int32-unpaged': { x86emu: 900, 'x86emu-wasm': 1500, v86: 1400 },
        'int32-paged': { x86emu: 900, 'x86emu-wasm': 1200, v86: 1600 },
      }),
    );
    const off = find(lines, 'bench-int32 paging off: x86emu >= v86');
    expect(off.verdict).toBe('holds');
    expect(off.ratio).toBe('1.07x');
    expect(off.rows).toContain('x86emu-wasm 1500.0');
    const on = find(lines, 'bench-int32 paging on: x86emu >= v86');
    expect(on.verdict).toBe('not yet');
    expect(on.ratio).toBe('0.75x');
  });

  it('the engines within 10 % of the bare row of their own code generator, the boundary included', () => {
    const lines = issue18Targets(
      run({
        'int32-unpaged': {
          'x86emu-wasm': 1000,
          'vmx-ept': 900,
          'svm-npt': 899,
          vmx: 950,
          x86emu: 500,
          'vmx-js': 460,
        },
      }),
    );
    expect(find(lines, 'bench-int32 paging off: vmx-ept within 10% of x86emu-wasm').verdict).toBe('holds');
    expect(find(lines, 'bench-int32 paging off: svm-npt within 10% of x86emu-wasm').verdict).toBe('not yet');
    expect(find(lines, 'bench-int32 paging off: vmx within 10% of x86emu-wasm').verdict).toBe('holds');
    // The JS backend's row against the JS bare row (460 / 1000 would say 'not yet').
    const js = find(lines, 'bench-int32 paging off: vmx-js within 10% of x86emu');
    expect([js.ratio, js.verdict]).toEqual(['0.92x', 'holds']);
    // Rows that did not run (the shadow-MMU svm, svm-js): no line; the default rows always have one.
    expect(lines.some((l) => l.target.startsWith('bench-int32 paging off: svm within'))).toBe(false);
    expect(lines.some((l) => l.target.startsWith('bench-int32 paging off: svm-js within'))).toBe(false);
    expect(find(lines, 'bench-int32 paging on: vmx-ept within 10% of x86emu-wasm').verdict).toBe(
      'not measured',
    );
  });

  it('bench-ctxsw32 as a slowdown against x86emu, and against Bochs', () => {
    const lines = issue18Targets(
      run({ ctxsw32: { 'x86emu-wasm': 15, 'vmx-ept': 13, 'svm-npt': 9, vmx: 3.2, bochs: 5.4 } }),
    );
    const ept = find(lines, 'bench-ctxsw32: vmx-ept within 1.5x of x86emu-wasm');
    expect(ept.ratio).toBe('1.15x');
    expect(ept.verdict).toBe('holds');
    expect(find(lines, 'bench-ctxsw32: svm-npt within 1.5x of x86emu-wasm').verdict).toBe('not yet');
    expect(find(lines, 'bench-ctxsw32: vmx within 1.5x of x86emu-wasm').ratio).toBe('4.69x');
    expect(find(lines, 'bench-ctxsw32: vmx >= Bochs').verdict).toBe('not yet');
    expect(find(lines, 'bench-ctxsw32: vmx-ept >= Bochs').verdict).toBe('holds');
  });

  it('a target whose rows did not run is not measured, and the table names the missing row', () => {
    const lines = issue18Targets(run({ 'int32-paged': { x86emu: 1000 } }));
    const moon = find(lines, 'moonshot: bench-int32 paging on >= 0.3x QEMU TCG');
    expect(moon.verdict).toBe('not measured');
    expect(moon.rows).toBe('no tcg row');
    const text = formatTargets(lines).join('\n');
    expect(text).toMatch(/bench-int32 paging off: x86emu >= v86 +- +not measured +no x86emu, v86 row/);
    expect(text).toContain('linux-boot.mjs');
    // A row whose steady-state rate came out negative (noise over a short run) is not a verdict.
    const noisy = find(
      issue18Targets(run({ ctxsw32: { 'x86emu-wasm': 15, 'vmx-ept': -2 } })),
      'bench-ctxsw32: vmx-ept within 1.5x of x86emu-wasm',
    );
    expect(noisy.verdict).toBe('not measured');
    expect(noisy.rows).toContain('no positive rate');
  });

  it("a row whose seconds do not stand out of its jitter gives 'noise', and the faster clean bare row is taken", () => {
    const m: BenchMips = new Map([
      [
        'int32-paged' as WorkloadKey,
        new Map<Engine, RowRate>([
          ['x86emu', { mips: 900, noisy: false }],
          ['x86emu-wasm', { mips: 5000, noisy: true }],
          ['v86', { mips: 197, noisy: true }],
        ]),
      ],
    ]);
    const l = find(issue18Targets(m), 'bench-int32 paging on: x86emu >= v86');
    expect(l.verdict).toBe('noise');
    expect(l.rows).toMatch(/^x86emu 900\.0 \/ v86 197\.0 MIPS; v86: seconds under 3x the jitter$/);
  });
});
