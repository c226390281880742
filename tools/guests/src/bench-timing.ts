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
 * Times the workload on one engine. The iteration count is scaled per engine so that the loop
 * runs for about `targetS` seconds (a fast engine's start-up jitter would swamp a short run).
 */
export async function time(
  engine: Engine,
  guest: string,
  w: Workload,
  runs: number,
  targetS: number,
): Promise<Timing> {
  const fail = (n: number, failure: string): Timing => ({
    n,
    n0: shortRun(n),
    seconds: 0,
    startS: 0,
    warmupS: 0,
    jitterS: 0,
    clock: 'wall',
    failure,
  });
  const base = await best(engine, guest, w.append(0), runs);
  if ('failure' in base) return fail(0, base.failure);
  // Pilot runs: grow the count by 4 until the loop's time past the previous pilot, t(n) - t(n/4),
  // stands well out of the start-up jitter (a fresh worker's warm-up would make t(n) - t(0) look
  // long and leave n too short), then scale it to the target. Each step's long run is the next
  // step's short run. The first pilot runs the count every engine runs, for the checksum. (The
  // pilots only size n; a warm-up still in their difference makes n come out short, which the
  // measurement below scales again.)
  let n = w.n;
  let pilotS = 0;
  let checksum: string | undefined;
  const first = await best(engine, guest, w.append(Math.floor(n / 4)), runs);
  if ('failure' in first) return fail(n, first.failure);
  let shortMs = first.ms;
  for (;;) {
    const pilot = await best(engine, guest, w.append(n), runs);
    if ('failure' in pilot) return fail(n, pilot.failure);
    if (n === w.n) checksum = /checksum=(\S+)/.exec(pilot.serial)?.[1];
    pilotS = (pilot.ms - shortMs) / 1000;
    if (pilotS >= targetS / 3 || n * 4 > w.n * MAX_SCALE) break;
    shortMs = pilot.ms;
    n *= 4;
  }
  // n - n/4 iterations took pilotS: scale n so that the measured half, n - n/2, takes about
  // targetS; then n and n/2 alternated, the best of each. A pilot can read long (a GC or the
  // host's scheduler in one of its runs, or the warm-up) and leave n far too short: when the
  // measured difference comes out under a third of the target, n is scaled again from it and the
  // measurement repeated (at most twice).
  const pilotIterations = n - Math.floor(n / 4);
  if (pilotS < targetS)
    n = Math.min(Math.ceil((2 * pilotIterations * targetS) / Math.max(pilotS, 0.001)), w.n * MAX_SCALE);
  let n0 = shortRun(n);
  let seconds = 0;
  let short = Number.POSITIVE_INFINITY;
  let shortWorst = 0;
  for (let attempt = 0; ; attempt++) {
    n0 = shortRun(n);
    let long = Number.POSITIVE_INFINITY;
    short = Number.POSITIVE_INFINITY;
    shortWorst = 0;
    for (let i = 0; i < runs; i++) {
      for (const [count, isLong] of [
        [n, true],
        [n0, false],
      ] as const) {
        const r = await best(engine, guest, w.append(count), 1);
        if ('failure' in r) return fail(n, r.failure);
        if (isLong) long = Math.min(long, r.ms);
        else {
          short = Math.min(short, r.ms);
          shortWorst = Math.max(shortWorst, r.ms);
        }
      }
    }
    seconds = (long - short) / 1000;
    if (seconds >= targetS / 3 || attempt === 2 || n >= w.n * MAX_SCALE) break;
    n = Math.min(Math.ceil((n * targetS) / Math.max(seconds, 0.001)), w.n * MAX_SCALE);
  }
  const steadyPerIteration = seconds / (n - n0);
  return {
    n,
    n0,
    seconds,
    startS: base.ms / 1000,
    warmupS: (short - base.ms) / 1000 - n0 * steadyPerIteration,
    jitterS: (shortWorst - short) / 1000,
    clock: base.clock,
    checksum,
  };
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
