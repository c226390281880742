#!/usr/bin/env node
/**
 * `pnpm bench`: runs the benchmark guests on every available engine, several times each, and
 * prints the best wall time and guest time beside the host engine's (the baseline, measured in
 * the same run). The checksums must agree across engines.
 *   node dist/bench.js [--runs 3] [--iterations 20] [--rounds 200]
 */
import { ACCELS, engineAvailability } from './engines.js';
import { GUESTS } from './manifest.js';
import { runGuestReport } from './runner.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const runs = arg('runs', 3);
  const append = `iterations=${arg('iterations', 20)} rounds=${arg('rounds', 200)}`;
  const engines: string[] = [];
  for (const a of ACCELS) {
    const av = await engineAvailability(a);
    if (av.available) engines.push(a);
    else process.stdout.write(`(${a}: skipped, ${av.reason})\n`);
  }
  process.stdout.write(`benchmark guests, ${append}, best of ${runs}\n`);
  for (const g of GUESTS.filter((x) => x.kind === 'bench')) {
    let baseline: number | undefined;
    let baselineSum: string | undefined;
    for (const accel of engines) {
      let best = Number.POSITIVE_INFINITY;
      let bestGuest = Number.POSITIVE_INFINITY;
      let line = '';
      let ok = true;
      for (let i = 0; i < runs; i++) {
        const r = await runGuestReport(g, { accel, append, timeoutMs: 120_000 });
        ok &&= r.ok;
        line = r.serial.split('\n').find((l) => l.startsWith(`${g.name}:`)) ?? '(no result)';
        best = Math.min(best, r.wallMs);
        const stats = r.stats as { guestNs?: number } | undefined;
        if (stats?.guestNs !== undefined) bestGuest = Math.min(bestGuest, stats.guestNs / 1e6);
      }
      const sum = /checksum=(\S+)/.exec(line)?.[1];
      if (accel === engines[0]) {
        baseline = best;
        baselineSum = sum;
      }
      const ratio = baseline ? ` (${(best / baseline).toFixed(2)}x ${engines[0]})` : '';
      const agree = sum === baselineSum ? '' : ` CHECKSUM DIFFERS from ${engines[0]}`;
      process.stdout.write(
        `${g.name.padEnd(12)} ${accel.padEnd(4)} wall ${best.toFixed(0).padStart(7)} ms${ratio}, guest ${
          Number.isFinite(bestGuest) ? bestGuest.toFixed(0) : '?'
        } ms${ok ? '' : ' FAILED'}: ${line}${agree}\n`,
      );
    }
  }
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
