/**
 * The bench's engines and how one row is timed (`time`): every row in steady state, the best of
 * the N-iteration runs minus the best of the N/2 runs, alternated (see bench.ts's header).
 */

import { runOnBareCpu } from './bare/run.js';
import type { Need } from './manifest.js';
import { imagePath } from './manifest.js';
import { runOnBochs } from './peer-bochs.js';
import { runOnV86 } from './peer-v86.js';
import { runGuestReport } from './runner.js';
import type { WorkloadKey } from './targets.js';

export const ENGINES = [
  'x86emu',
  'x86emu-wasm',
  'x86emu/off',
  'vmx',
  'vmx-js',
  'vmx/off',
  'svm',
  'svm-js',
  'svm/off',
  'svm-npt',
  'vmx-ept',
  'kvm',
  'tcg',
  'v86',
  'bochs',
] as const;
export type Engine = (typeof ENGINES)[number];
/** The engine without the `/off` (block compiler off) suffix. */
export type BaseEngine = Exclude<Engine, `${string}/off`>;
export const baseOf = (e: Engine): BaseEngine => e.replace('/off', '') as BaseEngine;
export const jitOf = (e: Engine): boolean => !e.endsWith('/off');
/**
 * qemu-lite's `-accel` of an engine row (`svm-npt` is `-accel svm,npt=on`, `vmx-ept` `-accel
 * vmx,ept=on`, `vmx-js` and `svm-js` are `-accel vmx|svm,jit=js`).
 */
export const accelOf = (e: Engine): string =>
  e === 'svm-npt' || e === 'svm-js' ? 'svm' : e === 'vmx-ept' || e === 'vmx-js' ? 'vmx' : baseOf(e);
/**
 * `ept=` of a row: `vmx-ept` Intel EPT, the other vmx rows the shadow MMU whatever qemu-lite's
 * default (`VMX_EPT_DEFAULT`), so that they compare with earlier runs.
 */
export const eptOf = (e: Engine): boolean | undefined =>
  e === 'vmx-ept' ? true : accelOf(e) === 'vmx' ? false : undefined;
/**
 * `npt=` of a row: `svm-npt` nested paging (qemu-lite's default for `-accel svm`), the other svm
 * rows the shadow MMU, so that they compare with vmx (shadow paging) and with earlier runs.
 */
export const nptOf = (e: Engine): boolean | undefined =>
  e === 'svm-npt' ? true : accelOf(e) === 'svm' ? false : undefined;
/**
 * The block compiler's code generator of a qemu-lite row: `jit=js` for the `-js` rows, else
 * undefined, qemu-lite's default (wasm since 2026-12-06: apps/qemu-lite `defaultJitBackend`).
 */
export const jitBackendOf = (e: Engine): 'js' | undefined => (e.endsWith('-js') ? 'js' : undefined);
/**
 * The bare row an engine row is judged against (issue 18: "within 10 % of the bare x86emu"):
 * the one compiling with the same code generator, so the ratio measures the engine, not the
 * backend: `x86emu` (JS) for the `-js` rows, `x86emu-wasm` for qemu-lite's default.
 */
export const bareOf = (e: Engine): 'x86emu' | 'x86emu-wasm' => (e.endsWith('-js') ? 'x86emu' : 'x86emu-wasm');
/** The rows run on a bare `Cpu` in this process (`runOnBareCpu`). */
export const isBare = (e: Engine): boolean => e.startsWith('x86emu');

export interface Workload {
  /** Which of issue 18's targets this workload's rows judge (`targets.ts`). */
  readonly key: WorkloadKey;
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

export interface Timing {
  /** Iterations (rounds) of the long run. */
  readonly n: number;
  /** Iterations of the short run (`shortRun(n)`, n/2). */
  readonly n0: number;
  /** Best time of the n-iteration run minus the best of the n0-iteration run, seconds (`clock`). */
  readonly seconds: number;
  /** Best time of the 0-iteration run (boot, VMM or process start, the guest's set-up), seconds. */
  readonly startS: number;
  /**
   * What the first n0 iterations cost beyond the steady rate, seconds: t(n0) - t(0) - n0 * rate
   * (V8 tiering up, the block compiler reaching its threshold and compiling).
   */
  readonly warmupS: number;
  /**
   * The spread (worst minus best) of the N/4 runs' times, seconds: a row whose `seconds` is
   * not several times this is noise (a fresh worker's start-up varies most under load).
   */
  readonly jitterS: number;
  /** CPU seconds of the run's process(es) where known, else wall seconds. */
  readonly clock: Clock;
  /** The checksum the guest printed for --iterations / --rounds (the count every engine runs). */
  readonly checksum?: string;
  readonly failure?: string;
}

/** CPU ms of this process (every thread: the qemu-lite worker's too) since `from`. */
const cpuMsSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

/**
 * Runs `guest` once on `engine`: ms of the whole run, start-up included, CPU time where the run is
 * this process (the x86emu rows, qemu-lite's worker) or a peer reporting its own (v86), else wall
 * time (`clock`); and its console.
 */
export async function runOnce(
  engine: Engine,
  guest: string,
  append: string,
): Promise<{ ms: number; clock: Clock; serial: string; ok: boolean; why?: string }> {
  const jit = jitOf(engine);
  const c0 = process.cpuUsage();
  if (isBare(engine)) {
    const backend = engine === 'x86emu-wasm' ? 'wasm' : 'js';
    const r = await runOnBareCpu(guest, { append, timeoutMs: 300_000, jit, backend });
    if (jit) lastJit.set(engine, r.cpuStats);
    return { ms: cpuMsSince(c0), clock: 'cpu', serial: r.serial, ok: r.ok, why: r.detail ?? r.ending };
  }
  if (engine === 'v86' || engine === 'bochs') {
    const r = await (engine === 'v86' ? runOnV86 : runOnBochs)(imagePath(guest), append, 300_000);
    return r.cpuMs !== undefined ? { ...r, ms: r.cpuMs, clock: 'cpu' } : { ...r, clock: 'wall' };
  }
  const r =
    engine === 'tcg'
      ? await runGuestReport(guest, { vmm: 'qemu', accel: 'tcg', append, timeoutMs: 300_000 })
      : await runGuestReport(guest, {
          accel: accelOf(engine),
          append,
          timeoutMs: 300_000,
          // The host engine runs the guest on the host's CPU: qemu-lite refuses jit= there.
          jit: engine === 'kvm' ? undefined : jit,
          ept: eptOf(engine),
          jitBackend: jitBackendOf(engine),
          npt: nptOf(engine),
        });
  // qemu-lite runs the VM in a worker of this process; QEMU is a child process (wall time).
  return engine === 'tcg'
    ? { ms: r.wallMs, clock: 'wall', serial: r.serial, ok: r.ok, why: r.detail ?? r.ending }
    : { ms: cpuMsSince(c0), clock: 'cpu', serial: r.serial, ok: r.ok, why: r.detail ?? r.ending };
}

/** What a row's seconds are: CPU seconds of the run's process(es), or wall seconds. */
export type Clock = 'cpu' | 'wall';

/** x86emu's counters of the last run with its block compiler (the code-cache figures). */
export const lastJit = new Map<Engine, Readonly<Record<string, number>>>();

/** Best of `runs` times (`runOnce`'s clock), with the console of the last run. */
export async function best(
  engine: Engine,
  guest: string,
  append: string,
  runs: number,
): Promise<{ ms: number; clock: Clock; serial: string } | { failure: string }> {
  let ms = Number.POSITIVE_INFINITY;
  let serial = '';
  let clock: Clock = 'wall';
  for (let i = 0; i < runs; i++) {
    const r = await runOnce(engine, guest, append);
    if (!r.ok) return { failure: `${guest} ${append} did not end cleanly: ${r.why}` };
    ms = Math.min(ms, r.ms);
    serial = r.serial;
    clock = r.clock;
  }
  return { ms, clock, serial };
}

/**
 * One row being measured: the engine, the iteration count its pilots chose, and the best and
 * worst times of its long (n) and short (n/2) runs so far. `calibrate` makes it; `measureRound`
 * adds one long and one short run; `timingOf` turns it into the row's figures.
 */
export interface RowPlan {
  readonly engine: Engine;
  readonly guest: string;
  readonly w: Workload;
  n: number;
  readonly startMs: number;
  readonly clock: Clock;
  readonly checksum?: string;
  long: number;
  short: number;
  shortWorst: number;
  failure?: string;
}

/**
 * Sizes the row: the start-up run (0 iterations), then pilot runs growing the count by 4 until
 * the loop's time past the previous pilot, t(n) - t(n/4), stands well out of the start-up jitter
 * (a fresh worker's warm-up would make t(n) - t(0) look long and leave n too short), then n scaled
 * so that the measured half, n - n/2, takes about `targetS`. Each step's long run is the next
 * step's short run. The first pilot runs the count every engine runs, for the checksum. (The
 * pilots only size n; a warm-up still in their difference makes n come out short, which
 * `timeInRounds` scales again.)
 */
export async function calibrate(
  engine: Engine,
  guest: string,
  w: Workload,
  runs: number,
  targetS: number,
): Promise<RowPlan> {
  const plan = (n: number, startMs: number, clock: Clock, checksum?: string, failure?: string): RowPlan => ({
    engine,
    guest,
    w,
    n,
    startMs,
    clock,
    checksum,
    long: Number.POSITIVE_INFINITY,
    short: Number.POSITIVE_INFINITY,
    shortWorst: 0,
    failure,
  });
  const base = await best(engine, guest, w.append(0), runs);
  if ('failure' in base) return plan(0, 0, 'wall', undefined, base.failure);
  let n = w.n;
  let pilotS = 0;
  let checksum: string | undefined;
  const first = await best(engine, guest, w.append(Math.floor(n / 4)), runs);
  if ('failure' in first) return plan(n, base.ms, base.clock, undefined, first.failure);
  let shortMs = first.ms;
  for (;;) {
    const pilot = await best(engine, guest, w.append(n), runs);
    if ('failure' in pilot) return plan(n, base.ms, base.clock, checksum, pilot.failure);
    if (n === w.n) checksum = /checksum=(\S+)/.exec(pilot.serial)?.[1];
    pilotS = (pilot.ms - shortMs) / 1000;
    if (pilotS >= targetS / 3 || n * 4 > w.n * MAX_SCALE) break;
    shortMs = pilot.ms;
    n *= 4;
  }
  const pilotIterations = n - Math.floor(n / 4);
  if (pilotS < targetS)
    n = Math.min(Math.ceil((2 * pilotIterations * targetS) / Math.max(pilotS, 0.001)), w.n * MAX_SCALE);
  return plan(n, base.ms, base.clock, checksum);
}

/** One long (n) and one short (n/2) run of the row, folded into its best and worst times. */
export async function measureRound(p: RowPlan): Promise<void> {
  if (p.failure !== undefined) return;
  for (const [count, isLong] of [
    [p.n, true],
    [shortRun(p.n), false],
  ] as const) {
    const r = await best(p.engine, p.guest, p.w.append(count), 1);
    if ('failure' in r) {
      p.failure = r.failure;
      return;
    }
    if (isLong) p.long = Math.min(p.long, r.ms);
    else {
      p.short = Math.min(p.short, r.ms);
      p.shortWorst = Math.max(p.shortWorst, r.ms);
    }
  }
}

/** The measured seconds of a row so far: best long run minus best short run. */
const secondsOf = (p: RowPlan): number => (p.long - p.short) / 1000;

/** The row's figures from its runs. */
export function timingOf(p: RowPlan): Timing {
  const n0 = shortRun(p.n);
  if (p.failure !== undefined)
    return { n: p.n, n0, seconds: 0, startS: 0, warmupS: 0, jitterS: 0, clock: 'wall', failure: p.failure };
  const seconds = secondsOf(p);
  const steadyPerIteration = seconds / (p.n - n0);
  return {
    n: p.n,
    n0,
    seconds,
    startS: p.startMs / 1000,
    warmupS: (p.short - p.startMs) / 1000 - n0 * steadyPerIteration,
    jitterS: (p.shortWorst - p.short) / 1000,
    clock: p.clock,
    checksum: p.checksum,
  };
}

/**
 * Measures the rows in rounds: each round runs every row's long and short run once, row after
 * row, and each row keeps its best of `runs`. Rows measured one after the other, minutes apart,
 * carried the machine's load drift into their ratios (an engine row measured while something
 * else ran read 10-20 % below the bare row it is judged against); in rounds every row samples
 * the same stretch of time. A row whose measured half comes out under a third of `targetS` (its
 * pilot read long: a GC, the scheduler, a warm-up in the pilot's difference) is scaled from it
 * and measured again in rounds of its own, at most twice. `round` runs one round of a row
 * (`measureRound`; the tests pass their own to check the schedule).
 */
export async function timeInRounds(
  plans: readonly RowPlan[],
  runs: number,
  targetS: number,
  round: (p: RowPlan) => Promise<void> = measureRound,
): Promise<Timing[]> {
  let todo = plans.filter((p) => p.failure === undefined);
  for (let attempt = 0; todo.length > 0; attempt++) {
    for (let i = 0; i < runs; i++) for (const p of todo) await round(p);
    if (attempt === 2) break;
    todo = todo.filter((p) => {
      if (p.failure !== undefined || secondsOf(p) >= targetS / 3 || p.n >= p.w.n * MAX_SCALE) return false;
      p.n = Math.min(Math.ceil((p.n * targetS) / Math.max(secondsOf(p), 0.001)), p.w.n * MAX_SCALE);
      p.long = Number.POSITIVE_INFINITY;
      p.short = Number.POSITIVE_INFINITY;
      p.shortWorst = 0;
      return true;
    });
  }
  return plans.map(timingOf);
}

/**
 * Times the workload on one engine alone (`calibrate`, then `timeInRounds` of that row): the
 * bench times all its rows of a workload together, in rounds.
 */
export async function time(
  engine: Engine,
  guest: string,
  w: Workload,
  runs: number,
  targetS: number,
): Promise<Timing> {
  const p = await calibrate(engine, guest, w, runs, targetS);
  return (await timeInRounds([p], runs, targetS))[0];
}

/**
 * The short run of the steady-state difference: half the long one, so that the warm-up (a fresh
 * qemu-lite worker's V8 tier-up of the interpreter, silicon and driver code, the block compiler
 * reaching its threshold, a counter leaving V8's small integers once past 2^30 instructions) is
 * over before it ends, for every row alike. A quarter did not: the bench's vmx row ran N ≈ 7,200
 * iterations of bench-int32, and its N/4 ≈ 1,800 fell inside the worker's warm-up (1,800 -> 3,600
 * took 0.324 CPU s, each 1,800 after 0.279), which the difference then counted against the
 * engine and not against the bare rows, warm in this process (tools/guests README).
 */
export const shortRun = (n: number): number => Math.floor(n / 2);

/**
 * Most the iteration count is scaled up from --iterations / --rounds (bench-int32's 40 to 160,000:
 * the wasm rows run about 15,000 a second, and N is twice the measured half).
 */
export const MAX_SCALE = 4000;
