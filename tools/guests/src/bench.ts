#!/usr/bin/env node
/**
 * `pnpm bench`: guest instructions per second of the benchmark guests on every engine here, in
 * one run, as ratios to the host engine:
 *   x86emu   x86emu alone (`runOnBareCpu`: a bare Cpu with qemu-lite's devices), its block
 *            compiler on (the default); `x86emu/off`: its interpreter only (`jit: false`)
 *   x86emu-wasm  the same with the block compiler's WebAssembly backend (`jit: { backend:
 *            'wasm' }`, guest RAM a `WasmGuestMemory`)
 *   vmx, svm the software engine (qemu-lite -accel vmx|svm: x86emu under the silicon models,
 *            its compiler's default code generator, wasm); `vmx/off`, `svm/off`: -accel
 *            vmx|svm,jit=off; `svm` rows run the shadow MMU (npt=off); `svm-npt`: -accel
 *            svm,npt=on (nested paging, qemu-lite's default); `vmx` rows run the shadow MMU
 *            (ept=off); `vmx-ept`: -accel vmx,ept=on (Intel EPT); `vmx-js`, `svm-js`: -accel
 *            vmx|svm,jit=js (the JavaScript backend; the shadow MMU as the `vmx` and `svm` rows)
 *   kvm      the host engine (qemu-lite on /dev/kvm)
 *   tcg      Debian's QEMU emulator (qemu-system-x86_64 -accel tcg), installed if missing and root
 *   v86      the v86 npm package (JavaScript with a wasm JIT) in Node, loading the same ELF
 *   bochs    Debian's Bochs 2.7 booting the same ELF through GRUB, installed if missing and root
 *
 * Instructions: the guests are deterministic, so every engine retires the same instructions for
 * the same image and command line; x86emu counts them exactly (one per instruction) and that
 * count is used for every engine. Every row is measured the same way, in steady state: each
 * engine runs the guest with N iterations and with N/2, alternated, and MIPS =
 * (instructions(N) - instructions(N/2)) / (t(N) - t(N/2)), each time the best of --runs. t is CPU
 * time (user + system, every thread) where the run is this process (the x86emu rows, qemu-lite's
 * worker) or a peer that reports its own (v86's child), else wall time (tcg, bochs): the `clock`
 * column says which; CPU time is what a loaded machine's scheduling disturbs least. Boot, VMM start-up and warm-up (V8 tiering up a fresh worker's or process's code, the
 * block compiler's own hot threshold) fall in both runs and cancel: the bare x86emu rows run in
 * this process's warm isolate, the vmx and svm rows each in a fresh qemu-lite worker, the peers
 * each in a fresh process, so t(N) - t(0) would compare a warm engine with cold ones. Start-up
 * (t(0)) and warm-up (t(N/2) - t(0) beyond the steady rate) are printed in their own columns.
 * The short run is half the long one so that the warm-up is over before it ends on every row (a
 * quarter left a fresh worker's warm-up in the vmx and svm rows: `shortRun`). N is scaled per
 * engine so that the measured half, N - N/2, runs about --seconds.
 *
 *   node dist/bench.js [--runs 3] [--seconds 1] [--iterations 40] [--rounds 200]
 *                      [--engines x86emu,x86emu-wasm,x86emu/off,vmx,vmx-js,vmx/off,vmx-ept,svm,svm-js,svm/off,svm-npt,kvm,tcg,v86,bochs]
 *                      [--workloads bench-int32,bench-ctxsw32,bench-sse32]
 * --iterations / --rounds are the pilot counts; each engine's count is scaled to about --seconds.
 */
import { spawnSync } from 'node:child_process';
import { runOnBareCpu } from './bare/run.js';
import {
  accelOf,
  calibrate,
  ENGINES,
  type Engine,
  isBare,
  lastJit,
  type RowPlan,
  type Timing,
  timeInRounds,
  type Workload,
} from './bench-timing.js';
import { engineAvailability, engineQuirks, hostKvmFlavor } from './engines.js';
import { ensureBochs } from './peer-bochs.js';
import { v86Availability } from './peer-v86.js';
import { type BenchMips, formatTargets, issue18Targets, type RowRate } from './targets.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

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
  // --workloads bench-sse32,…: only the workloads of those guests (default: all).
  const onlyGuests = arg('workloads', '')
    .split(',')
    .filter((g) => g !== '');

  const available = new Map<Engine, string | undefined>(); // engine → undefined, or why not
  for (const e of ENGINES) {
    if (!wanted.includes(e)) {
      available.set(e, 'not in --engines');
      continue;
    }
    if (isBare(e)) available.set(e, undefined);
    else if (e === 'tcg') {
      const q = ensureQemu();
      out(`tcg: ${q.note}`);
      available.set(e, q.available ? undefined : q.note);
    } else if (e === 'v86' || e === 'bochs') {
      const p = e === 'v86' ? v86Availability() : ensureBochs(out);
      out(`${e}: ${p.note}`);
      available.set(e, p.available ? undefined : p.note);
    } else {
      const a = await engineAvailability(accelOf(e));
      available.set(e, a.available ? undefined : a.reason);
    }
  }
  for (const [e, why] of available) if (why) out(`(${e}: skipped, ${why})`);

  const workloads: Workload[] = [
    {
      key: 'int32-unpaged',
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
      key: 'int32-paged',
      title: `bench-int32 (the same loop under 32-bit 2-level paging), iterations=${iterations}`,
      guest: 'bench-int32',
      needs: ['legacy-paging'],
      append: (n) => `iterations=${n}`,
      n: iterations,
      hostBuild: 'bench-int',
      hostNote: 'on kvm-pvm the host engine emulates CPL-0 long-mode code too (see README, quirks)',
    },
    {
      key: 'ctxsw32',
      title: `bench-ctxsw32 (16 address spaces, CR3 switches and pte rewrites, 2-level paging), rounds=${rounds}`,
      guest: 'bench-ctxsw32',
      needs: ['legacy-paging'],
      append: (n) => `rounds=${n}`,
      n: rounds,
      hostBuild: 'bench-ctxsw',
    },
    {
      key: 'sse32',
      title: `bench-sse32 (an SSE2 loop: packed single, double and integer arithmetic, a PCMPEQB/PMOVMSKB scan, conversions; paging off), iterations=${iterations}`,
      guest: 'bench-sse32',
      needs: ['unpaged-sse'],
      append: (n) => `iterations=${n}`,
      n: iterations,
    },
  ];

  const widths = [11, 13, 12, 13, 8, 8, 9, 7, 8, 7, 5];
  const mips = new Map<Workload['key'], Map<Engine, RowRate>>();
  for (const w of workloads) {
    if (onlyGuests.length > 0 && !onlyGuests.includes(w.guest)) continue;
    out();
    out(w.title);
    const perIteration = await instructionsPerIteration(w);
    out(
      pad(
        [
          'engine',
          'guest',
          'iterations',
          'instructions',
          'seconds',
          'MIPS',
          'vs kvm',
          'start',
          'warm-up',
          'jitter',
          'clock',
        ],
        widths,
      ),
    );
    out(
      `  (steady state, every row: MIPS = (insns(N) - insns(N/2)) / (t(N) - t(N/2)), best of ${runs} rounds over all rows, t: clock)`,
    );
    const plans: { plan: RowPlan; exact: boolean }[] = [];
    const notes: string[] = [];
    for (const e of ENGINES) {
      if (available.get(e)) continue;
      let guest = w.guest;
      let exact = true;
      const be = accelOf(e);
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
      plans.push({ plan: await calibrate(e, guest, w, runs, targetS), exact });
    }
    // Every row's long and short runs in rounds over all rows (bench-timing.ts timeInRounds).
    const timings = await timeInRounds(
      plans.map((p) => p.plan),
      runs,
      targetS,
    );
    const rows = plans.map((p, i) => ({
      engine: p.plan.engine,
      guest: p.plan.guest,
      t: timings[i],
      exact: p.exact,
    }));
    for (const { engine: e } of rows) {
      const j = lastJit.get(e);
      if (isBare(e) && j?.jitBlocks !== undefined) {
        // The block compiler's own figures for x86emu's last run (compile time is in its seconds).
        notes.push(
          `${e}'s block compiler, last run: ${j.jitBlocks} blocks compiled in ${(j.jitCompileMs ?? 0).toFixed(1)} ms ` +
            `(counted in its time), ${((j.jitSourceBytes ?? 0) / 1024).toFixed(1)} KiB of generated source in the code cache, ` +
            `${j.jitFlushes ?? 0} cache flushes, ${(j.jitInstructions ?? 0).toLocaleString('en')} instructions run compiled`,
        );
      }
    }
    // Iterations per second: MIPS / perIteration for the exact rows, and the only measure the
    // 64-bit host row has; the ratio of rates is the ratio of MIPS where both are counted.
    const rate = (t: Timing) => (t.n - t.n0) / t.seconds;
    const host = rows.find((r) => r.engine === 'kvm' && !r.t.failure);
    const workloadMips = new Map<Engine, RowRate>();
    mips.set(w.key, workloadMips);
    for (const r of rows) {
      if (r.t.failure) {
        out(
          `${pad([r.engine, r.guest, '-', '-', '-', '-', '-', '-', '-', '-', '-'], widths)}  FAILED: ${r.t.failure}`,
        );
        continue;
      }
      const iterations = r.t.n - r.t.n0;
      const insns = perIteration * iterations;
      if (r.exact)
        workloadMips.set(r.engine, { mips: insns / r.t.seconds / 1e6, noisy: r.t.seconds < 3 * r.t.jitterS });
      out(
        pad(
          [
            r.engine,
            r.guest,
            `${r.t.n}-${r.t.n0}`,
            r.exact ? String(insns) : '-',
            r.t.seconds.toFixed(3),
            r.exact ? (insns / r.t.seconds / 1e6).toFixed(1) : '-',
            host ? `${(rate(r.t) / rate(host.t)).toFixed(3)}x` : '-',
            r.t.startS.toFixed(3),
            r.t.warmupS.toFixed(3),
            r.t.jitterS.toFixed(3),
            r.t.clock,
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
  for (const l of formatTargets(issue18Targets(mips as BenchMips))) out(l);
  out();
  out(
    'iterations: N-N/2, N scaled per engine so that N - N/2 runs about --seconds; instructions: per iteration as counted by ' +
      `x86emu for that image, times N - N/2; seconds: best of ${runs} times of N iterations minus the best of ` +
      `${runs} of N/2, in rounds over all rows (start-up and warm-up cancel: steady state, the same for every row); vs kvm: ` +
      'iterations per second relative to the host engine (= MIPS ratio); start: best time with 0 iterations ' +
      "(x86emu rows: this process's warm isolate; vmx, svm: a fresh qemu-lite worker; peers: a fresh process); " +
      'warm-up: t(N/2) - t(0) beyond the steady rate (V8 tier-up, the block compiler reaching its threshold); ' +
      'jitter: worst minus best of the N/2 runs (a row whose seconds are not several times it is noise); ' +
      "clock: cpu = CPU seconds (user + system) of the run's process, this one's for x86emu and qemu-lite's " +
      "worker, the child's own for v86; wall = wall seconds (tcg, bochs).",
  );
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(2);
});
