/**
 * The block compiler's policy in the software engine (the vmx and svm silicon models' guest
 * CPU), apart from a bare `Cpu`'s. A guest kernel has a large code footprint that runs a few
 * thousand times and is then left, and a block pays for its compilation only after thousands of
 * runs (a few ns saved per instruction against a fraction of a millisecond to compile, plus V8's
 * own tiering of the new function), so the engine compiles later than a bare `Cpu`: at
 * `ENGINE_HOT` visits with the wasm backend, `ENGINE_HOT_JS` with the JS backend.
 */
import type { JitTuning } from '../api/cpu-options.js';

/**
 * Visits of an instruction boundary before the engine's guest CPU compiles a block there, with the
 * wasm backend (the engines' default). Loops (checksums, decompressors, memset-like code) reach it
 * in milliseconds; code run only a few hundred times during boot stays interpreted.
 *
 * Measured on a quiet machine (2026-12-06 15:10-15:25Z, load 1.1-2.2, nothing else running),
 * Debian's kernel on `-accel vmx` (EPT) from process start, wall time to the shell / to the
 * power-off, one boot each in five alternated rounds, medians: 20,000 14.2 / 20.8 s, **5,000 11.9
 * / 17.5 s**, 2,000 11.3 / 18.0 s, 1,000 13.9 / 22.4 s (three rounds); CPU to the power-off 25.4,
 * 23.2, 24.9, 30.5 s. Earlier figures (README, "When to compile on the engines") had 5,000 and 2,000
 * slower than 20,000 in CPU time, measured at load 6-10 while other sessions' boots and suites
 * shared the two cores: what a lower threshold adds is V8's tier-up of the new functions on its
 * background threads, which an idle second core absorbs and a loaded one does not. At load 2 (the
 * same day, 15:20-15:27Z) 5,000 kept its lead and 2,000 lost it (13.1-14.2 s to the shell against
 * 11.4-13.9), so 5,000. A larger code cache (`maxBlocks` 16,384 instead of 4,096, which 5,000 fills
 * once before the shell) was no faster (three rounds each at load 2). Again with compiles ~35 %
 * cheaper (e863416; README "Compiling cheaper"): medians to the shell 5,000 9.2-9.6 s, 2,000 9.3
 * (its 4,096 blocks flushed 3 times) or 9.6 with 16,384 blocks (`X86EMU_JIT_MAX_BLOCKS`), 1,000
 * 9.7: still no resolved difference, so 5,000.
 */
export const ENGINE_HOT = 5_000;
/**
 * The same with the JS backend (`-accel vmx,jit=js`), whose compiles cost 1-5 ms a block and its
 * functions' tiering more: Debian's kernel on `-accel svm` with a bare `Cpu`'s threshold (1000)
 * spent minutes in one initcall, `tracer_init_tracefs`' kworker creating the tracefs directory of
 * every trace event (about 2,000 events, each through the same dcache, inode and slab paths a few
 * times) while `init_kprobe_trace` waited on `event_mutex` for it: every block of those paths
 * reached 1000 visits, was compiled and then ran too few more times to pay for that, at 0.7 M guest
 * instructions per CPU second against the interpreter's ~15; the hung-task detector reported init
 * blocked for 10 minutes and more. Measured on the first 2×10^8 instructions on a bare `Cpu` (CPU
 * s): interpreter 13.0, threshold 1000 20.9, 20,000 14.3.
 */
export const ENGINE_HOT_JS = 20_000;
/**
 * What the engine's interpreter runs from a block start counts toward `ENGINE_HOT`
 * (`JitTuning.runUnit`): 0, visits alone, for both backends. Weighing the runs (a visit counts
 * its straight run's length over 8, the wasm backend's default on a bare `Cpu`, jit.ts
 * `RUN_UNIT`) did not make the engines' boot faster: Debian to the power-off on `-accel
 * vmx`/`svm` (EPT/NPT, wasm), 37.4 / 36.9 CPU s against 41.3 / 41.8 (medians of 3 alternated
 * pairs, load 4-13, the weighed run second as the load rose), 35.1 / 33.7 against 32.3 / 33.5 at
 * load 3 (3 pairs, the last reversed, which alone went against it); a unit of 32 slower, 5,000 or
 * 2,000 visits with it no better. Code the kernel runs a few thousand times is left at about
 * that, long or short (README, "When to compile").
 */
export const ENGINE_RUN_UNIT = 0;

/**
 * Visits after which the engine's guest CPU compiles a block at once when they all came within
 * `EARLY_WINDOW` (2,000,000) instructions of the first (`JitTuning.early`, wasm backend): a loop
 * is hot by its rate long before its 5,000th visit. A third of what the engine interpreted was
 * such loops' first thousands of iterations: Debian to the power-off on `-accel vmx` interprets
 * 50.5 M instructions instead of 72.2 M, and compiles 4,031 blocks instead of 4,491 (one boot
 * each; `-d exits`' `jit_instructions` and `jit_compiled`). Measured (session 20,
 * `tools/linux/boot-ab.mjs`, eight alternated pairs against the tree before it): to the shell
 * 6.75 → 6.65 s (lower in 7 of 8), the vCPU thread's CPU 6.35 → 6.25 s (7 of 8), the banner 0.70
 * → 0.65 s (8 of 8). 256 within 1,000,000 read about the same (six pairs, through
 * `X86EMU_JIT_EARLY`); 128 within 4,000,000 interpreted 39 M but compiled 5,379 blocks, and was
 * slower to the power-off in one boot (10.75 s against 10.3).
 */
export const ENGINE_EARLY = 512;

/**
 * The tuning the silicon models give their guest CPU's compiler for code generator `backend`
 * (as `JitTuning.backend`: when not given, `X86EMU_JIT_BACKEND`, else 'js'): `ENGINE_HOT` (wasm) or
 * `ENGINE_HOT_JS`, `ENGINE_RUN_UNIT`, and `ENGINE_EARLY` with the wasm backend, unless
 * `X86EMU_JIT_HOT`, `X86EMU_JIT_RUN_UNIT` or `X86EMU_JIT_EARLY` say otherwise (the tests make the
 * compiler eager with the first, which turns `early` off where it is not below it; benches try the
 * others); the code
 * cache's size (`JitTuning.maxBlocks`) is the `Jit`'s own unless `X86EMU_JIT_MAX_BLOCKS` is a
 * positive number (benches: a lower threshold fills the 4,096 blocks and flushes them, README
 * "Compiling cheaper").
 */
export function engineJitTuning(
  backend: 'js' | 'wasm' | undefined = undefined,
  env: string | undefined = envOf('X86EMU_JIT_HOT'),
  unitEnv = envOf('X86EMU_JIT_RUN_UNIT'),
  blocksEnv = envOf('X86EMU_JIT_MAX_BLOCKS'),
  earlyEnv = envOf('X86EMU_JIT_EARLY'),
): JitTuning {
  const wasm = (backend ?? envOf('X86EMU_JIT_BACKEND')) === 'wasm';
  const n = Number(env);
  const u = unitEnv === undefined || unitEnv === '' ? Number.NaN : Number(unitEnv);
  const blocks = Number(blocksEnv);
  const e = earlyEnv === undefined || earlyEnv === '' ? Number.NaN : Number(earlyEnv);
  return {
    backend: wasm ? 'wasm' : 'js',
    hot: n > 0 ? n : wasm ? ENGINE_HOT : ENGINE_HOT_JS,
    runUnit: u >= 0 ? u : ENGINE_RUN_UNIT,
    early: e >= 0 ? e : wasm ? ENGINE_EARLY : 0,
    ...(blocks > 0 ? { maxBlocks: blocks } : {}),
  };
}

function envOf(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}
