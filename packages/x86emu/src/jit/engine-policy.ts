/**
 * The block compiler's policy in the software engine (the vmx and svm silicon models' guest
 * CPU), apart from a bare `Cpu`'s. A guest kernel has a large code footprint that runs a few
 * thousand times and is then left: Debian's kernel on `-accel svm` with the bare default (compile
 * at 1000 visits) spent minutes in one initcall, `tracer_init_tracefs`' kworker creating the
 * tracefs directory of every trace event (about 2,000 events, each through the same dcache, inode
 * and slab paths a few times) while `init_kprobe_trace` waited on `event_mutex` for it: every
 * block of those paths reached 1000 visits, was compiled (1-5 ms each, plus V8's own tiering of
 * each new function, a quarter of the CPU time there) and then ran too few more times to pay
 * for that, at 0.7 M guest instructions per CPU second against the interpreter's ~15. The
 * hung-task detector reported init blocked for 10 minutes and more; the boot went on once the
 * kworker was done. A block pays for its compilation only after some 10^4 runs (a few ns saved
 * per instruction against milliseconds to compile), so the engine compiles at `ENGINE_HOT`.
 */
import type { JitTuning } from '../api/cpu-options.js';

/**
 * Visits of an instruction boundary before the engine's guest CPU compiles a block there. Loops
 * (checksums, decompressors, memset-like code) reach it in milliseconds; code run only a few
 * thousand times during boot stays interpreted. Measured on Debian's kernel, first 2×10^8
 * instructions on a bare `Cpu` (`tools/linux/bare-boot.mjs --max-insns`, CPU seconds):
 * interpreter 13.0, threshold 1000 20.9, 20,000 14.3. With the wasm backend a compile costs the
 * engine what it costs a bare `Cpu` (0.39 against 0.40 ms of wall time a region, Debian to the
 * power-off, 2026-12-06), and still no lower threshold paid: the engine's whole boot to the shell /
 * to the power-off on `-accel vmx` (EPT), CPU s, medians of 3 alternated rounds at load 6-10, 17.7
 * / 25.4 at 20,000, 19.1 / 28.5 at 5,000, 20.5 / 30.4 at 2,000, 50,000 no better (19.5 / 28.9
 * against 19.1 / 28.4). A lower threshold's extra regions (8,285 at 5,000, 14,383 at 2,000,
 * against 2,965) run just enough for V8 to tier them up to TurboFan on its background threads
 * (7.6 CPU s there at 2,000, 3.6 with `--liftoff-only`, 4.2 at 20,000) and fill the cache
 * (`MAX_BLOCKS`: two and three flushes); a 4× or 20× `--wasm-tiering-budget` brought 5,000 level
 * with 20,000, not past it. README, "When to compile on the engines".
 */
export const ENGINE_HOT = 20_000;
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
 * The tuning the silicon models give their guest CPU's compiler: `ENGINE_HOT` and
 * `ENGINE_RUN_UNIT`, unless `X86EMU_JIT_HOT` or `X86EMU_JIT_RUN_UNIT` say otherwise (the tests
 * make the compiler eager with the first; benches try the second).
 */
export function engineJitTuning(
  env: string | undefined = envOf('X86EMU_JIT_HOT'),
  unitEnv = envOf('X86EMU_JIT_RUN_UNIT'),
): JitTuning {
  const n = Number(env);
  const u = unitEnv === undefined || unitEnv === '' ? Number.NaN : Number(unitEnv);
  return { hot: n > 0 ? n : ENGINE_HOT, runUnit: u >= 0 ? u : ENGINE_RUN_UNIT };
}

function envOf(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}
