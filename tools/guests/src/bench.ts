#!/usr/bin/env node
/**
 * `pnpm bench`: guest instructions per second of the benchmark guests on every engine here, in
 * one run, as ratios to the host engine:
 *   x86emu   x86emu alone (`runOnBareCpu`: a bare Cpu with qemu-lite's devices), its block
 *            compiler on (the default); `x86emu/off`: its interpreter only (`jit: false`)
 *   vmx, svm the software engine (qemu-lite -accel vmx|svm: x86emu under the silicon models);
 *            `vmx/off`, `svm/off`: -accel vmx|svm,jit=off
 *   kvm      the host engine (qemu-lite on /dev/kvm)
 *   tcg      Debian's QEMU emulator (qemu-system-x86_64 -accel tcg), installed if missing and root
 *   v86      the v86 npm package (JavaScript with a wasm JIT) in Node, loading the same ELF
 *   bochs    Debian's Bochs 2.7 booting the same ELF through GRUB, installed if missing and root
 *
 * Instructions: the guests are deterministic, so every engine retires the same instructions for
 * the same image and command line; x86emu counts them exactly (one per instruction) and that
 * count is used for every engine. Boot and VMM start-up cancel out: each engine runs the guest
 * with N iterations and with 0, and MIPS = (instructions(N) - instructions(0)) / (t(N) - t(0)),
 * each time the best of --runs; N is scaled per engine so that the loop runs about a second.
 *
 *   node dist/bench.js [--runs 3] [--seconds 1] [--iterations 40] [--rounds 200]
 *                      [--engines x86emu,x86emu/off,vmx,vmx/off,svm,svm/off,kvm,tcg,v86,bochs]
 * --iterations / --rounds are the pilot counts; each engine's count is scaled to about --seconds.
 */
import { spawnSync } from 'node:child_process';
import { runOnBareCpu } from './bare/run.js';
import { engineAvailability, engineQuirks, hostKvmFlavor } from './engines.js';
import { imagePath, type Need } from './manifest.js';
import { ensureBochs, runOnBochs } from './peer-bochs.js';
import { runOnV86, v86Availability } from './peer-v86.js';
import { runGuestReport } from './runner.js';

const ENGINES = [
  'x86emu',
  'x86emu/off',
  'vmx',
  'vmx/off',
  'svm',
  'svm/off',
  'kvm',
  'tcg',
  'v86',
  'bochs',
] as const;
type Engine = (typeof ENGINES)[number];
/** The engine without the `/off` (block compiler off) suffix. */
type BaseEngine = Exclude<Engine, `${string}/off`>;
const baseOf = (e: Engine): BaseEngine => e.replace('/off', '') as BaseEngine;
const jitOf = (e: Engine): boolean => !e.endsWith('/off');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

interface Workload {
  readonly title: string;
  /** The image every engine runs (a 32-bit build, so x86emu can count its instructions). */
  readonly guest: string;
  /** What the engine needs for this image and command line. */
  readonly needs: readonly Need[];
  /** Command line for N iterations. */
  readonly append: (n: number) => string;
  readonly n: number;
  /** Printed under the table when the host engine ran the row. */
  readonly hostNote?: string;
  /** When the host engine cannot run `guest`: the 64-bit build of the same C workload. */
  readonly hostBuild?: string;
}

interface Timing {
  /** Iterations (rounds) of the measured run. */
  readonly n: number;
  /** Best wall time of the n-iteration run minus the best of the 0-iteration run, seconds. */
  readonly seconds: number;
  /** The checksum the guest printed for --iterations / --rounds (the count every engine runs). */
  readonly checksum?: string;
  readonly failure?: string;
}

/** Runs `guest` once on `engine`; wall ms (the whole run, start-up included) and its console. */
async function runOnce(
  engine: Engine,
  guest: string,
  append: string,
): Promise<{ ms: number; serial: string; ok: boolean; why?: string }> {
  const jit = jitOf(engine);
  if (baseOf(engine) === 'x86emu') {
    const r = await runOnBareCpu(guest, { append, timeoutMs: 300_000, jit });
    if (jit) lastJit = r.cpuStats;
    return { ms: r.wallMs, serial: r.serial, ok: r.ok, why: r.detail ?? r.ending };
  }
  if (engine === 'v86') return runOnV86(imagePath(guest), append, 300_000);
  if (engine === 'bochs') return runOnBochs(imagePath(guest), append, 300_000);
  const r =
    engine === 'tcg'
      ? await runGuestReport(guest, { vmm: 'qemu', accel: 'tcg', append, timeoutMs: 300_000 })
      : await runGuestReport(guest, { accel: baseOf(engine), append, timeoutMs: 300_000, jit });
  return { ms: r.wallMs, serial: r.serial, ok: r.ok, why: r.detail ?? r.ending };
}

/** x86emu's counters of the last run with its block compiler (the code-cache figures). */
let lastJit: Readonly<Record<string, number>> | undefined;

/** Best of `runs` wall times, with the console of the last run. */
async function best(
  engine: Engine,
  guest: string,
  append: string,
  runs: number,
): Promise<{ ms: number; serial: string } | { failure: string }> {
  let ms = Number.POSITIVE_INFINITY;
  let serial = '';
  for (let i = 0; i < runs; i++) {
    const r = await runOnce(engine, guest, append);
    if (!r.ok) return { failure: `${guest} ${append} did not end cleanly: ${r.why}` };
    ms = Math.min(ms, r.ms);
    serial = r.serial;
  }
  return { ms, serial };
}

/**
 * Times the workload on one engine. The iteration count is scaled per engine so that the loop
 * runs for about `targetS` seconds (a fast engine's start-up jitter would swamp a short run).
 */
async function time(
  engine: Engine,
  guest: string,
  w: Workload,
  runs: number,
  targetS: number,
): Promise<Timing> {
  const base = await best(engine, guest, w.append(0), runs);
  if ('failure' in base) return { n: 0, seconds: 0, failure: base.failure };
  // Pilot runs: grow the count until the loop's time stands well out of the start-up jitter,
  // then scale it to the target. The first pilot runs the count every engine runs, for the
  // checksum comparison.
  let n = w.n;
  let pilotS = 0;
  let checksum: string | undefined;
  for (;;) {
    const pilot = await best(engine, guest, w.append(n), runs);
    if ('failure' in pilot) return { n, seconds: 0, failure: pilot.failure };
    if (n === w.n) checksum = /checksum=(\S+)/.exec(pilot.serial)?.[1];
    pilotS = (pilot.ms - base.ms) / 1000;
    if (pilotS >= targetS / 3 || n * 4 > w.n * MAX_SCALE) break;
    n *= 4;
  }
  if (pilotS < targetS) n = Math.min(Math.ceil((n * targetS) / Math.max(pilotS, 0.001)), w.n * MAX_SCALE);
  const run = await best(engine, guest, w.append(n), runs);
  if ('failure' in run) return { n, seconds: 0, failure: run.failure };
  return { n, seconds: (run.ms - base.ms) / 1000, checksum };
}

/** Most the iteration count is scaled up from --iterations / --rounds. */
const MAX_SCALE = 1000;

/**
 * Instructions per iteration of a workload, counted exactly by x86emu over n iterations (the
 * difference between the n and 2n runs). The loop does the same work every iteration, which is
 * checked against the 0 and n runs; those differ only by a few dozen instructions of parsing
 * and printing numbers of other lengths.
 */
async function instructionsPerIteration(w: Workload): Promise<number> {
  const count = async (n: number) => {
    const r = await runOnBareCpu(w.guest, { append: w.append(n), timeoutMs: 300_000 });
    if (!r.ok) throw new Error(`x86emu could not run ${w.guest} ${w.append(n)}: ${r.detail ?? r.ending}`);
    return r.instructions;
  };
  const c0 = await count(0);
  const c1 = await count(w.n);
  const c2 = await count(2 * w.n);
  if (Math.abs(c2 - c1 - (c1 - c0)) > (c2 - c1) / 100)
    throw new Error(`${w.guest}: ${c0}, ${c1}, ${c2} instructions for 0, n, 2n iterations: not linear`);
  return Math.round((c2 - c1) / w.n);
}

/** Debian's QEMU: found, installed (as root), or why not. */
function ensureQemu(): { available: boolean; note: string } {
  const probe = () => spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  let v = probe();
  if (v.status === 0) return { available: true, note: v.stdout.split('\n')[0] };
  if (process.getuid?.() !== 0)
    return {
      available: false,
      note: 'qemu-system-x86_64 is missing and this is not root: apt-get install -y qemu-system-x86',
    };
  out('tcg: qemu-system-x86_64 is missing; running apt-get update && apt-get install -y qemu-system-x86');
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  const inst = spawnSync('apt-get', ['install', '-y', 'qemu-system-x86'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  v = probe();
  if (v.status === 0) return { available: true, note: `${v.stdout.split('\n')[0]} (installed now)` };
  return { available: false, note: `apt-get install -y qemu-system-x86 failed (status ${inst.status})` };
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
}

async function main(): Promise<void> {
  const runs = Number(arg('runs', '3'));
  const targetS = Number(arg('seconds', '1'));
  const iterations = Number(arg('iterations', '40'));
  const rounds = Number(arg('rounds', '200'));
  const wanted = arg('engines', ENGINES.join(',')).split(',');

  const available = new Map<Engine, string | undefined>(); // engine → undefined, or why not
  for (const e of ENGINES) {
    if (!wanted.includes(e)) {
      available.set(e, 'not in --engines');
      continue;
    }
    if (baseOf(e) === 'x86emu') available.set(e, undefined);
    else if (e === 'tcg') {
      const q = ensureQemu();
      out(`tcg: ${q.note}`);
      available.set(e, q.available ? undefined : q.note);
    } else if (e === 'v86' || e === 'bochs') {
      const p = e === 'v86' ? v86Availability() : ensureBochs(out);
      out(`${e}: ${p.note}`);
      available.set(e, p.available ? undefined : p.note);
    } else {
      const a = await engineAvailability(baseOf(e) as 'kvm' | 'vmx' | 'svm');
      available.set(e, a.available ? undefined : a.reason);
    }
  }
  for (const [e, why] of available) if (why) out(`(${e}: skipped, ${why})`);

  const workloads: Workload[] = [
    {
      title: `bench-int32 paging=0 (integer loop, paging off: the build every engine here runs), iterations=${iterations}`,
      guest: 'bench-int32',
      needs: [],
      append: (n) => `iterations=${n} paging=0`,
      n: iterations,
      hostNote:
        'on kvm-pvm the host engine runs unpaged 32-bit code in its instruction emulator (see README, quirks), so ' +
        "its figure is KVM's emulator, not the hardware",
    },
    {
      title: `bench-int32 (the same loop under 32-bit 2-level paging), iterations=${iterations}`,
      guest: 'bench-int32',
      needs: ['legacy-paging'],
      append: (n) => `iterations=${n}`,
      n: iterations,
      hostBuild: 'bench-int',
      hostNote: 'on kvm-pvm the host engine emulates CPL-0 long-mode code too (see README, quirks)',
    },
    {
      title: `bench-ctxsw32 (16 address spaces, CR3 switches and pte rewrites, 2-level paging), rounds=${rounds}`,
      guest: 'bench-ctxsw32',
      needs: ['legacy-paging'],
      append: (n) => `rounds=${n}`,
      n: rounds,
      hostBuild: 'bench-ctxsw',
    },
  ];

  const widths = [10, 14, 10, 13, 8, 8, 10];
  for (const w of workloads) {
    out();
    out(w.title);
    const perIteration = await instructionsPerIteration(w);
    out(pad(['engine', 'guest', 'iterations', 'instructions', 'seconds', 'MIPS', 'vs kvm'], widths));
    const rows: { engine: Engine; guest: string; t: Timing; exact: boolean }[] = [];
    const notes: string[] = [];
    for (const e of ENGINES) {
      if (available.get(e)) continue;
      let guest = w.guest;
      let exact = true;
      const be = baseOf(e);
      if (be === 'kvm' || be === 'vmx' || be === 'svm') {
        const unmet = w.needs.find((n) => engineQuirks(be).unsupported[n]);
        if (unmet && e === 'kvm' && w.hostBuild) {
          notes.push(
            `kvm runs ${w.hostBuild}, the 64-bit build of the same C workload: ${hostKvmFlavor()} cannot run ` +
              `${w.guest} (${engineQuirks(e).unsupported[unmet]}). x86emu cannot count a long-mode build, so ` +
              'that row has no instruction count, and "vs kvm" compares iterations per second (the same work).',
          );
          guest = w.hostBuild;
          exact = false;
        } else if (unmet) {
          notes.push(`${e}: skipped, ${engineQuirks(be).unsupported[unmet]}`);
          continue;
        }
      }
      rows.push({ engine: e, guest, t: await time(e, guest, w, runs, targetS), exact });
      if (e === 'x86emu' && lastJit?.jitBlocks !== undefined) {
        // The block compiler's own figures for x86emu's last run (compile time is in its seconds).
        const j = lastJit;
        notes.push(
          `x86emu's block compiler, last run: ${j.jitBlocks} blocks compiled in ${(j.jitCompileMs ?? 0).toFixed(1)} ms ` +
            `(counted in its time), ${((j.jitSourceBytes ?? 0) / 1024).toFixed(1)} KiB of generated source in the code cache, ` +
            `${j.jitFlushes ?? 0} cache flushes, ${(j.jitInstructions ?? 0).toLocaleString('en')} instructions run compiled`,
        );
      }
    }
    // Iterations per second: MIPS / perIteration for the exact rows, and the only measure the
    // 64-bit host row has; the ratio of rates is the ratio of MIPS where both are counted.
    const rate = (t: Timing) => t.n / t.seconds;
    const host = rows.find((r) => r.engine === 'kvm' && !r.t.failure);
    for (const r of rows) {
      if (r.t.failure) {
        out(`${pad([r.engine, r.guest, '-', '-', '-', '-', '-'], widths)}  FAILED: ${r.t.failure}`);
        continue;
      }
      const insns = perIteration * r.t.n;
      out(
        pad(
          [
            r.engine,
            r.guest,
            String(r.t.n),
            r.exact ? String(insns) : '-',
            r.t.seconds.toFixed(3),
            r.exact ? (insns / r.t.seconds / 1e6).toFixed(1) : '-',
            host ? `${(rate(r.t) / rate(host.t)).toFixed(3)}x` : '-',
          ],
          widths,
        ),
      );
    }
    if (w.hostNote && hostKvmFlavor() === 'kvm-pvm' && rows.some((r) => r.engine === 'kvm'))
      notes.push(w.hostNote);
    for (const n of notes) out(`  note: ${n}`);
    const sums = new Set(rows.filter((r) => !r.t.failure).map((r) => r.t.checksum));
    out(
      sums.size === 1
        ? `  checksum ${[...sums][0]} for ${w.append(w.n)} on every engine; ${perIteration} instructions per iteration`
        : `  CHECKSUMS DIFFER for ${w.append(w.n)}: ${rows.map((r) => `${r.engine}=${r.t.checksum}`).join(' ')}`,
    );
  }
  out();
  out(
    'iterations: scaled per engine to run about --seconds; instructions: per iteration as counted by x86emu ' +
      `for that image, times iterations; seconds: best of ${runs} wall times minus the best of ${runs} runs with 0 ` +
      'iterations (start-up cancels); vs kvm: iterations per second relative to the host engine (= MIPS ratio).',
  );
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(2);
});
