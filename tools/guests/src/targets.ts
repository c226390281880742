/**
 * Issue 18's speed targets, judged on one run of the bench: each is a ratio of two rows measured
 * side by side (the same machine, the same minutes), so the verdict does not depend on how fast
 * the machine is that day. A target whose rows did not run (not in --engines, a peer missing)
 * says so instead of a verdict.
 */
import { bareOf, type Engine } from './bench-timing.js';

/** The workloads a target can name (`Workload.key`). */
export type WorkloadKey = 'int32-unpaged' | 'int32-paged' | 'ctxsw32' | 'sse32';

/**
 * Each engine row that ran, by workload: its MIPS, and whether its seconds stood out of its
 * jitter (a row whose steady-state time is under three times the spread of its short runs is
 * noise, and a ratio made from it is no verdict).
 */
export interface RowRate {
  readonly mips: number;
  readonly noisy: boolean;
}
export type BenchMips = ReadonlyMap<WorkloadKey, ReadonlyMap<Engine, RowRate>>;

export interface TargetLine {
  readonly target: string;
  /** The ratio as printed (`1.17x`), or '-' when a row is missing. */
  readonly ratio: string;
  readonly verdict: 'holds' | 'not yet' | 'not measured' | 'noise';
  /** Which rows gave the ratio, or which were missing. */
  readonly rows: string;
}

const PAGING: readonly [WorkloadKey, string][] = [
  ['int32-unpaged', 'paging off'],
  ['int32-paged', 'paging on'],
];

/** The software engine's rows a target judges: qemu-lite's defaults first (always a line). */
const ENGINE_ROWS = ['vmx-ept', 'svm-npt', 'vmx', 'svm', 'vmx-js', 'svm-js'] as const;
const DEFAULT_ROWS: ReadonlySet<Engine> = new Set<Engine>(['vmx-ept', 'svm-npt']);

/** The faster of the bare x86emu rows (either backend of its block compiler), a clean one first. */
function bestBare(m: ReadonlyMap<Engine, RowRate> | undefined): [Engine, RowRate | undefined] {
  let best: [Engine, RowRate] | undefined;
  for (const e of ['x86emu', 'x86emu-wasm'] as const) {
    const v = m?.get(e);
    if (v === undefined) continue;
    const better =
      best === undefined ||
      (best[1].noisy && !v.noisy) ||
      (best[1].noisy === v.noisy && v.mips > best[1].mips);
    if (better) best = [e, v];
  }
  return best ?? ['x86emu', undefined];
}

/**
 * `a / b >= min` (or, for a slowdown target, `b / a <= max`): one line, or 'not measured' when
 * either row is missing.
 */
function line(
  target: string,
  a: [string, RowRate | undefined],
  b: [string, RowRate | undefined],
  test: { min?: number; maxSlowdown?: number },
): TargetLine {
  const [an, ar] = a;
  const [bn, br] = b;
  const av = ar?.mips;
  const bv = br?.mips;
  if (av === undefined || bv === undefined || av <= 0 || bv <= 0) {
    const missing = [av === undefined ? an : undefined, bv === undefined ? bn : undefined].filter(Boolean);
    // A rate at or below zero: t(N) - t(N/2) was not positive, a run too short for its noise.
    const why =
      missing.length > 0
        ? `no ${missing.join(', ')} row`
        : `${an} or ${bn}: no positive rate (too short a run)`;
    return { target, ratio: '-', verdict: 'not measured', rows: why };
  }
  const rows = (x: string, xv: number, y: string, yv: number): string =>
    `${x} ${xv.toFixed(1)} / ${y} ${yv.toFixed(1)} MIPS`;
  const noisy = [ar?.noisy ? an : undefined, br?.noisy ? bn : undefined].filter(Boolean);
  const noise = noisy.length > 0 ? `; ${noisy.join(', ')}: seconds under 3x the jitter` : '';
  if (test.maxSlowdown !== undefined) {
    const slowdown = bv / av;
    return {
      target,
      ratio: `${slowdown.toFixed(2)}x`,
      verdict: noise ? 'noise' : slowdown <= test.maxSlowdown ? 'holds' : 'not yet',
      rows: rows(bn, bv, an, av) + noise,
    };
  }
  const ratio = av / bv;
  return {
    target,
    ratio: `${ratio.toFixed(2)}x`,
    verdict: noise ? 'noise' : ratio >= (test.min ?? 1) ? 'holds' : 'not yet',
    rows: rows(an, av, bn, bv) + noise,
  };
}

/**
 * The targets of issue 18 that the guests bench measures (the Linux boot's, ≤ 3× QEMU TCG to the
 * shell, is qemu-lite's `bench/linux-boot.mjs`). The software engine is judged as qemu-lite runs
 * it by default (nested paging: `vmx-ept`, `svm-npt`) and, where those rows ran, on the shadow
 * MMU (`vmx`, `svm`) and with the JS backend (`vmx-js`, `svm-js`) as well, each against the bare
 * row of its own code generator (`bareOf`).
 */
export function issue18Targets(mips: BenchMips): TargetLine[] {
  const lines: TargetLine[] = [];
  for (const [key, label] of PAGING) {
    const m = mips.get(key);
    const bare = bestBare(m);
    lines.push(
      line(`bench-int32 ${label}: x86emu >= v86`, bare, ['v86', m?.get('v86')], {
        min: 1,
      }),
    );
  }
  for (const [key, label] of PAGING) {
    const m = mips.get(key);
    for (const e of ENGINE_ROWS) {
      if (m?.get(e) === undefined && !DEFAULT_ROWS.has(e)) continue;
      const b = bareOf(e);
      lines.push(
        line(`bench-int32 ${label}: ${e} within 10% of ${b}`, [e, m?.get(e)], [b, m?.get(b)], {
          min: 0.9,
        }),
      );
    }
  }
  const c = mips.get('ctxsw32');
  for (const e of ENGINE_ROWS) {
    if (c?.get(e) === undefined && !DEFAULT_ROWS.has(e)) continue;
    const b = bareOf(e);
    lines.push(
      line(`bench-ctxsw32: ${e} within 1.5x of ${b}`, [e, c?.get(e)], [b, c?.get(b)], {
        maxSlowdown: 1.5,
      }),
    );
    lines.push(line(`bench-ctxsw32: ${e} >= Bochs`, [e, c?.get(e)], ['bochs', c?.get('bochs')], { min: 1 }));
  }
  const paged = mips.get('int32-paged');
  const bare = bestBare(paged);
  lines.push(
    line('moonshot: bench-int32 paging on >= 0.3x QEMU TCG', bare, ['tcg', paged?.get('tcg')], {
      min: 0.3,
    }),
  );
  return lines;
}

/** The table `pnpm bench` prints under the workloads. */
export function formatTargets(lines: readonly TargetLine[]): string[] {
  const w = Math.max(...lines.map((l) => l.target.length));
  return [
    "issue 18's targets, as ratios of rows of this run:",
    ...lines.map(
      (l) => `  ${l.target.padEnd(w)}  ${l.ratio.padStart(6)}  ${l.verdict.padEnd(12)}  ${l.rows}`,
    ),
    '  (Linux to the shell within 3x QEMU TCG: apps/qemu-lite bench/linux-boot.mjs prints its "x TCG" columns)',
  ];
}
